"""Distributed helpers: collectives for contrastive losses, CPU (gloo) launches.

Collectives for contrastive losses that draw negatives from every rank.

Convention used by the losses (see ``docs/losses.md``): every rank contrasts its
*local* anchors against the *global* set of candidates gathered here, and returns
``sum(local anchor losses) * world_size / (global number of anchors)``. The mean of
the returned values over ranks is then exactly the single-process loss over the
concatenated batch, for any split of valid anchors. ``gather_with_grad`` sums the
gradients of all ranks onto each rank's own chunk in backward, so after DDP averages
parameter gradients over ranks they equal the single-process gradient too.
"""
import os
from typing import Tuple

import torch
import torch.distributed as torch_dist
from mmengine.config import Config
from mmengine.dist import get_dist_info
from torch import Tensor


class _GatherWithGrad(torch.autograd.Function):
    """``all_gather`` whose backward all-reduces the gradients and keeps the local chunk."""

    @staticmethod
    def forward(ctx, x: Tensor) -> Tuple[Tensor, ...]:
        rank, world_size = get_dist_info()
        ctx.rank = rank
        chunks = [torch.empty_like(x) for _ in range(world_size)]
        torch_dist.all_gather(chunks, x.contiguous())
        return tuple(chunks)

    @staticmethod
    def backward(ctx, *grads: Tensor) -> Tensor:
        # Rank r's chunk is used by the losses of every rank: sum their gradients.
        grad = torch.stack(grads).contiguous()
        torch_dist.all_reduce(grad)
        return grad[ctx.rank]


#: Longest shape :func:`check_same_shape_on_all_ranks` compares.
_MAX_DIMS = 8


def check_same_shape_on_all_ranks(x: Tensor, what: str = 'tensor') -> None:
    """Raise the same ``ValueError`` on every rank unless ``x`` has one shape on all of them.

    ``all_gather`` needs equal shapes; with different batch sizes it aborts one process
    in C++ and hands the others wrong data. The shapes are gathered first (one small
    collective), so every rank sees the mismatch and names it.

    Args:
        x (Tensor): The local tensor about to be gathered.
        what (str): What is gathered, for the message. Defaults to 'tensor'.
    """
    rank, world_size = get_dist_info()
    if world_size == 1:
        return
    if x.dim() > _MAX_DIMS:
        raise ValueError(f'gather across ranks supports up to {_MAX_DIMS} dims, got {tuple(x.shape)}')
    # [dims, size_0, ..., size_7] on every rank; -1 pads, so that the sizes are comparable
    local = torch.full((_MAX_DIMS + 1, ), -1, dtype=torch.long, device=x.device)
    local[0] = x.dim()
    local[1:x.dim() + 1] = torch.tensor(x.shape, dtype=torch.long, device=x.device)
    shapes = [torch.empty_like(local) for _ in range(world_size)]
    torch_dist.all_gather(shapes, local)
    shapes = [tuple(s[1:int(s[0]) + 1].tolist()) for s in shapes]
    if len(set(shapes)) > 1:
        listed = ', '.join(f'rank {r}: {shape}' for r, shape in enumerate(shapes))
        raise ValueError(f'cannot gather the {what} across ranks: the shapes differ ({listed}; this is rank '
                         f'{rank}). Every rank must contribute the same batch size: use drop_last=True (or '
                         f'an infinite sampler) in the dataloader, or do not gather.')


def gather_with_grad(x: Tensor) -> Tensor:
    """Concatenate ``x`` from all ranks along dim 0, differentiable for the local chunk.

    Every rank must pass a tensor of the same shape (checked first: a mismatch raises a
    ``ValueError`` on every rank, see :func:`check_same_shape_on_all_ranks`). The result on rank r is
    ``cat([x_0, ..., x_{W-1}])`` where ``x_r`` is the input itself (its autograd graph is
    kept). In backward, the gradients that all ranks computed for chunk r are summed and
    flow into ``x_r``. Without an initialised process group, or with world size 1, ``x``
    is returned unchanged.

    Args:
        x (Tensor): Local tensor ``[N, ...]``.

    Returns:
        Tensor: ``[world_size * N, ...]``.
    """
    _, world_size = get_dist_info()
    if world_size == 1:
        return x
    check_same_shape_on_all_ranks(x)
    return torch.cat(_GatherWithGrad.apply(x), dim=0)


@torch.no_grad()
def gather_no_grad(x: Tensor) -> Tensor:
    """Concatenate a non-differentiable tensor (labels, masks) from all ranks along dim 0.

    Boolean tensors are sent as uint8 (not every backend reduces bool) and returned as bool.

    Args:
        x (Tensor): Local tensor ``[N, ...]``, same shape on every rank (checked).

    Returns:
        Tensor: ``[world_size * N, ...]``; ``x`` itself when not distributed.
    """
    _, world_size = get_dist_info()
    if world_size == 1:
        return x
    check_same_shape_on_all_ranks(x)
    send = x.to(torch.uint8) if x.dtype == torch.bool else x.contiguous()
    chunks = [torch.empty_like(send) for _ in range(world_size)]
    torch_dist.all_gather(chunks, send)
    out = torch.cat(chunks, dim=0)
    return out.bool() if x.dtype == torch.bool else out


def setup_cpu_distributed(cfg: Config, launcher: str) -> bool:
    """Prepare a CPU-only distributed run that mmengine 0.10.7 cannot start alone.

    mmengine's ``init_dist`` calls ``torch.cuda.set_device`` and its DDP wrapper
    passes ``device_ids=[LOCAL_RANK]``; both fail without CUDA. On a machine without
    CUDA this initialises the gloo process group from the torchrun environment and
    makes the DDP wrapper CPU-friendly (``device_ids=None``). With CUDA it does nothing.

    Args:
        cfg (Config): The training config, modified in place.
        launcher (str): The ``--launcher`` value.

    Returns:
        bool: True if a CPU process group was set up here.
    """
    if launcher == 'none' or torch.cuda.is_available():
        return False
    if launcher != 'pytorch':
        raise RuntimeError(f'CPU-only distributed runs support --launcher pytorch (torchrun / '
                           f'tools/dist_train.sh), not {launcher!r}: it needs CUDA in mmengine.')
    if not torch_dist.is_initialized():
        missing = [k for k in ('RANK', 'WORLD_SIZE', 'MASTER_ADDR', 'MASTER_PORT') if k not in os.environ]
        if missing:
            raise RuntimeError(f'--launcher pytorch needs the torchrun environment; missing {missing}')
        torch_dist.init_process_group(backend='gloo')
    cfg.env_cfg = dict(cfg.get('env_cfg', {}))
    cfg.env_cfg.setdefault('dist_cfg', {})['backend'] = 'gloo'
    wrapper = dict(cfg.get('model_wrapper_cfg') or dict(type='MMDistributedDataParallel'))
    wrapper['device_ids'] = None
    wrapper.setdefault('find_unused_parameters', cfg.get('find_unused_parameters', False))
    cfg.model_wrapper_cfg = wrapper
    return True
