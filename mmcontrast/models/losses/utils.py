"""Shared pieces of the contrastive losses: input checks, fp32 computation, the
graph-connected zero and the (optionally chunked, optionally distributed) two-view
InfoNCE kernel used by PCL, InfoNCE, pixel PCL and DimCL."""
import functools
import math
import numbers
from contextlib import ExitStack
from typing import Callable, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor
from torch.autograd.function import once_differentiable

from mmcontrast.utils.distributed import gather_no_grad, gather_with_grad, get_dist_info


def _is_real(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def check_positive(owner: str, **values) -> None:
    """Raise ``ValueError`` unless every value is a finite real number > 0.

    For temperatures, scales and concentrations: 0 divides by zero or gives a NaN loss,
    a negative one turns the softmax upside down.

    Args:
        owner (str): Name of the loss, used in the message.
        **values: The hyper-parameters by name.
    """
    for name, value in values.items():
        if not (_is_real(value) and math.isfinite(value) and value > 0):
            raise ValueError(f'{owner}: {name} must be a finite number > 0, got {value!r}')


def check_non_negative(owner: str, integer: bool = False, **values) -> None:
    """Raise ``ValueError`` unless every value is a finite real number >= 0.

    For loss weights and term weights (0 switches a term off), and counts.

    Args:
        owner (str): Name of the loss, used in the message.
        integer (bool): Require integers (counts). Defaults to False.
        **values: The hyper-parameters by name.
    """
    for name, value in values.items():
        ok = isinstance(value, numbers.Integral) if integer else _is_real(value)
        if not (ok and not isinstance(value, bool) and math.isfinite(value) and value >= 0):
            kind = 'an int' if integer else 'a finite number'
            raise ValueError(f'{owner}: {name} must be {kind} >= 0, got {value!r}')


def check_tensor(name: str, x, ndims: Sequence[int], floating: bool = True) -> None:
    """Raise ``ValueError`` unless ``x`` is a tensor of one of ``ndims`` ranks.

    Args:
        name (str): Argument name used in the message.
        x: The value to check.
        ndims (Sequence[int]): Accepted numbers of dimensions.
        floating (bool): Require a floating dtype (else an integer/bool dtype).
            Defaults to True.
    """
    if not isinstance(x, Tensor):
        raise ValueError(f'{name} must be a torch.Tensor, got {type(x).__name__}')
    if x.dim() not in ndims:
        expected = ' or '.join(f'{n}-D' for n in ndims)
        raise ValueError(f'{name} must be {expected}, got shape {tuple(x.shape)}')
    if floating and not x.is_floating_point():
        raise ValueError(f'{name} must be a floating tensor, got {x.dtype} with shape {tuple(x.shape)}')
    if not floating and (x.is_floating_point() or x.is_complex()):
        raise ValueError(f'{name} must be an integer or bool tensor, got {x.dtype} '
                         f'with shape {tuple(x.shape)}')


def check_same_shape(name_a: str, a: Tensor, name_b: str, b: Tensor) -> None:
    """Raise ``ValueError`` naming both shapes unless ``a`` and ``b`` have the same shape."""
    if a.shape != b.shape:
        raise ValueError(f'{name_a} and {name_b} must have the same shape, got '
                         f'{tuple(a.shape)} and {tuple(b.shape)}')


def check_per_row(name: str, x, ref_name: str, ref: Tensor, floating: bool = False) -> None:
    """Raise ``ValueError`` unless ``x`` is a 1-D tensor with one entry per row of ``ref``.

    Args:
        name (str): Name of ``x`` in the message (labels, valid, weight).
        x: The per-row tensor to check.
        ref_name (str): Name of ``ref`` in the message.
        ref (Tensor): The tensor whose rows ``x`` describes.
        floating (bool): Require a floating (weights) rather than an integer/bool
            (labels, masks) dtype. Defaults to False.
    """
    check_tensor(name, x, (1, ), floating=floating)
    if x.shape[0] != ref.shape[0]:
        raise ValueError(f'{name} {tuple(x.shape)} must have one entry per row of {ref_name} {tuple(ref.shape)}')


def _upcast(x):
    if isinstance(x, Tensor) and x.dtype in (torch.float16, torch.bfloat16):
        return x.float()
    if isinstance(x, (list, tuple)):
        return type(x)(_upcast(v) for v in x)
    return x


def fp32_compute(fn: Callable) -> Callable:
    """Run ``fn`` with autocast disabled and fp16/bf16 tensor arguments cast to fp32.

    float64 inputs stay float64 (gradcheck); lists/tuples of tensors are cast too.
    """

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with ExitStack() as stack:
            stack.enter_context(torch.autocast('cpu', enabled=False))
            if torch.cuda.is_available():
                stack.enter_context(torch.autocast('cuda', enabled=False))
            args = tuple(_upcast(a) for a in args)
            kwargs = {k: _upcast(v) for k, v in kwargs.items()}
            return fn(*args, **kwargs)

    return wrapper


def finite_zero(*tensors: Tensor) -> Tensor:
    """A scalar 0 that depends on ``tensors`` (grad_fn set when they require grad).

    It is built from empty slices, so it stays 0 (never NaN) even if the inputs hold
    inf/NaN, while backward still reaches every input: DDP sees the parameters as used
    and collectives inside the graph (gather) run on every rank.
    """
    zero = tensors[0].new_zeros(())
    for t in tensors:
        zero = zero + t.reshape(-1)[:0].sum()
    return zero


def _mask_self(sim: Tensor, self_index: Tensor, start: int) -> Tensor:
    """Set each row's own column of the ``[M, block]`` block ``sim`` (columns ``start`` on),
    if it lies in the block, to the most negative finite value, in place."""
    # Rows whose self lies in another block rewrite one entry with its own value: no
    # data-dependent shapes, so no host-device sync. A finite fill instead of -inf keeps
    # logsumexp and its gradient NaN-free when a block holds only the anchor itself.
    local = self_index - start
    inside = (local >= 0) & (local < sim.shape[1])
    rows = torch.arange(sim.shape[0], device=sim.device)
    cols = local.clamp(0, sim.shape[1] - 1)
    sim[rows, cols] = torch.where(inside, sim.new_tensor(torch.finfo(sim.dtype).min), sim[rows, cols])
    return sim


class _SoftmaxLogSumExp(torch.autograd.Function):
    """Masked logsumexp over the whole ``[M, L]`` matrix, in one block (the naive form).

    Forward builds ``s = (scale * anchors) @ contrast.T`` once, masks each row's own column,
    and turns it in place into the row softmax ``P = exp(s - lse)``, which it keeps for the
    backward: ``grad_anchors = (scale * grad) * (P @ contrast)`` and
    ``grad_contrast = P.T @ ((scale * grad) * anchors)``, two products and no further pass
    over the matrix. Plain autograd of the same maths would keep the similarities and make
    some five more passes over them (scaling, the logsumexp's temporaries, its backward).
    """

    @staticmethod
    def forward(ctx, anchors: Tensor, contrast: Tensor, self_index: Tensor, scale: float) -> Tensor:
        prob = _mask_self(torch.mm(anchors * scale, contrast.t()), self_index, 0)
        row_max = prob.amax(dim=1, keepdim=True)
        total = prob.sub_(row_max).exp_().sum(dim=1, keepdim=True)
        lse = total.log().add_(row_max).squeeze(1)
        prob.div_(total)
        # The own column is a constant, not a similarity: no gradient through it (it is
        # already 0 unless the row has no other column). A negative index: no own column.
        rows, cols = torch.arange(prob.shape[0], device=prob.device), self_index.clamp(min=0)
        prob[rows, cols] = torch.where(self_index >= 0, 0.0, prob[rows, cols])
        ctx.save_for_backward(anchors, contrast, prob)
        ctx.scale = scale
        return lse

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_lse: Tensor):
        anchors, contrast, prob = ctx.saved_tensors
        need_anchors, need_contrast = ctx.needs_input_grad[:2]
        coef = (grad_lse * ctx.scale).unsqueeze(1)
        grad_anchors = (prob @ contrast).mul_(coef) if need_anchors else None
        grad_contrast = prob.t() @ (anchors * coef) if need_contrast else None
        return grad_anchors, grad_contrast, None, None


# Rows x columns of one tile of the chunked logsumexp on CPU: 2^20 float32 (4 MiB) stay in the
# cache between the product and the elementwise passes over them. On a GPU, whose memory
# bandwidth makes those passes cheap and whose kernel launches are not, a tile is all the rows
# of a column block (untested on a GPU so far).
_TILE_ELEMENTS = 2**20


def _row_tiles(self_index: Tensor, num_rows: int, chunk_size: int) -> List[Tuple[int, int, int, int]]:
    """``(start, end, lowest self column, highest self column)`` of every row tile."""
    rows = num_rows if self_index.device.type != 'cpu' else max(1, min(num_rows, _TILE_ELEMENTS // chunk_size))
    starts = list(range(0, num_rows, rows))
    if not starts:
        return []
    ranges = torch.stack([torch.stack([self_index[s:s + rows].min(), self_index[s:s + rows].max()]) for s in starts])
    return [(s, min(s + rows, num_rows), lo, hi) for s, (lo, hi) in zip(starts, ranges.tolist())]


def _tile(anchors: Tensor, block: Tensor, self_index: Tensor, start: int, low: int, high: int) -> Tensor:
    """``anchors @ block.T`` with each anchor's own column masked, when the block holds one."""
    sim = torch.mm(anchors, block.t())
    if low < start + block.shape[0] and high >= start:
        sim = _mask_self(sim, self_index, start)
    return sim


class _ChunkedLogSumExp(torch.autograd.Function):
    """Blockwise masked logsumexp with a blockwise backward (flash-attention style).

    Forward keeps only the inputs and the ``[M]`` result. Backward recomputes one tile at
    a time: ``d lse_i / d s_ij = exp(s_ij - lse_i)``, then ``grad_anchors += W @ block`` and
    ``grad_block += W^T @ anchors`` with ``W = scale * grad_i * exp(s - lse)``.

    Columns come in ``chunk_size`` blocks and rows in tiles of ``2^20 / chunk_size``, so a
    tile is 4 MiB in float32 whatever ``M``: the product and the elementwise passes over it
    run in the CPU's cache rather than in memory (with ``C`` = a few classes, as in pixel PCL,
    they are memory-bound otherwise), and the peak memory is one tile plus the ``[M, C]``
    operands, never ``M x L``. What cannot be folded into the products is all a tile sees:
    forward ``amax``, ``sub_``, ``exp_`` and a sum (``scale`` is folded into the anchors);
    backward one ``exp_`` (``- lse_i`` is an extra column of the product, and
    ``scale * grad_i`` scales the ``[M, C]`` operands instead of the tile). The own column
    is masked only in the tiles that hold it.
    """

    @staticmethod
    def forward(ctx, anchors: Tensor, contrast: Tensor, self_index: Tensor, scale: float,
                chunk_size: int) -> Tensor:
        scaled = anchors * scale
        tiles = _row_tiles(self_index, anchors.shape[0], chunk_size)
        lse = anchors.new_empty(anchors.shape[0])
        for row_start, row_end, low, high in tiles:
            rows = slice(row_start, row_end)
            parts = []
            for start in range(0, contrast.shape[0], chunk_size):
                sim = _tile(scaled[rows], contrast[start:start + chunk_size], self_index[rows], start, low, high)
                row_max = sim.amax(dim=1, keepdim=True)
                parts.append(sim.sub_(row_max).exp_().sum(dim=1).log_().add_(row_max.squeeze(1)))
            lse[rows] = torch.logsumexp(torch.stack(parts, dim=1), dim=1)
        ctx.save_for_backward(anchors, contrast, self_index, lse)
        ctx.scale, ctx.chunk_size = scale, chunk_size
        return lse

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_lse: Tensor):
        anchors, contrast, self_index, lse = ctx.saved_tensors
        need_anchors, need_contrast = ctx.needs_input_grad[:2]
        chunk_size = ctx.chunk_size
        grad_anchors = torch.zeros_like(anchors) if need_anchors else None
        grad_contrast = torch.zeros_like(contrast) if need_contrast else None
        coef = (grad_lse * ctx.scale).unsqueeze(1)
        # [scale * a_i, -lse_i] . [c_j, 1] = s_ij - lse_i: the shift comes out of the product.
        shifted = torch.cat([anchors * ctx.scale, -lse.unsqueeze(1)], dim=1)
        extended = torch.cat([contrast, contrast.new_ones(contrast.shape[0], 1)], dim=1)
        weighted_anchors = anchors * coef if need_contrast else None
        for row_start, row_end, low, high in _row_tiles(self_index, anchors.shape[0], chunk_size):
            rows = slice(row_start, row_end)
            for start in range(0, contrast.shape[0], chunk_size):
                cols = slice(start, start + chunk_size)
                prob = _tile(shifted[rows], extended[cols], self_index[rows], start, low, high).exp_()
                if need_anchors:
                    grad_anchors[rows].addmm_(prob, contrast[cols])
                if need_contrast:
                    grad_contrast[cols].addmm_(prob.t(), weighted_anchors[rows])
        if need_anchors:
            grad_anchors.mul_(coef)
        return grad_anchors, grad_contrast, None, None, None


def _logsumexp_form(num_columns: int, chunk_size: Optional[int]) -> Callable[[Tensor, Tensor, Tensor, float], Tensor]:
    """The masked-logsumexp kernel for ``num_columns`` candidates: one block when they fit in
    ``chunk_size`` (or it is None), else the chunked kernel; called as ``(anchors, contrast,
    self_index, scale)``."""
    if chunk_size is None or chunk_size >= num_columns:
        return _SoftmaxLogSumExp.apply
    return lambda anchors, contrast, self_index, scale: _ChunkedLogSumExp.apply(
        anchors, contrast, self_index, scale, chunk_size)


def masked_logsumexp(anchors: Tensor,
                     contrast: Tensor,
                     self_index: Tensor,
                     scale: float,
                     chunk_size: Optional[int] = None) -> Tensor:
    """``logsumexp_{j != self(i)} scale * <anchors_i, contrast_j>`` for every anchor i.

    With ``chunk_size`` smaller than ``len(contrast)`` the columns are processed in
    blocks whose results are merged by another logsumexp (exact), in forward and in a
    blockwise backward (:class:`_ChunkedLogSumExp`), so at most ``M x chunk_size``
    elements exist at a time (on CPU, tiles of 2^20). Otherwise the full ``M x L`` matrix
    is built once and kept as its row softmax for the backward (:class:`_SoftmaxLogSumExp`).

    Args:
        anchors (Tensor): ``[M, C]``.
        contrast (Tensor): ``[L, C]``.
        self_index (Tensor): ``[M]`` column of each anchor in ``contrast`` (excluded), or -1
            where the anchor has none.
        scale (float): Multiplier of the dot products.
        chunk_size (int, optional): Column block size; None for one block.

    Returns:
        Tensor: ``[M]``.
    """
    return _logsumexp_form(contrast.shape[0], chunk_size)(anchors, contrast, self_index, scale)


def nce_per_anchor(anchors: Tensor,
                   contrast: Tensor,
                   self_index: Tensor,
                   pos_index: Tensor,
                   scale: float,
                   chunk_size: Optional[int] = None) -> Tensor:
    """Cross-entropy of each anchor against ``contrast`` (self excluded), one positive each.

    ``loss_i = logsumexp_{j != self(i)} s_ij - s_{i,pos(i)}`` with ``s = scale * <a, c>``.

    Args:
        anchors (Tensor): ``[M, C]``.
        contrast (Tensor): ``[L, C]``.
        self_index (Tensor): ``[M]`` index of each anchor in ``contrast``.
        pos_index (Tensor): ``[M]`` index of each anchor's positive in ``contrast``.
        scale (float): Multiplier of the dot products (``1 / temperature``).
        chunk_size (int, optional): See :func:`masked_logsumexp`.

    Returns:
        Tensor: ``[M]`` per-anchor losses.
    """
    pos = (anchors * contrast[pos_index]).sum(dim=1) * scale
    return masked_logsumexp(anchors, contrast, self_index, scale, chunk_size) - pos


def distributed_mean(loss_sum: Tensor, total: int, world_size: int) -> Tensor:
    """Turn a local sum into the per-rank value of the gather convention.

    Returns ``loss_sum * world_size / total`` so that the mean over ranks equals the
    global mean (``loss_sum / total`` without distribution).
    """
    return loss_sum * (world_size / total)


def _paired_nce_by_view(z_a: Tensor, z_b: Tensor, scale: float, chunk_size: Optional[int]) -> Tensor:
    """Sum of :func:`paired_nce`'s 2N per-anchor losses, computed per pair of views.

    The ``[a; b] x [a; b]`` similarity is taken as four blocks whose logsumexps are merged
    (exact). With one view constant, autograd runs no backward for the block between its
    own rows, and the two mixed blocks each need one of their two products: about half
    of the backward's work. (The single block of :func:`paired_nce` needs both products
    over the whole matrix whenever any of its rows carries gradient.)
    """
    own = torch.arange(z_a.shape[0], device=z_a.device)
    none = torch.full_like(own, -1)
    # The form is chosen for the whole 2N x 2N problem, as paired_nce does: a block of N columns
    # would otherwise take the full-matrix form whenever N <= chunk_size < 2N, and keep N x N.
    lse = _logsumexp_form(2 * z_a.shape[0], chunk_size)
    lse_a = torch.logaddexp(lse(z_a, z_a, own, scale), lse(z_a, z_b, none, scale))
    lse_b = torch.logaddexp(lse(z_b, z_a, none, scale), lse(z_b, z_b, own, scale))
    pos = (z_a * z_b).sum(dim=1) * scale
    return (lse_a - pos).sum() + (lse_b - pos).sum()


def paired_nce(z_a: Tensor,
               z_b: Tensor,
               scale: float,
               valid: Optional[Tensor] = None,
               gather_distributed: bool = False,
               chunk_size: Optional[int] = None) -> Tensor:
    """Two-view InfoNCE kernel on already-embedded rows (PCL probabilities or unit features).

    ``Z = [z_a; z_b]`` (2N rows) is compared by ``scale * Z Z^T``; self-similarity is
    excluded and the positive of row i is row ``i + N`` (and vice versa). Samples with
    ``valid = False`` are dropped from both views, as anchors and as candidates. The
    result is the cross-entropy averaged over the remaining 2 * N_valid rows; a
    graph-connected 0 if there are none.

    With ``gather_distributed`` and an initialised process group, the rows of all ranks
    form the candidate set and each rank returns the distributed mean of its own anchors
    (see :mod:`mmcontrast.utils.distributed`).

    Args:
        z_a (Tensor): ``[N, C]`` view a.
        z_b (Tensor): ``[N, C]`` view b.
        scale (float): Multiplier of the dot products.
        valid (Tensor, optional): ``[N]`` bool. Defaults to all valid.
        gather_distributed (bool): Gather candidates from all ranks. Defaults to False.
        chunk_size (int, optional): Column chunk for the logsumexp. Defaults to None.

    Returns:
        Tensor: Scalar loss; a graph-connected 0 with fewer than two valid samples.
    """
    num = z_a.shape[0]
    if valid is None:
        valid = torch.ones(num, dtype=torch.bool, device=z_a.device)
    rank, world_size = get_dist_info() if gather_distributed else (0, 1)
    if world_size > 1:
        all_a, all_b = gather_with_grad(z_a), gather_with_grad(z_b)
        all_valid = gather_no_grad(valid)
    else:
        all_a, all_b, all_valid = z_a, z_b, valid
    contrast_valid = torch.cat([all_valid, all_valid])
    contrast = torch.cat([all_a, all_b])
    zero = finite_zero(contrast)
    total = int(contrast_valid.sum())
    if total <= 2:
        # No sample, or one: each view's only candidate is then its positive and the loss is
        # exactly log(1) = 0. Computed, it would be rounding noise (the positive's dot product
        # and the logsumexp go through different kernels).
        return zero
    if world_size == 1 and z_a.requires_grad != z_b.requires_grad:  # e.g. weak_grad=False
        return distributed_mean(_paired_nce_by_view(z_a[valid], z_b[valid], scale, chunk_size), total, 1) + zero
    # Global ids of the local samples in the [all_a; all_b] layout, then re-indexed into
    # the candidate set that keeps only valid rows.
    local = torch.arange(num, device=z_a.device)[valid] + rank * num
    offset = world_size * num
    new_id = torch.cumsum(contrast_valid.long(), 0) - 1
    self_index = new_id[torch.cat([local, local + offset])]
    pos_index = new_id[torch.cat([local + offset, local])]
    contrast = contrast[contrast_valid]
    if self_index.numel() == 0:
        return zero
    losses = nce_per_anchor(contrast[self_index], contrast, self_index, pos_index, scale, chunk_size)
    return distributed_mean(losses.sum(), total, world_size) + zero



def standardise(x: Tensor, eps: float = 1e-5) -> Tensor:
    """Standardise the columns of ``[N, D]`` over dim 0: BatchNorm without affine,
    train-mode (biased) statistics."""
    return F.batch_norm(x, None, None, training=True, eps=eps)


def moco_logits(q: Tensor, k: Tensor, queue: Tensor) -> Tensor:
    """``[q . k, q . queue^T]`` (``[N, 1 + K]``): column 0 is the positive key (MoCo layout)."""
    return torch.cat([(q * k).sum(dim=1, keepdim=True), q @ queue.t()], dim=1)


def check_queue(q: Tensor, k: Tensor, queue: Tensor) -> None:
    """Validate MoCo-style inputs ``q``/``k`` ``[N, D]`` and ``queue`` ``[K, D]``."""
    check_tensor('q', q, (2, ))
    check_tensor('k', k, (2, ))
    check_tensor('queue', queue, (2, ))
    check_same_shape('q', q, 'k', k)
    if queue.shape[1] != q.shape[1]:
        raise ValueError(f'queue {tuple(queue.shape)} must be [K, D] with the D of q {tuple(q.shape)}')


class BatchContrastLoss(nn.Module):
    """Base of the thin modules whose candidates are the batch (optionally of all ranks).

    Args:
        temperature (float): Softmax temperature. Defaults to 0.1.
        loss_weight (float): Multiplier of the loss. Defaults to 1.0.
        gather_distributed (bool): Gather candidates from all ranks. Defaults to False.
    """

    def __init__(self, temperature: float = 0.1, loss_weight: float = 1.0, gather_distributed: bool = False) -> None:
        super().__init__()
        check_positive(type(self).__name__, temperature=temperature)
        check_non_negative(type(self).__name__, loss_weight=loss_weight)
        self.temperature = temperature
        self.loss_weight = loss_weight
        self.gather_distributed = gather_distributed
