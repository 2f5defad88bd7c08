"""Warm up the weight of a loss term by iteration."""
import math
from typing import Optional

from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from mmcontrast.registry import HOOKS


@HOOKS.register_module()
class LossWeightWarmupHook(Hook):
    """Ramp a loss weight from ``start_factor * w`` to ``w`` over ``warmup_iters``.

    Contrastive terms on random features are noisy; ramping their weight lets the
    task loss shape the features first. The hook sets the attribute named by
    ``param`` on the (unwrapped) model before every training iteration, so it
    works for any loss module with a ``loss_weight`` attribute and survives
    resume (the factor is a function of the iteration only). The target value
    ``w`` is read from the model when training starts (i.e. the config value).
    The current weight is logged as ``train/<name>``.

    Examples::

        # a term of ContrastiveInjector named 'supcon'
        custom_hooks = [dict(type='mmcontrast.LossWeightWarmupHook',
                             param='terms.supcon.loss.loss_weight', warmup_iters=500)]
        # the contrastive loss of ContrastiveRoIHead
        custom_hooks = [dict(type='mmcontrast.LossWeightWarmupHook',
                             param='roi_head.loss_contrast.loss_weight', warmup_iters=500,
                             mode='cosine')]

    Args:
        param (str): Dotted attribute path from the model to a float, e.g.
            ``'terms.supcon.loss.loss_weight'``.
        warmup_iters (int): Iterations of the ramp; from then on the weight is
            ``w``. Defaults to 1000.
        mode (str): ``'linear'`` or ``'cosine'`` (half-cosine from
            ``start_factor`` to 1). Defaults to ``'linear'``.
        start_factor (float): Factor of ``w`` at iteration 0. Defaults to 0.0.
        begin_iter (int): Iteration at which the ramp starts; before it the
            factor is ``start_factor``. Defaults to 0.
        name (str, optional): Name of the logged scalar. Defaults to ``param``
            with dots replaced by underscores.
    """

    priority = 'NORMAL'

    def __init__(self,
                 param: str,
                 warmup_iters: int = 1000,
                 mode: str = 'linear',
                 start_factor: float = 0.0,
                 begin_iter: int = 0,
                 name: Optional[str] = None) -> None:
        if mode not in ('linear', 'cosine'):
            raise ValueError(f"LossWeightWarmupHook: mode must be 'linear' or 'cosine', got {mode!r}")
        if warmup_iters < 0 or begin_iter < 0:
            raise ValueError(f'LossWeightWarmupHook: warmup_iters ({warmup_iters}) and begin_iter ({begin_iter}) '
                             'must be >= 0')
        if not 0.0 <= start_factor <= 1.0:
            raise ValueError(f'LossWeightWarmupHook: start_factor must be in [0, 1], got {start_factor}')
        self.param = param
        self.warmup_iters = warmup_iters
        self.mode = mode
        self.start_factor = start_factor
        self.begin_iter = begin_iter
        self.name = name or param.replace('.', '_')
        self._owner = None
        self._attr = None
        self._target = None

    def factor(self, cur_iter: int) -> float:
        """Multiplier of the target weight at iteration ``cur_iter`` (0-based)."""
        if self.warmup_iters == 0:
            return 1.0 if cur_iter >= self.begin_iter else self.start_factor
        progress = min(max((cur_iter - self.begin_iter) / self.warmup_iters, 0.0), 1.0)
        if self.mode == 'cosine':
            progress = 0.5 * (1.0 - math.cos(math.pi * progress))
        return self.start_factor + (1.0 - self.start_factor) * progress

    def _resolve(self, model) -> None:
        model = model.module if is_model_wrapper(model) else model
        owner = model
        *parents, attr = self.param.split('.')
        walked = []
        for part in parents:
            child = getattr(owner, part, None)
            if child is None and hasattr(owner, '__getitem__'):
                try:
                    child = owner[part]
                except (KeyError, IndexError, TypeError):
                    child = None
            if child is None:
                missing = '.'.join(walked + [part])
                raise AttributeError(f'LossWeightWarmupHook: {type(model).__name__} has no {missing!r} '
                                     f'(param={self.param!r})')
            walked.append(part)
            owner = child
        value = getattr(owner, attr, None)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise AttributeError(f'LossWeightWarmupHook: param={self.param!r} must name a float attribute, found '
                                 f'{type(value).__name__} on {type(owner).__name__}')
        self._owner, self._attr, self._target = owner, attr, float(value)

    def before_train(self, runner) -> None:
        self._resolve(runner.model)
        self._apply(runner, runner.iter)

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        self._apply(runner, runner.iter)

    def after_train(self, runner) -> None:
        # Leave the configured weight in place (e.g. for a later resume or export).
        setattr(self._owner, self._attr, self._target)

    def _apply(self, runner, cur_iter: int) -> None:
        value = self._target * self.factor(cur_iter)
        setattr(self._owner, self._attr, value)
        runner.message_hub.update_scalar(f'train/{self.name}', value)
