"""Taps: record tensors a model computes during a forward, without editing the model.

This is the one feature-capture mechanism of the package (used by
:class:`~mmcontrast.models.injection.ContrastiveInjector` and the UDA wrappers).
A *source* string names one tensor the model produces, or a field of the data
samples:

=========================================  ==============================================
``'roi_head.bbox_head.fc_cls'``             output of a submodule (``:output`` is implied)
``'decode_head.conv_seg:input'``            first positional input of a submodule
``'neck:output[0]'``                        an element of a tuple/list output
``'roi_head.bbox_head.get_targets:return[0]'``  return value of a method of a submodule
``'data:gt_sem_seg'``                       a field of every data sample, batched
=========================================  ==============================================

Typical use::

    src = Source.parse('decode_head.conv_seg:input')
    rec = TapRecorder(model, [src])
    with rec.recording():
        model(inputs, data_samples, mode='loss')
    feats = rec.get(src)
    rec.remove()  # when the taps are no longer needed

Module and method taps only record while :meth:`TapRecorder.recording` is active;
outside it the hooks cost one attribute check per call.
"""
import difflib
import re
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterator, List, Sequence, Tuple

import torch
import torch.nn as nn

__all__ = ['InjectionConfigError', 'Source', 'TapRecorder', 'describe', 'resolve_module', 'select']

_SOURCE_RE = re.compile(r'^(?P<path>[A-Za-z0-9_.]+)(?::(?P<kind>input|output|return))?(?P<index>(\[\d+\])*)$')

# Recorded for an ':input' tap whose module was called with keyword arguments only,
# so that ``get`` can say so instead of handing back ``None``.
_NO_POSITIONAL_INPUT = object()


class InjectionConfigError(ValueError):
    """A source or tap that cannot work with the model it is applied to.

    The name is historical (taps were first written for
    :class:`~mmcontrast.models.injection.ContrastiveInjector`); every error of
    this module is of this type, so ``except InjectionConfigError`` keeps
    catching them wherever they are raised from.
    """


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
        """Parse a source string such as ``'decode_head.conv_seg:input'``.

        Args:
            text (str): The source string (see the module docstring).

        Returns:
            Source: The parsed source.

        Raises:
            InjectionConfigError: If ``text`` is not a valid source string.
        """
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
    """Return ``model``'s submodule ``path`` or raise naming close matches.

    Args:
        model (nn.Module): The model to search.
        path (str): Dotted submodule path, e.g. ``'decode_head.conv_seg'``.
        source (str): The source string, quoted in the error message.

    Returns:
        nn.Module: The submodule.

    Raises:
        InjectionConfigError: If there is no such submodule; the message lists
            close matches and the siblings of the missing module.
    """
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


def select(value: Any, index: Tuple[int, ...], source: str) -> Any:
    """Apply ``index`` to a tapped value, naming what went wrong.

    Args:
        value (Any): The tapped value.
        index (Tuple[int]): Indices to apply in order (``[0][1]`` -> ``(0, 1)``).
        source (str): The source string, quoted in the error message.

    Returns:
        Any: ``value[index[0]][index[1]]...``.
    """
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
    method that runs more than once while recording makes :meth:`get` raise,
    because which call's value is meant would be ambiguous (e.g. a ReLU reused
    inside a block, or a head shared by FPN levels).

    Args:
        model (nn.Module): The model to tap; source paths are relative to it.
        sources (Sequence[Source]): Sources of kinds input/output/return
            (``'data'`` sources are read from data samples, not tapped).
    """

    def __init__(self, model: nn.Module, sources: Sequence[Source]) -> None:
        self.active = False
        self.removed = False
        self.values: Dict[str, List[Any]] = {}
        self.handles = []
        # (owner, method name, our wrapper, owner had an instance attribute, that attribute)
        # for every method tap, so that ``remove`` can undo it.
        self._method_taps: List[Tuple[nn.Module, str, Callable, bool, Any]] = []
        hooked = set()
        for src in sources:
            if src.kind == 'data':
                raise InjectionConfigError(f'source {src.text!r} is a data-sample field, not a tap; read it from '
                                           'the data samples instead of passing it to TapRecorder')
            key = (src.kind, src.path)
            if key in hooked:  # two sources on one tensor (e.g. different indices) share a hook
                continue
            hooked.add(key)
            if src.kind == 'return':
                self._tap_method(model, src)
            else:
                module = resolve_module(model, src.path, src.text)
                self.handles.append(module.register_forward_hook(self._module_hook(src.kind, src.path)))

    def _module_hook(self, kind: str, path: str) -> Callable:

        def hook(module: nn.Module, args: tuple, output: Any) -> None:
            if self.active:
                value = (args[0] if args else _NO_POSITIONAL_INPUT) if kind == 'input' else output
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
        had_instance_attr = method in vars(owner)
        previous = vars(owner).get(method)
        setattr(owner, method, tapped)
        self._method_taps.append((owner, method, tapped, had_instance_attr, previous))

    @contextmanager
    def recording(self) -> Iterator['TapRecorder']:
        """Record the tapped values of the forward passes run inside the block.

        Values of an earlier recording are discarded on entry; they stay
        readable with :meth:`get` after the block until the next recording.

        Yields:
            TapRecorder: This recorder.
        """
        if self.removed:
            raise RuntimeError('TapRecorder.recording() after remove(): its hooks are gone; build a new TapRecorder')
        self.values = {}
        self.active = True
        try:
            yield self
        finally:
            self.active = False

    def get(self, src: Source) -> Any:
        """The value of ``src`` recorded in the last :meth:`recording` block.

        Args:
            src (Source): One of the sources given at construction.

        Returns:
            Any: The tapped value, with ``src.index`` applied.

        Raises:
            InjectionConfigError: If the tapped module/method did not run, or ran
                more than once (ambiguous), or an input tap got no positional input.
        """
        calls = self.values.get(f'{src.kind}:{src.path}', [])
        if not calls:
            raise InjectionConfigError(
                f'source {src.text!r} recorded nothing: {src.path!r} did not run inside '
                'TapRecorder.recording() (was the source passed to this TapRecorder, and does the forward use it?)')
        if len(calls) > 1:
            raise InjectionConfigError(
                f'source {src.text!r}: {src.path!r} ran {len(calls)} times inside one TapRecorder.recording(), so '
                'which call is meant is ambiguous; tap a module that runs once per forward (e.g. not a ReLU reused '
                'in a block or a head shared by several FPN levels), or record each forward separately')
        value = calls[0]
        if value is _NO_POSITIONAL_INPUT:
            raise InjectionConfigError(
                f'source {src.text!r}: {src.path!r} was called with keyword arguments only, so it has no '
                'first positional input to tap; tap its ":output" or the module that produces that input')
        return select(value, src.index, src.text)

    def remove(self) -> None:
        """Remove every hook and method tap; the model is as before construction.

        Safe to call more than once. Recorded values are dropped.
        """
        for handle in self.handles:
            handle.remove()
        self.handles = []
        for owner, method, tapped, had_instance_attr, previous in reversed(self._method_taps):
            # If someone tapped the method again after us, their wrapper calls ours; leave both
            # in place (ours no longer records, since ``active`` can never be set again).
            if vars(owner).get(method) is tapped:
                if had_instance_attr:
                    setattr(owner, method, previous)
                else:
                    delattr(owner, method)
        self._method_taps = []
        self.values = {}
        self.active = False
        self.removed = True
