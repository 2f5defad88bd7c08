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
during the wrapped model's loss forward.
"""
import difflib
import re
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from mmengine.structures import BaseDataElement, PixelData

_SOURCE_RE = re.compile(r'^(?P<path>[A-Za-z0-9_.]+)(?::(?P<kind>input|output|return))?(?P<index>(\[\d+\])*)$')


class InjectionConfigError(ValueError):
    """An injected loss that cannot work with the wrapped model."""


@dataclass(frozen=True)
class Source:
    """A parsed source string.

    Attributes:
        text (str): The source as written in the config.
        kind (str): ``'input'``, ``'output'``, ``'return'`` (method) or ``'data'``.
        path (str): Dotted submodule path (method path for ``'return'``, field
            path for ``'data'``).
        index (Tuple[int]): Indices applied to the tapped value, in order.
    """
    text: str
    kind: str
    path: str
    index: Tuple[int, ...] = ()

    @classmethod
    def parse(cls, text: str) -> 'Source':
        if not isinstance(text, str):
            raise InjectionConfigError(f'a source must be a string such as "decode_head.conv_seg:input", '
                                       f'got {text!r}')
        if text.startswith('data:'):
            field = text[len('data:'):]
            if not re.fullmatch(r'[A-Za-z_][A-Za-z0-9_.]*', field):
                raise InjectionConfigError(f'bad data source {text!r}; expected e.g. "data:gt_sem_seg"')
            return cls(text, 'data', field)
        match = _SOURCE_RE.match(text)
        if match is None:
            raise InjectionConfigError(
                f'bad source {text!r}; expected "<module path>[:input|:output][index]", '
                '"<module path>.<method>:return[index]" or "data:<field>"')
        index = tuple(int(i) for i in re.findall(r'\[(\d+)\]', match['index']))
        return cls(text, match['kind'] or 'output', match['path'], index)

    @property
    def module_path(self) -> str:
        """The submodule that is hooked (for ``'return'``: the method's owner)."""
        return self.path.rsplit('.', 1)[0] if self.kind == 'return' and '.' in self.path else self.path


def resolve_module(model: nn.Module, path: str, source: str) -> nn.Module:
    """Return ``model``'s submodule ``path`` or raise naming close matches."""
    modules = dict(model.named_modules())
    if path in modules:
        return modules[path]
    close = difflib.get_close_matches(path, [n for n in modules if n], n=3, cutoff=0.5)
    hint = f' Did you mean {close}?' if close else ''
    prefix = path.rsplit('.', 1)[0] if '.' in path else ''
    children = [n for n in modules if n and n.rsplit('.', 1)[0] == prefix and n != path] if prefix in modules else []
    listing = f' Submodules of {prefix!r}: {children[:20]}.' if children else ''
    raise InjectionConfigError(
        f'source {source!r}: the wrapped {type(model).__name__} has no submodule {path!r}.{hint}{listing}')


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


def select(value: Any, index: Tuple[int, ...], source: str) -> Any:
    """Apply ``index`` to a tapped value, naming what went wrong."""
    for i in index:
        if not isinstance(value, (list, tuple)) or i >= len(value):
            kind = f'{type(value).__name__} of length {len(value)}' if isinstance(value,
                                                                                    (list, tuple)) else describe(value)
            raise InjectionConfigError(f'source {source!r}: cannot take [{i}] of a {kind}')
        value = value[i]
    return value


def describe(value: Any) -> str:
    """Short description of a tapped value (shape for tensors)."""
    if isinstance(value, torch.Tensor):
        return f'tensor of shape {tuple(value.shape)} ({value.dtype})'
    if isinstance(value, (list, tuple)):
        return f'{type(value).__name__}[{", ".join(describe(v) for v in value[:4])}{", ..." if len(value) > 4 else ""}]'
    return type(value).__name__


class TapRecorder:
    """Installs hooks for a set of sources and records their values.

    Recording is off except inside ``with recorder.recording():``. A module or
    method that runs more than once while recording is an error, because the
    rows of the loss would then be ambiguous (e.g. a head shared by FPN levels).

    Args:
        model (nn.Module): The wrapped model.
        sources (Sequence[Source]): Sources of kinds input/output/return.
    """

    def __init__(self, model: nn.Module, sources: Sequence[Source]) -> None:
        self.active = False
        self.values: Dict[str, List[Any]] = {}
        self.handles = []
        hooked = set()
        for src in sources:
            key = (src.kind, src.path)
            if key in hooked:
                continue
            hooked.add(key)
            if src.kind == 'return':
                self._tap_method(model, src)
            else:
                module = resolve_module(model, src.path, src.text)
                self.handles.append(module.register_forward_hook(self._module_hook(src.kind, src.path)))

    def _module_hook(self, kind: str, path: str):

        def hook(module: nn.Module, args: tuple, output: Any) -> None:
            if self.active:
                value = (args[0] if args else None) if kind == 'input' else output
                self.values.setdefault(f'{kind}:{path}', []).append(value)

        return hook

    def _tap_method(self, model: nn.Module, src: Source) -> None:
        if '.' not in src.path:
            raise InjectionConfigError(f'source {src.text!r}: a ":return" source needs "<module path>.<method>"')
        owner_path, method = src.path.rsplit('.', 1)
        owner = resolve_module(model, owner_path, src.text)
        original = getattr(owner, method, None)
        if not callable(original) or isinstance(original, nn.Module):
            raise InjectionConfigError(f'source {src.text!r}: {type(owner).__name__} at {owner_path!r} has no '
                                       f'method {method!r}')
        key = f'return:{src.path}'

        def tapped(*args, **kwargs):
            out = original(*args, **kwargs)
            if self.active:
                self.values.setdefault(key, []).append(out)
            return out

        # An instance attribute shadows the class method; the module's code is untouched.
        setattr(owner, method, tapped)

    def recording(self):
        recorder = self

        class _Ctx:

            def __enter__(self):
                recorder.values = {}
                recorder.active = True

            def __exit__(self, *exc):
                recorder.active = False

        return _Ctx()

    def get(self, src: Source) -> Any:
        calls = self.values.get(f'{src.kind}:{src.path}', [])
        if not calls:
            raise InjectionConfigError(
                f'source {src.text!r} recorded nothing: {src.path!r} did not run during the loss forward')
        if len(calls) > 1:
            raise InjectionConfigError(
                f'source {src.text!r}: {src.path!r} ran {len(calls)} times in one loss forward; tap a module that '
                'runs once (e.g. not a head shared by several FPN levels)')
        return select(calls[0], src.index, src.text)


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
