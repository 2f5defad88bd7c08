"""MoCo v2: He et al. 2020 / Chen et al. 2020, "Improved Baselines with Momentum Contrastive Learning"."""
from typing import Dict, List, Optional, Tuple

import torch
import torch.distributed as torch_dist
import torch.nn.functional as F
from mmengine.model import ExponentialMovingAverage
from mmengine.structures import BaseDataElement
from torch import Tensor

from mmcontrast.registry import MODELS
from mmcontrast.utils.distributed import gather_no_grad, get_dist_info
from .base import BaseSelfSupervisor
from .ema import EncoderPair, paper_momentum_to_mmengine


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


@MODELS.register_module()
class MoCo(BaseSelfSupervisor):
    """MoCo v2: a query encoder, its momentum copy as key encoder, a queue of keys.

    ``loss = head(q, k, queue)`` with ``q`` the query projection (gradients) of
    view ``query_view`` and ``k`` the key projection (momentum encoder, no
    gradients) of view ``key_view``; the keys of all ranks then enter the queue.
    Under DDP, keys are computed on a batch shuffled across ranks (shuffling BN), as
    in the official code; with ``shuffle_bn=False`` use SyncBN instead. On one
    process, ``bn_splits > 1`` emulates shuffling BN over that many devices (the
    SplitBatchNorm of the official MoCo CIFAR demo and of ASCL): the key batch is
    shuffled, and both encoders normalise each of ``bn_splits`` chunks with its own
    statistics. Without it, BN statistics of the whole batch let the model cheat.

    Args:
        backbone (dict): Backbone config.
        neck (dict): Projector config (MoCo v2: ``fc-ReLU-fc`` to ``feat_dim``).
        head (dict): Called as ``head(q, k, queue)``. Defaults to
            ``ContrastiveHead(temperature=0.2)``.
        queue_len (int): Number of negative keys. Defaults to 65536.
        feat_dim (int): Projection width. Defaults to 128.
        momentum (float): Key encoder momentum ``m`` as in the paper
            (``k <- m k + (1 - m) q``). Defaults to 0.999.
        shuffle_bn (bool): Shuffle the key batch across ranks under DDP.
            Defaults to True.
        bn_splits (int): BN groups emulated on a single process (ignored under
            DDP, where every rank is one group). Defaults to 1 (off).
        query_view (int): Index of the query view. Defaults to 0.
        key_view (int): Index of the key view. Defaults to 1.
        dimcl (dict, optional): DimCL on ``(q, k)``; see ``BaseSelfSupervisor``.
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
                 bn_splits: int = 1,
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
        if bn_splits < 1:
            raise ValueError(f'bn_splits must be >= 1, got {bn_splits}')
        if query_view == key_view:
            raise ValueError('query_view and key_view must differ')
        self.momentum_encoder = ExponentialMovingAverage(
            EncoderPair(self.backbone, self.neck), momentum=paper_momentum_to_mmengine(momentum))
        self.queue_len, self.feat_dim = queue_len, feat_dim
        self.shuffle_bn = shuffle_bn
        self.bn_splits = bn_splits
        self.query_view, self.key_view = query_view, key_view
        self.min_views = max(query_view, key_view) + 1
        self.register_buffer('queue', F.normalize(torch.randn(queue_len, feat_dim), dim=1))
        self.register_buffer('queue_ptr', torch.zeros(1, dtype=torch.long))

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

    def _split_bn_forward(self, encoder: torch.nn.Module, img: Tensor) -> Tensor:
        """``encoder(img)``, in ``bn_splits`` chunks on a single process."""
        if self.bn_splits == 1 or get_dist_info()[1] > 1:
            return encoder(img)
        if img.shape[0] % self.bn_splits:
            raise ValueError(f'batch size {img.shape[0]} is not divisible by bn_splits={self.bn_splits}')
        return torch.cat([encoder(chunk) for chunk in img.chunk(self.bn_splits)])

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

    def query_and_key(self, inputs: List[Tensor]) -> Tuple[Tensor, Tensor]:
        """Update the momentum encoder, then return normalised ``q`` and ``k``."""
        q = F.normalize(self._split_bn_forward(EncoderPair(self.backbone, self.neck), inputs[self.query_view]), dim=1)
        with torch.no_grad():
            self.momentum_encoder.update_parameters(EncoderPair(self.backbone, self.neck))
            k = self.momentum_forward(inputs[self.key_view])
        return q, k

    def loss(self, inputs: List[Tensor], data_samples: Optional[List[BaseDataElement]] = None) -> Dict[str, Tensor]:
        q, k = self.query_and_key(inputs)
        losses = self.mix_dimcl(self.head(q, k, self.queue.clone().detach()), [(q, k)])
        self.enqueue(k)
        return losses
