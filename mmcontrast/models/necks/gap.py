"""Global average pooling neck of classifiers."""
from typing import Sequence, Union

import torch
import torch.nn as nn
from torch import Tensor

from mmcontrast.registry import MODELS


def last_feature(x: Union[Tensor, Sequence[Tensor]]) -> Tensor:
    """The last map of a backbone's tuple output (or the tensor itself)."""
    if isinstance(x, (list, tuple)):
        if not x:
            raise ValueError('got an empty tuple of backbone features')
        x = x[-1]
    if not isinstance(x, Tensor):
        raise TypeError(f'expected a tensor or a tuple of tensors, got {type(x).__name__}')
    return x


@MODELS.register_module()
class GlobalAveragePooling(nn.Module):
    """Average the last backbone map over space: ``[B, C, H, W] -> [B, C]``.

    2-D inputs pass through, so the neck also fits backbones that pool already.
    """

    def forward(self, x: Union[Tensor, Sequence[Tensor]]) -> Tensor:
        x = last_feature(x)
        if x.dim() == 4:
            return torch.flatten(x.mean(dim=(2, 3)), 1)
        if x.dim() == 2:
            return x
        raise ValueError(f'expected a [B, C, H, W] or [B, C] feature, got {tuple(x.shape)}')
