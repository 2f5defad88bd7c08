"""ASCL: Adaptive Soft Contrastive Learning.

Feng & Patras, "Adaptive Soft Contrastive Learning", ICPR 2022 (arXiv:2207.11163).
Instance discrimination becomes soft multi-instance discrimination: the key's
similarity distribution over the queue (sharpened by ``t2``) adds soft positives,
weighted by a confidence ``c = 1 - H(p) / log K``.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from mmcontrast.registry import MODELS
from .utils import (
    check_non_negative,
    check_positive,
    check_queue,
    check_same_shape,
    check_tensor,
    finite_zero,
    fp32_compute,
    moco_logits,
)

ASCL_MODES = ('ascl', 'ahcl', 'hard', 'moco')


def _check_mode(mode: str, num_neighbors: int) -> None:
    if mode not in ASCL_MODES:
        raise ValueError(f'mode must be one of {ASCL_MODES}, got {mode!r}')
    if num_neighbors < 1:
        raise ValueError(f'num_neighbors must be >= 1, got {num_neighbors}')


@torch.no_grad()
def neighbour_weights(sim: Tensor, num_neighbors: int = 1, mode: str = 'ascl') -> Tensor:
    """Soft-positive weights of the candidates of each row, before normalisation.

    ``p = softmax(sim)``, ``c = 1 - H(p) / log K``; ``'ascl'``: ``min(n * c * p, 1)``;
    ``'ahcl'``: one-hot of the top-n candidates times ``c``; ``'hard'``: one-hot top-n;
    ``'moco'``: zeros.

    Args:
        sim (Tensor): ``[N, K]`` candidate similarities already divided by ``t2``.
        num_neighbors (int): ``n``. Defaults to 1.
        mode (str): One of ``'ascl'``, ``'ahcl'``, ``'hard'``, ``'moco'``.

    Returns:
        Tensor: ``[N, K]`` weights in [0, 1].
    """
    if mode == 'moco' or sim.shape[1] == 0:
        return torch.zeros_like(sim)
    if mode in ('ahcl', 'hard'):
        top = sim.topk(min(num_neighbors, sim.shape[1]), dim=1).indices
        hard = torch.zeros_like(sim).scatter_(1, top, 1.0)
        if mode == 'hard':
            return hard
    prob = F.softmax(sim, dim=1)
    entropy = -(prob * F.log_softmax(sim, dim=1)).sum(dim=1, keepdim=True)
    # a single candidate has zero entropy: full confidence
    max_entropy = math.log(sim.shape[1]) if sim.shape[1] > 1 else 1.0
    conf = 1 - entropy / max_entropy
    if mode == 'ahcl':
        return hard * conf
    return (num_neighbors * conf * prob).clamp(max=1.0)


@fp32_compute
def ascl_loss(q: Tensor,
              k: Tensor,
              queue: Tensor,
              t1: float = 0.1,
              t2: float = 0.05,
              num_neighbors: int = 1,
              mode: str = 'ascl') -> Tensor:
    """ASCL in the MoCo form.

    Targets over ``[k, queue]``: 1 for the positive key and ``neighbour_weights`` of
    ``k . queue^T / t2`` for the queue (computed without gradient), normalised to sum 1.
    The loss is the soft cross-entropy with ``log_softmax([q . k, q . queue^T] / t1)``.
    ``q`` and ``k`` are l2-normalised inside, ``queue`` is used as given (normalised keys).

    Args:
        q (Tensor): ``[N, D]`` queries.
        k (Tensor): ``[N, D]`` keys.
        queue (Tensor): ``[K, D]`` queue of past keys.
        t1 (float): Temperature of the student logits. Defaults to 0.1.
        t2 (float): Temperature of the teacher distribution. Defaults to 0.05.
        num_neighbors (int): ``n``. Defaults to 1.
        mode (str): ``'ascl'``, ``'ahcl'``, ``'hard'`` or ``'moco'``. Defaults to 'ascl'.

    Returns:
        Tensor: Scalar loss; a graph-connected 0 for an empty batch.
    """
    check_queue(q, k, queue)
    _check_mode(mode, num_neighbors)
    if q.shape[0] == 0:
        return finite_zero(q, k)
    q, k = F.normalize(q, dim=1), F.normalize(k, dim=1)
    weights = neighbour_weights(k.detach() @ queue.detach().t() / t2, num_neighbors, mode)
    targets = torch.cat([torch.ones_like(weights[:, :1]), weights], dim=1)
    targets = targets / targets.sum(dim=1, keepdim=True)
    log_prob = F.log_softmax(moco_logits(q, k, queue) / t1, dim=1)
    return -(targets * log_prob).sum(dim=1).mean()


@fp32_compute
def ascl_byol_loss(pred: Tensor, target: Tensor, t2: float = 0.05, num_neighbors: int = 1,
                   mode: str = 'ascl') -> Tensor:
    """ASCL in the BYOL form.

    Soft labels come from the in-batch key-key similarities (self excluded, divided by
    ``t2``, no gradient) with the same confidence weighting; the self weight is 1 and
    rows are normalised to sum 1. ``loss_i = 2 - 2 * sum_j y_ij <p_i, k_j>`` with
    l2-normalised predictions ``p`` and stop-gradient targets ``k``; mean over i.
    ``mode='moco'`` gives the plain BYOL loss.

    Args:
        pred (Tensor): ``[N, D]`` online predictions.
        target (Tensor): ``[N, D]`` target projections (detached inside).
        t2 (float): Temperature of the soft labels. Defaults to 0.05.
        num_neighbors (int): ``n``. Defaults to 1.
        mode (str): As in :func:`ascl_loss`. Defaults to 'ascl'.

    Returns:
        Tensor: Scalar loss; a graph-connected 0 for an empty batch.
    """
    check_tensor('pred', pred, (2, ))
    check_tensor('target', target, (2, ))
    check_same_shape('pred', pred, 'target', target)
    _check_mode(mode, num_neighbors)
    num = pred.shape[0]
    if num == 0:
        return finite_zero(pred)
    p = F.normalize(pred, dim=1)
    k = F.normalize(target.detach(), dim=1)
    off_diag = ~torch.eye(num, dtype=torch.bool, device=pred.device)
    sim = (k @ k.t())[off_diag].view(num, num - 1)
    labels = torch.eye(num, dtype=p.dtype, device=p.device)
    labels[off_diag] = neighbour_weights(sim / t2, num_neighbors, mode).flatten()
    labels = labels / labels.sum(dim=1, keepdim=True)
    return (2 - 2 * (labels * (p @ k.t())).sum(dim=1)).mean()


@MODELS.register_module()
class ASCLLoss(nn.Module):
    """Adaptive soft contrastive loss (see :func:`ascl_loss`, :func:`ascl_byol_loss`).

    Args:
        t1 (float): Temperature of the student logits. Defaults to 0.1.
        t2 (float): Temperature of the soft labels. Defaults to 0.05.
        num_neighbors (int): Number of (soft) neighbours ``n``. Defaults to 1.
        mode (str): ``'ascl'``, ``'ahcl'``, ``'hard'`` or ``'moco'``. Defaults to 'ascl'.
        loss_weight (float): Multiplier of the loss. Defaults to 1.0.
    """

    def __init__(self,
                 t1: float = 0.1,
                 t2: float = 0.05,
                 num_neighbors: int = 1,
                 mode: str = 'ascl',
                 loss_weight: float = 1.0) -> None:
        super().__init__()
        _check_mode(mode, num_neighbors)
        check_positive('ASCLLoss', t1=t1, t2=t2)
        check_non_negative('ASCLLoss', loss_weight=loss_weight)
        self.t1 = t1
        self.t2 = t2
        self.num_neighbors = num_neighbors
        self.mode = mode
        self.loss_weight = loss_weight

    def forward(self, q: Tensor, k: Tensor, queue: Tensor) -> Tensor:
        """Return the weighted MoCo-form loss of ``[N, D]`` q/k and a ``[K, D]`` queue."""
        loss = ascl_loss(q, k, queue, t1=self.t1, t2=self.t2, num_neighbors=self.num_neighbors, mode=self.mode)
        return self.loss_weight * loss

    def byol(self, pred: Tensor, target: Tensor) -> Tensor:
        """Return the weighted BYOL-form loss of ``[N, D]`` predictions and targets."""
        loss = ascl_byol_loss(pred, target, t2=self.t2, num_neighbors=self.num_neighbors, mode=self.mode)
        return self.loss_weight * loss
