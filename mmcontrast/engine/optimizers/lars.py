"""LARS: layer-wise adaptive rate scaling (You et al., 2017), as BYOL trains with it."""
from typing import Callable, Iterable, Optional

import torch
from torch import Tensor
from torch.optim.optimizer import Optimizer

from .registry import OPTIMIZERS


@OPTIMIZERS.register_module()
class LARS(Optimizer):
    """SGD with momentum whose step of each parameter tensor is scaled by its trust ratio.

    For a parameter ``w`` with gradient ``g`` in a group with learning rate ``lr``
    and weight decay ``wd``::

        d = g + wd * w
        trust = eta * ||w|| / (||g|| + wd * ||w|| + eps)     (1 if ||w|| or ||g|| is 0)
        trust = min(trust / lr, 1)                             (only with clip=True, LARC)
        buf = momentum * buf + (1 - dampening) * trust * d     (buf = trust * d at first)
        w = w - lr * buf                                       (nesterov: lr * (trust * d + momentum * buf))

    As in BYOL (Grill et al. 2020, Sec. 3.2 / App. C: "we exclude the biases and batch
    normalization parameters from both LARS adaptation and weight decay"), parameters
    of a group flagged ``lars_exclude=True`` (mmpretrain's convention, set through
    ``paramwise_cfg.custom_keys``) and, with ``exclude_bias_and_norm=True``, every
    parameter with at most one dimension (biases and norm weights, as solo-learn's
    ``exclude_bias_n_norm`` decides) take the plain SGD step without weight decay.

    Differences from mmpretrain's ``LARS`` (``mmpretrain/engine/optimizers/lars.py``):
    the momentum buffer holds ``trust * d`` and the learning rate is applied after
    it (torch SGD's convention, as in solo-learn and apex's LARC), so a decaying
    learning rate also scales the accumulated momentum; ``clip`` is LARC's clipping,
    which solo-learn's CIFAR BYOL recipe (``--grad_clip_lars``) uses.

    Args:
        params (Iterable): Parameters or parameter groups.
        lr (float): Learning rate.
        momentum (float): Momentum factor. Defaults to 0.9.
        weight_decay (float): Weight decay. Defaults to 0.
        dampening (float): Dampening of the momentum. Defaults to 0.
        eta (float): Trust coefficient. Defaults to 1e-3 (BYOL).
        nesterov (bool): Nesterov momentum. Defaults to False.
        eps (float): Added to the trust ratio's denominator. Defaults to 1e-8.
        exclude_bias_and_norm (bool): No adaptation and no weight decay for
            parameters with ``ndim <= 1``. Defaults to True.
        clip (bool): Clip the local learning rate at the global one (LARC).
            Defaults to False.
    """

    def __init__(self,
                 params: Iterable,
                 lr: float,
                 momentum: float = 0.9,
                 weight_decay: float = 0.,
                 dampening: float = 0.,
                 eta: float = 1e-3,
                 nesterov: bool = False,
                 eps: float = 1e-8,
                 exclude_bias_and_norm: bool = True,
                 clip: bool = False) -> None:
        for name, value in (('lr', lr), ('momentum', momentum), ('weight_decay', weight_decay), ('eta', eta),
                            ('eps', eps)):
            if value < 0:
                raise ValueError(f'LARS: {name} must be >= 0, got {value}')
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError('LARS: nesterov momentum needs momentum > 0 and dampening 0')
        defaults = dict(lr=lr, momentum=momentum, weight_decay=weight_decay, dampening=dampening, eta=eta,
                        nesterov=nesterov, eps=eps, exclude_bias_and_norm=exclude_bias_and_norm, clip=clip)
        super().__init__(params, defaults)

    @staticmethod
    def excluded(param: Tensor, group: dict) -> bool:
        """Whether ``param`` skips the adaptation and the weight decay in ``group``."""
        return bool(group.get('lars_exclude', False)) or (group['exclude_bias_and_norm'] and param.ndim <= 1)

    @torch.no_grad()
    def step(self, closure: Optional[Callable[[], float]] = None) -> Optional[float]:
        """One optimisation step (see the class docstring)."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            lr, wd, momentum = group['lr'], group['weight_decay'], group['momentum']
            for p in group['params']:
                if p.grad is None:
                    continue
                d_p = p.grad
                if not self.excluded(p, group):
                    if wd != 0:
                        d_p = d_p.add(p, alpha=wd)
                    w_norm, g_norm = torch.linalg.vector_norm(p), torch.linalg.vector_norm(p.grad)
                    trust = torch.where((w_norm > 0) & (g_norm > 0),
                                        group['eta'] * w_norm / (g_norm + wd * w_norm + group['eps']),
                                        torch.ones_like(w_norm))
                    if group['clip'] and lr > 0:
                        trust = torch.clamp(trust / lr, max=1.0)
                    d_p = d_p.mul(trust)
                if momentum != 0:
                    state = self.state[p]
                    if 'momentum_buffer' not in state:
                        buf = state['momentum_buffer'] = d_p.detach().clone()
                    else:
                        buf = state['momentum_buffer']
                        buf.mul_(momentum).add_(d_p, alpha=1 - group['dampening'])
                    d_p = d_p.add(buf, alpha=momentum) if group['nesterov'] else buf
                p.add_(d_p, alpha=-lr)
        return loss
