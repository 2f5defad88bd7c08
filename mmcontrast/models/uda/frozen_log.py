"""One summary line instead of mmengine's line per frozen parameter.

With a ``paramwise_cfg`` (every stock SegFormer config has one), mmengine's
``DefaultOptimWrapperConstructor.add_params`` logs ``<name> is skipped since its
requires_grad=False`` for every frozen tensor: a UDA wrapper around a SegFormer MiT-B0 has 177
of them (the EMA teacher's), a MiT-B5 with the ImageNet feature distance over a thousand.
"""
import logging
from typing import Sequence

from mmengine.logging import MMLogger, print_log

_SKIPPED = 'is skipped since its requires_grad=False'


class FrozenParameterFilter(logging.Filter):
    """Drops the "skipped since its requires_grad=False" records of parameters under ``prefixes``.

    Args:
        prefixes (Sequence[str]): Parameter name prefixes, e.g. ``('teacher.',)``; the same
            names under a model wrapper's ``module.`` are dropped too.
    """

    def __init__(self, prefixes: Sequence[str]) -> None:
        super().__init__()
        self.prefixes = tuple(prefixes) + tuple(f'module.{p}' for p in prefixes)
        self.dropped = 0

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if message.endswith(_SKIPPED) and message.startswith(self.prefixes):
            self.dropped += 1
            return False
        return True


def summarize_frozen_parameters(owner: str, frozen: dict) -> None:
    """Log one line for the frozen parts of ``owner`` and silence mmengine's line per tensor.

    The filter goes on the current ``MMLogger`` (the Runner's, when a Runner builds the model),
    which is the logger the optimizer constructor writes to.

    Args:
        owner (str): Class name for the message, e.g. ``'DACSSegmentor'``.
        frozen (dict): ``{prefix: (description, number of tensors)}``, e.g.
            ``{'teacher.': ('the EMA teacher', 177)}``.
    """
    frozen = {p: v for p, v in frozen.items() if v[1]}
    if not frozen:
        return
    logger = MMLogger.get_current_instance()
    prefixes = tuple(frozen)
    if not any(isinstance(f, FrozenParameterFilter) and f.prefixes[:len(prefixes)] == prefixes
               for f in logger.filters):
        logger.addFilter(FrozenParameterFilter(prefixes))
    parts = ', '.join(f'{desc} ({n} tensors, {prefix}*)' for prefix, (desc, n) in frozen.items())
    print_log(f'{owner}: frozen, not optimised: {parts}', logger=logger, level=logging.INFO)
