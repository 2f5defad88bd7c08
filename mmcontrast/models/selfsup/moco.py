"""MoCo v2: He et al. 2020 / Chen et al. 2020, "Improved Baselines with Momentum Contrastive Learning"."""
import logging
import math
import warnings
from typing import Dict, List, Optional, Tuple

import torch
import torch.distributed as torch_dist
import torch.nn.functional as F
from mmengine.logging import print_log
from mmengine.structures import BaseDataElement
from torch import Tensor

from mmcontrast.registry import MODELS
from mmcontrast.utils.distributed import gather_no_grad, get_dist_info
from .base import BaseSelfSupervisor
from .ema import EncoderPair, MomentumEncoder, paper_momentum_to_mmengine
from .split_bn import split_bn_forward


@torch.no_grad()
def batch_shuffle_ddp(x: Tensor) -> Tuple[Tensor, Optional[Tensor]]:
    """Shuffle a batch across ranks (shuffling BN); returns it and the inverse order.

    Every rank must hold the same batch size. Without DDP the batch is returned
    unchanged with ``None``.
    """
    rank, world_size = get_dist_info()
    if world_size == 1:
        return x, None
    x_all = gather_no_grad(x)
    order = torch.randperm(x_all.shape[0], device=x.device)
    torch_dist.broadcast(order, src=0)
    return x_all[order.view(world_size, -1)[rank]], torch.argsort(order)


@torch.no_grad()
def batch_unshuffle_ddp(x: Tensor, inverse: Optional[Tensor]) -> Tensor:
    """Undo :func:`batch_shuffle_ddp` for this rank's part of the batch."""
    if inverse is None:
        return x
    rank, world_size = get_dist_info()
    return gather_no_grad(x)[inverse.view(world_size, -1)[rank]]


#: BN groups emulated on one process by default: ASCL's ``bn_splits=8``
#: (MrChenFeng/ASCL_ICPR2022 model.py L48), as in the MoCo CIFAR demo.
DEFAULT_BN_SPLITS = 8


@MODELS.register_module()
class MoCo(BaseSelfSupervisor):
    """MoCo v2: a query encoder, its momentum copy as key encoder, a queue of keys.

    ``loss = head(q, k, queue)`` with ``q`` the query projection (gradients) of
    view ``query_view`` and ``k`` the key projection (momentum encoder, no
    gradients) of view ``key_view``; the keys of all ranks then enter the queue.

    **Shuffling BN.** Under DDP, keys are computed on a batch shuffled across ranks,
    as in the official code (with ``shuffle_bn=False`` use SyncBN instead). On one
    process there are no ranks to shuffle across, and BN statistics of the whole
    batch would let the query find its key through them (the "BN leak"). There,
    by default (``bn_splits=None``), both encoders split BN into 8 groups as the
    ``SplitBatchNorm`` of the MoCo CIFAR demo and ASCL do (see
    :func:`~mmcontrast.models.selfsup.split_bn.split_bn_forward`): the key batch is
    shuffled and each group is normalised with its own statistics. ``bn_splits=N``
    sets the number of groups; ``bn_splits=1`` turns the split off and warns.

    **Momentum encoder.** :class:`~mmcontrast.models.selfsup.ema.MomentumEncoder`:
    its parameters follow the query encoder, its BN statistics are its own (MoCo's
    key encoder is a separate network whose BN layers run on the keys).

    **DimCL.** With ``dimcl``, the key view also goes through the online encoder and
    DimCL contrasts the dimensions of the two online projections (before l2
    normalisation, both with gradient), as the DimCL authors' MoCo v2+ does
    (``q1_ori, q2_ori``). The MoCo loss itself stays MoCo v2's asymmetric one.

    Args:
        backbone (dict): Backbone config.
        neck (dict): Projector config (MoCo v2: ``fc-ReLU-fc`` to ``feat_dim``).
        head (dict): Called as ``head(q, k, queue)``. Defaults to
            ``ContrastiveHead(temperature=0.2)``.
        queue_len (int): Number of negative keys. Defaults to 65536.
        feat_dim (int): Projection width. Defaults to 128.
        momentum (float): Key encoder momentum ``m`` as in the paper
            (``k <- m k + (1 - m) q``). Defaults to 0.999.
        shuffle_bn (bool): Shuffle the key batch (across ranks under DDP, across BN
            groups on one process). Defaults to True.
        bn_splits (int, optional): BN groups on a single process (ignored under DDP,
            where every rank is one group). Defaults to None: 8 when ``shuffle_bn``
            (``gcd(batch, 8)`` for a batch not divisible by 8, fewer for a batch below
            16 so that every group holds two samples), else 1.
        query_view (int): Index of the query view. Defaults to 0.
        key_view (int): Index of the key view. Defaults to 1.
        dimcl (dict, optional): DimCL on the online projections of both views; see
            ``BaseSelfSupervisor``.
        dimcl_weight (float): Defaults to 0.1.
        data_preprocessor (dict, optional): Defaults to ``SelfSupDataPreprocessor``.
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self,
                 backbone: dict,
                 neck: dict,
                 head: dict = dict(type='ContrastiveHead', temperature=0.2),
                 queue_len: int = 65536,
                 feat_dim: int = 128,
                 momentum: float = 0.999,
                 shuffle_bn: bool = True,
                 bn_splits: Optional[int] = None,
                 query_view: int = 0,
                 key_view: int = 1,
                 dimcl: Optional[dict] = None,
                 dimcl_weight: float = 0.1,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(backbone, neck, head, dimcl=dimcl, dimcl_weight=dimcl_weight,
                         data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        if queue_len <= 0 or feat_dim <= 0:
            raise ValueError(f'queue_len and feat_dim must be positive, got {queue_len}, {feat_dim}')
        if bn_splits is not None and bn_splits < 1:
            raise ValueError(f'bn_splits must be None or >= 1, got {bn_splits}')
        if query_view == key_view:
            raise ValueError('query_view and key_view must differ')
        self.momentum_encoder = MomentumEncoder(
            EncoderPair(self.backbone, self.neck), momentum=paper_momentum_to_mmengine(momentum))
        self.queue_len, self.feat_dim = queue_len, feat_dim
        self.shuffle_bn = shuffle_bn
        self.bn_splits = bn_splits
        self.query_view, self.key_view = query_view, key_view
        self.min_views = max(query_view, key_view) + 1
        self.register_buffer('queue', F.normalize(torch.randn(queue_len, feat_dim), dim=1))
        self.register_buffer('queue_ptr', torch.zeros(1, dtype=torch.long))
        self._warned_bn_leak = False

    @torch.no_grad()
    def enqueue(self, keys: Tensor) -> None:
        """Write the keys of all ranks into the circular queue (``[N, feat_dim]``)."""
        keys = gather_no_grad(keys.detach().to(self.queue.dtype))
        if keys.shape[1] != self.feat_dim:
            raise ValueError(f'keys have width {keys.shape[1]}, the queue {self.feat_dim} (feat_dim)')
        keys = keys[-self.queue_len:]
        ptr = int(self.queue_ptr)
        slots = (torch.arange(keys.shape[0], device=keys.device) + ptr) % self.queue_len
        self.queue[slots] = keys
        self.queue_ptr[0] = (ptr + keys.shape[0]) % self.queue_len

    def num_bn_splits(self, batch_size: int) -> int:
        """BN groups used for a batch of ``batch_size`` (1 under DDP)."""
        if get_dist_info()[1] > 1:
            return 1
        if self.bn_splits is not None:
            if self.bn_splits == 1 and self.shuffle_bn:
                self._warn_bn_leak('bn_splits=1 on a single process')
            return self.bn_splits
        if not self.shuffle_bn:
            return 1
        splits = math.gcd(batch_size, DEFAULT_BN_SPLITS)
        while splits > 1 and batch_size // splits < 2:  # BN needs two samples per group
            splits //= 2
        if splits == 1:
            self._warn_bn_leak(f'a batch of {batch_size} cannot be split into BN groups')
        elif splits != DEFAULT_BN_SPLITS:
            warnings.warn(f'{type(self).__name__}: a batch of {batch_size} splits BN into {splits} groups instead '
                          f'of {DEFAULT_BN_SPLITS} (groups must divide the batch and hold two samples)', UserWarning)
        return splits

    def _warn_bn_leak(self, reason: str) -> None:
        if self._warned_bn_leak:
            return
        self._warned_bn_leak = True
        msg = (f'{type(self).__name__}: {reason}: the key batch is normalised with the statistics of the '
               'whole batch, so shuffling BN does nothing and the BN statistics leak the positive key to the '
               'query (MoCo, Sec. 3.3). Train under DDP, or split BN on one process (bn_splits=None, i.e. 8 '
               'groups, as the MoCo CIFAR demo and ASCL do).')
        warnings.warn(msg, UserWarning)
        print_log(msg, logger='current', level=logging.WARNING)

    def _split_bn_forward(self, encoder: torch.nn.Module, img: Tensor) -> Tensor:
        """``encoder(img)`` with BN split into :meth:`num_bn_splits` groups."""
        return split_bn_forward(encoder, img, self.num_bn_splits(img.shape[0]))

    def online_forward(self, img: Tensor) -> Tensor:
        """Projections ``[B, feat_dim]`` of the online encoder, before l2 normalisation."""
        return self._split_bn_forward(EncoderPair(self.backbone, self.neck), img)

    @torch.no_grad()
    def momentum_forward(self, img: Tensor) -> Tensor:
        """Normalised key projections ``[B, feat_dim]`` of the momentum encoder."""
        if not self.shuffle_bn:
            return F.normalize(self._split_bn_forward(self.momentum_encoder, img), dim=1)
        if get_dist_info()[1] > 1:
            img, inverse = batch_shuffle_ddp(img)
            return batch_unshuffle_ddp(F.normalize(self.momentum_encoder(img), dim=1), inverse)
        order = torch.randperm(img.shape[0], device=img.device)
        k = F.normalize(self._split_bn_forward(self.momentum_encoder, img[order]), dim=1)
        return k[torch.argsort(order)]

    def query_and_key(self, inputs: List[Tensor]) -> Tuple[Tensor, Tensor, Tensor]:
        """Update the momentum encoder and return ``q``, ``k`` and the raw query projection.

        Returns:
            tuple[Tensor, Tensor, Tensor]: Normalised queries and keys ``[B, feat_dim]``
            and the query projection before normalisation (DimCL's input).
        """
        z = self.online_forward(inputs[self.query_view])
        with torch.no_grad():
            self.momentum_encoder.update_parameters(EncoderPair(self.backbone, self.neck))
            k = self.momentum_forward(inputs[self.key_view])
        return F.normalize(z, dim=1), k, z

    def dimcl_losses(self, method_loss: Tensor, inputs: List[Tensor], z_query: Tensor) -> Dict[str, Tensor]:
        """Mix in DimCL on the online projections of the query and the key view."""
        if self.dimcl is None:
            return dict(loss=method_loss)
        return self.mix_dimcl(method_loss, z_query, self.online_forward(inputs[self.key_view]))

    def loss(self, inputs: List[Tensor], data_samples: Optional[List[BaseDataElement]] = None) -> Dict[str, Tensor]:
        q, k, z = self.query_and_key(inputs)
        losses = self.dimcl_losses(self.head(q, k, self.queue.clone().detach()), inputs, z)
        self.enqueue(k)
        return losses
