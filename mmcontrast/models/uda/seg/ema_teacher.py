"""EMA teachers of the self-training segmentor: how the teacher is averaged and run.

A teacher *policy* is chosen in the config by ``teacher=dict(type=...)``, in the style of
mmengine's ``EMAHook(ema_type)``:

- :class:`DAFormerTeacher` (default): DAFormer's teacher. Parameters only are averaged;
  the teacher runs in train mode with dropout and drop-path off, so BatchNorm normalises
  each target batch with that batch's statistics, and its running statistics follow the
  target batches it sees (they are what an evaluation of the teacher uses).
- :class:`EvalModeTeacher`: the teacher runs in eval mode with the student's running
  statistics, copied at every update. This was our earlier default; an EMA of weights
  paired with the student's current statistics makes a poor teacher while the weights
  still move fast (issue 19: 21.9 vs 27.0 target mIoU on the toy benchmark).
"""
from typing import Dict

import torch
from mmengine.model import BaseAveragedModel
from torch import Tensor, nn
from torch.nn.modules.dropout import _DropoutNd

from mmcontrast.registry import MODELS


def _is_stochastic_depth(module: nn.Module) -> bool:
    # mmcv's, timm's and mmpretrain's DropPath all carry this class name.
    return isinstance(module, _DropoutNd) or type(module).__name__ == 'DropPath'


class EMATeacher(BaseAveragedModel):
    """Mean teacher with the warm-up schedule ``alpha_t = min(1 - 1 / (t + 1), alpha)``.

    ``t`` is the number of updates so far, kept in the ``steps`` buffer; the teacher's
    weights, buffers and ``steps`` are part of the owner's ``state_dict``, so a resumed run
    continues the same schedule. Update 0 copies the student (parameters and buffers);
    update ``t`` sets ``teacher = alpha_t * teacher + (1 - alpha_t) * student`` for the
    parameters. Whether the buffers (BN statistics) are then copied from the student at
    every update is the policy's ``copy_buffers``.

    Args:
        model (nn.Module): The student to copy.
        alpha (float): Maximum EMA decay. Defaults to 0.999.
    """
    # Copy the student's buffers at every update (a policy's choice).
    copy_buffers = True

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

    @torch.no_grad()
    def update_parameters(self, model: nn.Module) -> None:
        """One EMA update from the student ``model``."""
        if self.copy_buffers or int(self.steps) == 0:
            super().update_parameters(model)
            return
        source: Dict[str, Tensor] = dict(model.named_parameters())
        for name, averaged in self.avg_parameters.items():
            if averaged.dtype.is_floating_point:
                self.avg_func(averaged.data, source[name].data.to(averaged.device), int(self.steps))
        self.steps += 1

    def set_mode(self, training: bool) -> None:
        """Put the teacher in the mode it runs in while its owner trains (``training``) or not."""
        raise NotImplementedError

    @torch.no_grad()
    def logits(self, img: Tensor) -> Tensor:
        """Decoder logits of the teacher on a target batch (no gradient)."""
        return self.module._forward(img)


@MODELS.register_module()
class DAFormerTeacher(EMATeacher):
    """DAFormer's teacher: parameter-only EMA, train-mode forward without dropout.

    DAFormer (``mmseg/models/uda/dacs.py``): ``_update_ema`` averages ``parameters()`` only
    (L104-115); before the pseudo-label forward, every ``_DropoutNd`` and ``DropPath`` is
    switched to eval (L264-268) while the model stays in train mode, so BatchNorm uses the
    target batch statistics and updates the teacher's own running statistics.

    Args:
        model (nn.Module): The student to copy.
        alpha (float): Maximum EMA decay. Defaults to 0.999.
    """
    copy_buffers = False

    def set_mode(self, training: bool) -> None:
        self.module.train(training)
        if training:
            for module in self.module.modules():
                if _is_stochastic_depth(module):
                    module.training = False


@MODELS.register_module()
class EvalModeTeacher(EMATeacher):
    """Eval-mode teacher with the student's running statistics (a deviation from DAFormer).

    Args:
        model (nn.Module): The student to copy.
        alpha (float): Maximum EMA decay. Defaults to 0.999.
    """
    copy_buffers = True

    def set_mode(self, training: bool) -> None:
        self.module.eval()
