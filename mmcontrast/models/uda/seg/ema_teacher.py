"""EMA teacher of the self-training segmentor, on mmengine's averaged-model base."""
from mmengine.model import BaseAveragedModel
from torch import Tensor, nn


class EMATeacher(BaseAveragedModel):
    """Mean teacher with the warm-up schedule ``alpha_t = min(1 - 1 / (t + 1), alpha)``.

    ``t`` is the number of updates so far, kept in the ``steps`` buffer; the teacher's
    weights and ``steps`` are part of the owner's ``state_dict``, so a resumed run
    continues the same schedule. Update 0 copies the student (``alpha_0 = 0``); update
    ``t`` sets ``teacher = alpha_t * teacher + (1 - alpha_t) * student``. Buffers (BN
    statistics) are copied from the student at every update, as parameters only are
    averaged (DAFormer does the same).

    Args:
        model (nn.Module): The student to copy.
        alpha (float): Maximum EMA decay. Defaults to 0.999.
    """

    def __init__(self, model: nn.Module, alpha: float = 0.999) -> None:
        if not 0 <= alpha < 1:
            raise ValueError(f'EMA alpha must be in [0, 1), got {alpha}')
        super().__init__(model, interval=1, update_buffers=False)
        self.alpha = alpha

    def current_alpha(self, steps: int) -> float:
        """EMA decay used by the update number ``steps``."""
        return min(1 - 1 / (steps + 1), self.alpha)

    def avg_func(self, averaged_param: Tensor, source_param: Tensor, steps: int) -> None:
        """``averaged = alpha * averaged + (1 - alpha) * source`` in place."""
        averaged_param.lerp_(source_param.to(averaged_param.dtype), 1 - self.current_alpha(int(steps)))
