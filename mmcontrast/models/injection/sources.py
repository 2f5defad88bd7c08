"""Where an injected loss reads its inputs from: taps on a wrapped model.

A *source* string names one tensor the wrapped model produces during its loss
forward, or a field of the data samples:

=========================================  ==============================================
``'roi_head.bbox_head.fc_cls'``             output of a submodule (``:output`` is implied)
``'decode_head.conv_seg:input'``            first positional input of a submodule
``'neck:output[0]'``                        an element of a tuple/list output
``'roi_head.bbox_head.get_targets:return[0]'``  return value of a method of a submodule
``'data:gt_sem_seg'``                       a field of every data sample, batched
=========================================  ==============================================

Module and method taps only record while :class:`TapRecorder` is active, i.e.
during the wrapped model's loss forward. The tap machinery itself
(:class:`Source`, :class:`TapRecorder`, :func:`resolve_module`, ...) lives in
:mod:`mmcontrast.models.utils.taps` and is re-exported here so that existing
imports keep working; this module keeps what only the injector needs.
"""
from typing import Optional, Sequence, Tuple

import torch
import torch.nn as nn
from mmengine.structures import BaseDataElement, PixelData

# Re-exported: these used to be defined here.
from mmcontrast.models.utils.taps import InjectionConfigError, Source, TapRecorder, describe, resolve_module, select  # noqa: F401

__all__ = [
    'InjectionConfigError', 'Source', 'TapRecorder', 'batch_data_field', 'describe', 'resolve_module', 'select',
    'static_channels'
]


def static_channels(module: nn.Module, kind: str, index: Tuple[int, ...]) -> Optional[int]:
    """Channels of a tapped tensor known from the module alone, else None."""
    if index and index != (0, ):
        return None
    if kind == 'output' and index:
        return None
    attrs = {
        'input': ('in_features', 'in_channels', 'num_features', 'num_channels'),
        'output': ('out_features', 'out_channels', 'num_features', 'num_channels'),
    }.get(kind, ())
    for attr in attrs:
        value = getattr(module, attr, None)
        if isinstance(value, int) and isinstance(module, (nn.Linear, nn.modules.conv._ConvNd,
                                                          nn.modules.batchnorm._NormBase, nn.GroupNorm)):
            return value
    return None


def batch_data_field(data_samples: Sequence[BaseDataElement], src: Source) -> torch.Tensor:
    """Stack the field ``src.path`` of every data sample into one tensor.

    ``PixelData`` fields (``gt_sem_seg``) give ``(B, H, W)``; scalar or 1-element
    label fields (``gt_label``) give ``(B, )``; other tensors are stacked when
    their shapes agree and concatenated along dim 0 otherwise.
    """
    if not data_samples:
        raise InjectionConfigError(f'source {src.text!r} needs data samples, got none')
    values = []
    for i, sample in enumerate(data_samples):
        value = sample
        for attr in src.path.split('.'):
            if not hasattr(value, attr):
                raise InjectionConfigError(f'source {src.text!r}: data sample {i} ({type(sample).__name__}) has '
                                           f'no field {attr!r}; its fields: {list(getattr(sample, "keys", list)())}')
            value = getattr(value, attr)
        if isinstance(value, PixelData):
            value = value.data
        if not isinstance(value, torch.Tensor):
            value = torch.as_tensor(value)
        values.append(value)
    if all(v.dim() == 3 and v.shape[0] == 1 for v in values):  # PixelData label maps (1, H, W)
        values = [v[0] for v in values]
    if all(v.numel() == 1 for v in values):
        return torch.stack([v.reshape(()) for v in values])
    if len({tuple(v.shape) for v in values}) == 1:
        return torch.stack(values)
    return torch.cat(values)
