"""Backward schedules of a UDA step: one summed backward, or one backward per stage.

DAFormer (``mmseg/models/uda/dacs.py``) backpropagates the source loss (L239), the
feature distance (L252) and the mixed loss (L312) one after the other, so that each
graph is freed before the next forward runs; the peak memory holds one stage's graph
instead of all of them. mmengine's ``OptimWrapper.update_params`` does one backward of
the summed loss. The schedule is chosen by ``backward=dict(type=...)``:

- :class:`SequentialBackward` (default): a backward at the end of every stage.
- :class:`SummedBackward`: one backward of the summed losses (a named deviation; the
  gradients are the same, the memory is not).

A schedule only backpropagates inside :meth:`BackwardSchedule.bound`, i.e. when the
model's own ``train_step`` runs it. Under a wrapper that calls ``loss()`` itself (mmengine's
``MMDistributedDataParallel``) it falls back to the summed form with a warning; use
``model_wrapper_cfg=dict(type='mmcontrast.UDADistributedDataParallel')``, which
synchronises the gradients once per iteration after the last stage.
"""
import logging
from contextlib import contextmanager
from typing import Callable, Dict, Iterator, Optional

import torch
from mmengine.logging import print_log
from mmengine.optim import OptimWrapper
from torch import Tensor

from mmcontrast.registry import MODELS

LossDict = Dict[str, Tensor]
ParseLosses = Callable[[LossDict], tuple]


class BackwardSchedule:
    """Base of the backward schedules; holds the optimiser wrapper of the running step."""

    def __init__(self) -> None:
        self._optim_wrapper: Optional[OptimWrapper] = None

    @contextmanager
    def bound(self, optim_wrapper: OptimWrapper) -> Iterator[None]:
        """Let :meth:`stage` backpropagate through ``optim_wrapper`` inside the block."""
        self._optim_wrapper = optim_wrapper
        try:
            yield
        finally:
            self._optim_wrapper = None

    def stage(self, losses: LossDict, parse_losses: ParseLosses) -> LossDict:
        """End of a stage of the step: return its losses, backpropagated or not."""
        return losses

    def step(self, optim_wrapper: OptimWrapper, parsed_loss: Tensor,
             grad_sync: Optional[Callable[[], None]] = None) -> None:
        """Finish the iteration: remaining backward, gradient synchronisation, update."""
        if grad_sync is None:
            optim_wrapper.update_params(parsed_loss)
            return
        optim_wrapper.backward(parsed_loss)
        grad_sync()
        if optim_wrapper.should_update():
            optim_wrapper.step()
            optim_wrapper.zero_grad()


@MODELS.register_module()
class SummedBackward(BackwardSchedule):
    """One backward of the summed losses of all stages (every graph held at once)."""


@MODELS.register_module()
class SequentialBackward(BackwardSchedule):
    """A backward at the end of every stage, as DAFormer; the step then only updates."""

    def __init__(self) -> None:
        super().__init__()
        self._warned_unbound = False

    @contextmanager
    def bound(self, optim_wrapper: OptimWrapper) -> Iterator[None]:
        counts = getattr(optim_wrapper, '_accumulative_counts', 1)
        if counts != 1:
            raise ValueError(f'SequentialBackward updates every iteration; optim_wrapper accumulative_counts='
                             f'{counts} needs backward=dict(type="mmcontrast.SummedBackward")')
        with super().bound(optim_wrapper):
            yield

    def stage(self, losses: LossDict, parse_losses: ParseLosses) -> LossDict:
        if self._optim_wrapper is None:
            if not self._warned_unbound and torch.is_grad_enabled():
                print_log("SequentialBackward: loss() was called outside the model's train_step (e.g. by "
                          'MMDistributedDataParallel), so the losses are summed into one backward. Set '
                          'model_wrapper_cfg=dict(type="mmcontrast.UDADistributedDataParallel") for the '
                          'sequential form under DDP.', logger='current', level=logging.WARNING)
                self._warned_unbound = True
            return losses
        total, _ = parse_losses(losses)
        if total.requires_grad:
            scaler = getattr(self._optim_wrapper, 'loss_scaler', None)  # AmpOptimWrapper
            (scaler.scale(total) if scaler is not None else total).backward()
        return {name: value.detach() for name, value in losses.items()}

    def step(self, optim_wrapper: OptimWrapper, parsed_loss: Tensor,
             grad_sync: Optional[Callable[[], None]] = None) -> None:
        if parsed_loss.requires_grad:  # stages ran unbound: nothing was backpropagated yet
            super().step(optim_wrapper, parsed_loss, grad_sync)
            return
        if grad_sync is not None:
            grad_sync()
        optim_wrapper.step()
        optim_wrapper.zero_grad()
