"""DimCL: dimensional contrastive learning as a regulariser.

Nguyen et al., "DimCL: Dimensional Contrastive Learning for Improving Self-Supervised
Learning", IEEE Access 2023 (arXiv:2309.11782). NT-Xent is applied along the feature
dimension instead of the batch: each dimension, seen as a vector over the batch, must
match the same dimension of the other view and differ from all other dimensions.
Frameworks combine it as ``(1 - lam) * L_ssl + lam * L_dimcl`` with ``lam = 0.1``.
"""
import torch
import torch.nn.functional as F
from torch import Tensor

from mmcontrast.registry import MODELS
from mmcontrast.utils.distributed import gather_with_grad, get_dist_info
from .utils import (
    BatchContrastLoss,
    check_same_shape,
    check_tensor,
    distributed_mean,
    finite_zero,
    fp32_compute,
    nce_per_anchor,
    standardise,
)


@fp32_compute
def dimcl_loss(z1: Tensor,
               z2: Tensor,
               temperature: float = 0.1,
               gather_distributed: bool = False,
               eps: float = 1e-5,
               norm_per_rank: bool = False) -> Tensor:
    """NT-Xent over the 2D dimension vectors of two views.

    Columns are standardised over the batch, transposed into D vectors of length N per
    view and l2-normalised; the positive of dimension d of one view is dimension d of
    the other view, self is excluded, all other 2D - 2 dimensions are negatives.

    With ``gather_distributed`` the batch of all ranks is gathered first (the dimension
    vectors span the global batch) and each rank takes an equal share of the 2D anchors,
    following the convention of :mod:`mmcontrast.utils.distributed`. By default the
    columns are then standardised over the global batch, which makes the loss equal to
    the single-process loss over the concatenated batch. ``norm_per_rank=True``
    standardises each rank's batch *before* gathering instead, as the authors'
    ``ours_loss_func_multigpu`` does (thanhkaist/DimCL ``solo/losses/oursloss.py``
    L102-108: a ``BatchNorm1d(affine=False)`` per GPU, then ``gather``).

    Args:
        z1 (Tensor): ``[N, D]`` embeddings of view 1.
        z2 (Tensor): ``[N, D]`` embeddings of view 2.
        temperature (float): Softmax temperature. Defaults to 0.1.
        gather_distributed (bool): Standardise and contrast over the global batch.
            Defaults to False.
        eps (float): Variance epsilon of the standardisation. Defaults to 1e-5.
        norm_per_rank (bool): Standardise per rank before gathering. Defaults to False.

    Returns:
        Tensor: Scalar loss; a graph-connected 0 with fewer than 2 samples (no batch
        statistics) and exactly 0 for D = 1.
    """
    check_tensor('z1', z1, (2, ))
    check_tensor('z2', z2, (2, ))
    check_same_shape('z1', z1, 'z2', z2)
    rank, world_size = get_dist_info() if gather_distributed else (0, 1)
    local_ok = z1.shape[0] >= 2
    if norm_per_rank and local_ok:
        z1, z2 = standardise(z1, eps), standardise(z2, eps)
    if world_size > 1:
        z1, z2 = gather_with_grad(z1), gather_with_grad(z2)
    zero = finite_zero(z1, z2)
    num, dims = z1.shape
    if num < 2 or dims == 0 or (norm_per_rank and not local_ok):
        return zero
    if not norm_per_rank:
        z1, z2 = standardise(z1, eps), standardise(z2, eps)
    d1 = F.normalize(z1.t(), dim=1)
    d2 = F.normalize(z2.t(), dim=1)
    contrast = torch.cat([d1, d2])
    local = torch.arange(dims, device=z1.device).tensor_split(world_size)[rank]
    self_index = torch.cat([local, local + dims])
    pos_index = torch.cat([local + dims, local])
    if self_index.numel() == 0:
        return zero
    losses = nce_per_anchor(contrast[self_index], contrast, self_index, pos_index, 1.0 / temperature)
    return distributed_mean(losses.sum(), 2 * dims, world_size) + zero


@MODELS.register_module()
class DimCLLoss(BatchContrastLoss):
    """Dimensional contrastive loss (see :func:`dimcl_loss`).

    Args:
        temperature (float): Softmax temperature. Defaults to 0.1.
        loss_weight (float): Multiplier of the loss (the ``lam`` of the paper lives in
            the framework). Defaults to 1.0.
        gather_distributed (bool): Use the batch of all ranks. Defaults to False.
        norm_per_rank (bool): With ``gather_distributed``, standardise each rank's
            batch before gathering (the authors' multi-GPU loss). Defaults to False.
    """

    def __init__(self,
                 temperature: float = 0.1,
                 loss_weight: float = 1.0,
                 gather_distributed: bool = False,
                 norm_per_rank: bool = False) -> None:
        super().__init__(temperature=temperature, loss_weight=loss_weight, gather_distributed=gather_distributed)
        self.norm_per_rank = norm_per_rank

    def forward(self, z1: Tensor, z2: Tensor) -> Tensor:
        """Return the weighted loss of ``[N, D]`` embeddings of two views."""
        loss = dimcl_loss(z1, z2, temperature=self.temperature, gather_distributed=self.gather_distributed,
                          norm_per_rank=self.norm_per_rank)
        return self.loss_weight * loss
