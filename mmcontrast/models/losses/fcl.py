"""Feature contrastive learning (FCL): InfoNCE / NT-Xent and supervised contrast.

- InfoNCE in the SimCLR NT-Xent layout: Chen et al., "A Simple Framework for
  Contrastive Learning of Visual Representations", ICML 2020. It is the l2-normalised
  baseline that PCL argues against.
- SupCon: Khosla et al., "Supervised Contrastive Learning", NeurIPS 2020 (the
  "L_out" form: mean over positives outside the log).
"""
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor

from mmcontrast.registry import MODELS
from mmcontrast.utils.distributed import gather_no_grad, gather_with_grad, get_dist_info
from .utils import (
    BatchContrastLoss,
    check_per_row,
    check_positive,
    check_same_shape,
    check_tensor,
    distributed_mean,
    finite_zero,
    fp32_compute,
    masked_logsumexp,
    paired_nce,
)


@fp32_compute
def info_nce_loss(feat_a: Tensor,
                  feat_b: Tensor,
                  temperature: float = 0.1,
                  gather_distributed: bool = False) -> Tensor:
    """NT-Xent between two views of l2-normalised features (PCL layout, 1/temperature).

    Args:
        feat_a (Tensor): ``[N, D]`` features of view a.
        feat_b (Tensor): ``[N, D]`` features of view b.
        temperature (float): Softmax temperature. Defaults to 0.1.
        gather_distributed (bool): Use the rows of all ranks as negatives.
            Defaults to False.

    Returns:
        Tensor: Scalar loss; a graph-connected 0 for an empty batch and (exactly) for N = 1.
    """
    check_tensor('feat_a', feat_a, (2, ))
    check_tensor('feat_b', feat_b, (2, ))
    check_same_shape('feat_a', feat_a, 'feat_b', feat_b)
    check_positive('info_nce_loss', temperature=temperature)
    return paired_nce(
        F.normalize(feat_a, dim=1),
        F.normalize(feat_b, dim=1),
        1.0 / temperature,
        gather_distributed=gather_distributed)


@fp32_compute
def supcon_loss(features: Tensor,
                labels: Tensor,
                temperature: float = 0.1,
                gather_distributed: bool = False,
                weight: Optional[Tensor] = None) -> Tensor:
    """Supervised contrastive loss (Khosla et al.).

    Every view of every sample is an anchor; every other view of a same-label sample is
    a positive. ``loss_a = mean_{p in P(a)} -log(exp(s_ap) / sum_{j != a} exp(s_aj))`` on
    cosine similarities divided by ``temperature``, averaged over anchors with at least
    one positive. With ``weight``, anchor a of sample n contributes ``weight[n] * loss_a``
    to that average (FSCE's IoU re-weighting: the divisor stays the anchor count).

    Args:
        features (Tensor): ``[N, D]`` or ``[N, V, D]`` (V views, all sharing the label).
        labels (Tensor): ``[N]`` integer labels.
        temperature (float): Softmax temperature. Defaults to 0.1.
        gather_distributed (bool): Use the samples of all ranks as candidates.
            Defaults to False.
        weight (Tensor, optional): ``[N]`` per-sample anchor weights. Defaults to None.

    Returns:
        Tensor: Scalar loss; a graph-connected 0 when no anchor has a positive.
    """
    check_tensor('features', features, (2, 3))
    check_per_row('labels', labels, 'features', features)
    check_positive('supcon_loss', temperature=temperature)
    if weight is not None:
        check_per_row('weight', weight, 'features', features, floating=True)
    if features.dim() == 2:
        features = features.unsqueeze(1)
    num, num_views, _ = features.shape
    rank, world_size = get_dist_info() if gather_distributed else (0, 1)
    all_feats = gather_with_grad(features) if world_size > 1 else features
    all_labels = gather_no_grad(labels) if world_size > 1 else labels
    # View-major layout: row v * (W N) + n is view v of global sample n.
    contrast = F.normalize(all_feats, dim=2).transpose(0, 1).reshape(-1, features.shape[-1])
    _, class_id = torch.unique(all_labels.long(), return_inverse=True)
    class_id = class_id.repeat(num_views)
    num_ids = int(class_id.max()) + 1 if class_id.numel() else 0
    counts = torch.bincount(class_id, minlength=num_ids)
    zero = finite_zero(contrast)
    has_pos = counts[class_id] > 1
    total = int(has_pos.sum())
    if total == 0:
        return zero
    local = torch.arange(num, device=features.device) + rank * num
    self_index = (local[None, :] + torch.arange(num_views, device=features.device)[:, None] * world_size * num)
    self_index = self_index.flatten()
    keep = has_pos[self_index]
    self_index = self_index[keep]
    if self_index.numel() == 0:
        return zero
    anchors = contrast[self_index]
    scale = 1.0 / temperature
    # Sum over positives of s_ap = <a, sum of the class's rows - a>: no M x L mask needed.
    class_sums = contrast.new_zeros(num_ids, contrast.shape[1]).index_add_(0, class_id, contrast)
    anchor_class = class_id[self_index]
    pos_mean = scale * (anchors * (class_sums[anchor_class] - anchors)).sum(1) / (counts[anchor_class] - 1)
    losses = masked_logsumexp(anchors, contrast, self_index, scale) - pos_mean
    if weight is not None:
        losses = losses * weight.repeat(num_views)[keep]
    return distributed_mean(losses.sum(), total, world_size) + zero


@MODELS.register_module()
class InfoNCELoss(BatchContrastLoss):
    """InfoNCE / NT-Xent on l2-normalised features (see :func:`info_nce_loss`).

    Args:
        temperature (float): Softmax temperature. Defaults to 0.1.
        loss_weight (float): Multiplier of the loss. Defaults to 1.0.
        gather_distributed (bool): Gather negatives from all ranks. Defaults to False.
    """

    def forward(self, feat_a: Tensor, feat_b: Tensor) -> Tensor:
        """Return the weighted loss of ``[N, D]`` features of two views."""
        loss = info_nce_loss(
            feat_a, feat_b, temperature=self.temperature, gather_distributed=self.gather_distributed)
        return self.loss_weight * loss


@MODELS.register_module()
class SupConLoss(BatchContrastLoss):
    """Supervised contrastive loss (see :func:`supcon_loss`).

    Args:
        temperature (float): Softmax temperature. Defaults to 0.1.
        loss_weight (float): Multiplier of the loss. Defaults to 1.0.
        gather_distributed (bool): Gather candidates from all ranks. Defaults to False.
    """

    def forward(self, features: Tensor, labels: Tensor, weight: Optional[Tensor] = None) -> Tensor:
        """Return the weighted loss of ``[N, D]``/``[N, V, D]`` features, ``[N]`` labels and
        optional ``[N]`` per-sample anchor weights."""
        loss = supcon_loss(
            features, labels, temperature=self.temperature, gather_distributed=self.gather_distributed, weight=weight)
        return self.loss_weight * loss
