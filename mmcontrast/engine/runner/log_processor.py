"""A LogProcessor that keeps small losses readable."""
import re
from typing import Tuple

from mmengine.runner import LogProcessor

from mmcontrast.registry import LOG_PROCESSORS


@LOG_PROCESSORS.register_module()
class ReadableLogProcessor(LogProcessor):
    """mmengine's ``LogProcessor``, with values too small for ``num_digits`` decimals in scientific notation.

    A contrastive term with ``loss_weight=0.01`` is often below ``1e-4``: mmengine prints it as
    ``0.0000``, which reads as "off". Here every logged float with ``0 < |v| < 10 ** -(num_digits - 1)``
    is written as ``1.234e-05`` in the text log; the scalars sent to the visualizer backends
    (JSON, TensorBoard) are unchanged.

    Args:
        **kwargs: Arguments of ``mmengine.runner.LogProcessor`` (``window_size``,
            ``by_epoch``, ``num_digits`` (4), ...).
    """

    def _readable(self, log_str: str, tag: dict, mode: str) -> str:
        small = 10**-(self.num_digits - 1)
        for name, value in tag.items():
            if not isinstance(value, float) or not 0 < abs(value) < small:
                continue
            key = name[len(mode) + 1:] if name.startswith(f'{mode}/') else name
            fixed = f'{key}: {value:.{self.num_digits}f}'
            log_str = re.sub(rf'(?<![\w./]){re.escape(fixed)}(?![\d])', f'{key}: {value:.{self.num_digits - 1}e}',
                             log_str)
        return log_str

    def get_log_after_iter(self, runner, batch_idx: int, mode: str) -> Tuple[dict, str]:
        """mmengine's iteration log, small values in scientific notation."""
        tag, log_str = super().get_log_after_iter(runner, batch_idx, mode)
        return tag, self._readable(log_str, tag, mode)
