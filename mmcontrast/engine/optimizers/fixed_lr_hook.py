"""Keep chosen parameter groups at their initial learning rate (SimSiam's fixed predictor lr)."""
from typing import Iterator, Optional, Sequence

from mmengine.hooks import Hook
from mmengine.runner import Runner

from mmcontrast.registry import HOOKS


@HOOKS.register_module()
class FixedLRHook(Hook):
    """Hold every param group flagged ``fix_lr=True`` at its initial learning rate.

    SimSiam decays the learning rate of the encoder with a cosine but keeps that of
    the predictor fixed (facebookresearch/simsiam ``main_simsiam.py`` L193-195 build
    the ``fix_lr`` groups, L359-366 reset them to ``init_lr`` at every schedule step;
    mmpretrain's ``SimSiamHook``). Flag the groups with mmengine's optimizer
    constructor, which copies custom keys into the groups::

        optim_wrapper = dict(paramwise_cfg=dict(custom_keys={'head.predictor': dict(fix_lr=True)}))
        custom_hooks = [dict(type='FixedLRHook')]

    Before every training iteration (after any scheduler step), the flagged groups get
    back the learning rate they had when the schedulers were built (``initial_lr``,
    i.e. after ``auto_scale_lr``), so warm-up and decay never touch them.

    Args:
        lr (float, optional): Use this learning rate instead of the initial one.
            Defaults to None.
    """

    priority = 'HIGH'

    def __init__(self, lr: Optional[float] = None) -> None:
        if lr is not None and lr < 0:
            raise ValueError(f'lr must be >= 0, got {lr}')
        self.lr = lr

    @staticmethod
    def _groups(runner: Runner) -> Iterator[dict]:
        wrapper = runner.optim_wrapper
        wrappers = wrapper.values() if hasattr(wrapper, 'optim_wrappers') else [wrapper]
        for w in wrappers:
            yield from w.optimizer.param_groups

    def before_train(self, runner: Runner) -> None:
        flagged = 0
        for group in self._groups(runner):
            if group.get('fix_lr', False):
                group.setdefault('fixed_lr', self.lr if self.lr is not None else group.get('initial_lr', group['lr']))
                flagged += 1
        if not flagged:
            raise ValueError('FixedLRHook found no param group with fix_lr=True: set it through '
                             "optim_wrapper.paramwise_cfg.custom_keys, e.g. {'head.predictor': dict(fix_lr=True)}")

    def before_train_iter(self, runner: Runner, batch_idx: int, data_batch: Optional[Sequence[dict]] = None) -> None:
        for group in self._groups(runner):
            if group.get('fix_lr', False):
                group['lr'] = group['fixed_lr']
