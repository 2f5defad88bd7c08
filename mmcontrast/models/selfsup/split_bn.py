"""Split batch normalisation: emulate the per-device BN of several GPUs on one process.

MoCo's shuffling BN needs the keys to be normalised with statistics of a different
group of samples than their queries. On one GPU, the official MoCo CIFAR demo and
ASCL (``MrChenFeng/ASCL_ICPR2022`` ``model.py`` L10-30, ``bn_splits=8`` at L48) swap
every BN for a ``SplitBatchNorm`` that normalises each of ``num_splits`` groups of
the batch with its own statistics in training, updates the running statistics once
per forward with the *mean* of the groups' statistics, and behaves as a plain BN in
eval mode. :func:`split_bn_forward` gives the same result without replacing any
module (so the state-dict keys stay those of mmdet/mmseg): the batch is run through
the module in ``num_splits`` chunks, and the running statistics of every BN that
took part are reset to one averaged update.
"""
from contextlib import contextmanager
from typing import Iterator, List

import torch
import torch.nn as nn
from torch import Tensor
from torch.nn.modules.batchnorm import _BatchNorm


class _RunningStatsAverager:
    """Turn the per-chunk running-statistics updates of a BN into one averaged update.

    Before each call of the BN the running statistics are put back to their value at
    the start of the split forward, after each call the updated values are summed.
    Since the update ``r <- (1 - mu) r + mu s`` is linear in the batch statistic
    ``s``, the mean of the per-chunk results is exactly one update with the mean of
    the chunks' statistics, as ``SplitBatchNorm`` does.
    """

    def __init__(self, bn: _BatchNorm) -> None:
        self.bn = bn
        self.start = (bn.running_mean.clone(), bn.running_var.clone(), bn.num_batches_tracked.clone())
        self.sum_mean = torch.zeros_like(bn.running_mean)
        self.sum_var = torch.zeros_like(bn.running_var)
        self.calls = 0
        self.handles = [bn.register_forward_pre_hook(self._restore), bn.register_forward_hook(self._accumulate)]

    def _restore(self, module: nn.Module, args) -> None:
        # .data: the running statistics are saved for BN's backward; writing through
        # .data keeps autograd's version check quiet, as SplitBatchNorm does.
        mean, var, count = self.start
        module.running_mean.data.copy_(mean)
        module.running_var.data.copy_(var)
        module.num_batches_tracked.data.copy_(count)

    def _accumulate(self, module: nn.Module, args, output) -> None:
        self.sum_mean += module.running_mean.detach()
        self.sum_var += module.running_var.detach()
        self.calls += 1

    def finish(self) -> None:
        for handle in self.handles:
            handle.remove()
        mean, var, count = self.start
        if self.calls == 0:  # the BN did not run: leave it untouched
            return
        self.bn.running_mean.data.copy_(self.sum_mean / self.calls)
        self.bn.running_var.data.copy_(self.sum_var / self.calls)
        self.bn.num_batches_tracked.data.copy_(count + 1)


@contextmanager
def averaged_running_stats(module: nn.Module) -> Iterator[None]:
    """Within the context, all BN calls of ``module`` count as one running-stats update."""
    averagers: List[_RunningStatsAverager] = [
        _RunningStatsAverager(m) for m in module.modules()
        if isinstance(m, _BatchNorm) and m.training and m.track_running_stats and m.running_mean is not None
    ]
    try:
        yield
    finally:
        for averager in averagers:
            averager.finish()


def split_bn_forward(module: nn.Module, x: Tensor, num_splits: int) -> Tensor:
    """``module(x)`` with the BN layers of ``module`` split into ``num_splits`` groups.

    Args:
        module (nn.Module): Encoder mapping ``[B, ...]`` to ``[B, ...]``, sample-wise
            except for its BN layers.
        x (Tensor): The batch; ``B`` must be divisible by ``num_splits``.
        num_splits (int): Number of BN groups; 1 is a plain forward.

    Returns:
        Tensor: The outputs, in the order of ``x``.
    """
    if num_splits < 1:
        raise ValueError(f'num_splits must be >= 1, got {num_splits}')
    if num_splits == 1:
        return module(x)
    if x.shape[0] % num_splits:
        raise ValueError(f'batch size {x.shape[0]} is not divisible by bn_splits={num_splits}')
    with averaged_running_stats(module):
        return torch.cat([module(chunk) for chunk in x.chunk(num_splits)])
