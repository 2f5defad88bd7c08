"""Momentum (EMA) encoders of MoCo-style and BYOL-style methods."""
import math

import torch.nn as nn
from mmengine.logging import MessageHub
from mmengine.model import ExponentialMovingAverage
from torch import Tensor

from mmcontrast.registry import MODELS


class EncoderPair(nn.Module):
    """``neck(backbone(x))``: the online encoder whose EMA is the momentum encoder.

    Built on the fly around the model's own ``backbone`` and ``neck`` (no copies),
    so the online weights keep the plain ``backbone.*`` keys that mmdet/mmseg load.
    The EMA copy lives at ``momentum_encoder.module.{backbone,neck}.*``.
    """

    def __init__(self, backbone: nn.Module, neck: nn.Module) -> None:
        super().__init__()
        self.backbone = backbone
        self.neck = neck

    def forward(self, x: Tensor) -> Tensor:
        return self.neck(self.backbone(x))


def paper_momentum_to_mmengine(momentum: float) -> float:
    """Papers write ``k <- m k + (1 - m) q``; mmengine's EMA takes ``1 - m``."""
    if not 0 <= momentum <= 1:
        raise ValueError(f'momentum must be in [0, 1], got {momentum}')
    return 1.0 - momentum


@MODELS.register_module()
class CosineEMA(ExponentialMovingAverage):
    """EMA whose paper momentum rises from ``base`` to ``end`` on a cosine (BYOL).

    ``m(t) = end - (end - base) * (cos(pi * t / T) + 1) / 2`` with ``t`` the
    current and ``T`` the total number of training iterations (read from the
    message hub, as the Runner publishes them). Outside a Runner ``m = base``.

    Args:
        model (nn.Module): The online model to average.
        momentum (float): mmengine-convention momentum at the start, i.e.
            ``1 - base``. Defaults to 0.004 (BYOL's 0.996).
        end_momentum (float): mmengine-convention momentum at the end, i.e.
            ``1 - end``. Defaults to 0.0 (BYOL's 1.0).
        **kwargs: Passed to ``ExponentialMovingAverage``.
    """

    def __init__(self, model: nn.Module, momentum: float = 0.004, end_momentum: float = 0.0, **kwargs) -> None:
        super().__init__(model, momentum=momentum, **kwargs)
        self.end_momentum = end_momentum

    def current_momentum(self) -> float:
        hub = MessageHub.get_current_instance()
        cur, total = hub.get_info('iter'), hub.get_info('max_iters')
        if cur is None or not total:
            return self.momentum
        progress = min(max(cur / total, 0.0), 1.0)
        return self.end_momentum + (self.momentum - self.end_momentum) * (math.cos(math.pi * progress) + 1) / 2

    def avg_func(self, averaged_param: Tensor, source_param: Tensor, steps: int) -> None:
        averaged_param.lerp_(source_param, self.current_momentum())
