"""Momentum (EMA) encoders of MoCo-style and BYOL-style methods."""
import math

import torch
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
class MomentumEncoder(ExponentialMovingAverage):
    """EMA of the parameters whose buffers (BN statistics) are the copy's own.

    MoCo's key encoder is a network of its own: only its parameters follow the query
    encoder (``param_k = m * param_k + (1 - m) * param_q``), and its BN running
    statistics come from its own forward passes on the (shuffled) keys. mmengine's
    ``ExponentialMovingAverage`` instead copies every buffer of the online network at
    each update (``update_buffers=False``) or averages them (``update_buffers=True``).
    Here the first update copies parameters *and* buffers (the online network may
    have been initialised or loaded after this copy was made), and every later
    update averages the parameters only. The copy is run in train mode by its owner,
    so its BN layers keep their own running statistics, which eval-mode users
    (prototype clustering, ``extract_backbone.py --source momentum``) read.

    Args:
        model (nn.Module): The online model to average.
        momentum (float): mmengine-convention momentum ``1 - m``. Defaults to 0.001
            (MoCo's m = 0.999).
        **kwargs: Passed to ``ExponentialMovingAverage`` (``interval``, ``device``).
    """

    def __init__(self, model: nn.Module, momentum: float = 0.001, **kwargs) -> None:
        if kwargs.pop('update_buffers', False):
            raise ValueError(f'{type(self).__name__} keeps its own buffers; update_buffers=True is not supported')
        super().__init__(model, momentum=momentum, update_buffers=False, **kwargs)

    @torch.no_grad()
    def update_parameters(self, model: nn.Module) -> None:
        """Average the parameters of ``model`` into the copy (exact copy at step 0)."""
        src_params = dict(model.named_parameters())
        if int(self.steps) == 0:
            for name, p_avg in self.avg_parameters.items():
                p_avg.data.copy_(src_params[name].data)
            for b_avg, b_src in zip(self.module.buffers(), model.buffers()):
                b_avg.data.copy_(b_src.data.to(b_avg.device))
        elif int(self.steps) % self.interval == 0:
            for name, p_avg in self.avg_parameters.items():
                if p_avg.dtype.is_floating_point:
                    self.avg_func(p_avg.data, src_params[name].data.to(p_avg.device), self.steps)
        self.steps += 1


@MODELS.register_module()
class CosineEMA(MomentumEncoder):
    """EMA whose paper momentum rises from ``base`` to ``end`` on a cosine (BYOL).

    ``m(t) = end - (end - base) * (cos(pi * t / T) + 1) / 2`` with ``t`` the
    current and ``T`` the total number of training iterations (read from the
    message hub, as the Runner publishes them). Outside a Runner ``m = base``.
    Like :class:`MomentumEncoder`, only the parameters are averaged: the target
    network keeps its own BN statistics.

    Args:
        model (nn.Module): The online model to average.
        momentum (float): mmengine-convention momentum at the start, i.e.
            ``1 - base``. Defaults to 0.004 (BYOL's 0.996).
        end_momentum (float): mmengine-convention momentum at the end, i.e.
            ``1 - end``. Defaults to 0.0 (BYOL's 1.0).
        **kwargs: Passed to :class:`MomentumEncoder`.
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
