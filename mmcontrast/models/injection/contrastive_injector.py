"""Add contrastive loss terms to an unmodified mmdet/mmseg/mmcontrast model."""
import inspect
from typing import Dict, List, Optional, Sequence, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModel
from mmengine.structures import BaseDataElement

from mmcontrast.registry import MODELS
from .sources import (
    InjectionConfigError,
    Source,
    TapRecorder,
    batch_data_field,
    describe,
    resolve_module,
    select,
    static_channels,
)


class InjectedTerm(nn.Module):
    """One loss term computed from tensors tapped out of the wrapped model.

    Args:
        name (str): Term name; the loss dict key is ``loss_<name>``.
        loss (dict): Config of the loss module, e.g.
            ``dict(type='mmcontrast.SupConLoss', temperature=0.1, loss_weight=0.1)``.
            Its ``loss_weight`` is what :class:`LossWeightWarmupHook` ramps
            (``param='terms.<name>.loss.loss_weight'``).
        inputs (Dict[str, str]): Maps each argument of the loss's ``forward``
            to a source string (see :mod:`mmcontrast.models.injection.sources`).
        projectors (Dict[str, dict], optional): Projection heads applied to
            float inputs, keyed by argument name. A config without ``type``
            builds a :class:`ProjectionMLP`; its ``in_channels`` may be left out
            when the tapped module tells it (Linear/Conv/Norm). A string value
            shares the projector of the named argument. Defaults to None.
        flatten (bool): Turn float inputs into rows: ``(B, C, H, W)`` ->
            ``(B*H*W, C)``, ``(B, L, C)`` -> ``(B*L, C)``; integer label maps
            ``(B, H, W)`` are resized (nearest) to the feature resolution and
            flattened alike. Set False for losses that take dense maps.
            Defaults to True.
        ignore_index (int | Sequence[int], optional): Rows whose label takes
            one of these values are dropped (e.g. 255 for segmentation, the
            background index for RoI targets). Defaults to None.
        max_samples (int, optional): Randomly keep at most this many rows, the
            same rows for every input (bounds the N x N similarity of dense
            features). Defaults to None (keep all).
        per_level (bool): The route for single-stage detectors (RetinaNet, FCOS,
            ATSS, ...), whose head runs once per FPN level: a tapped module that ran
            several times gives the values of all its calls, in call order (level by
            level), and list inputs (the per-level targets of ``get_targets``) are
            concatenated in the same order. Rows of a ``(B, C, H, W)`` map are
            ordered ``(b, y, x)``, the order of mmdet's per-level point/anchor
            targets. Defaults to False (a module that ran more than once is an error).
        row_channels (int, optional): Split every ``(B, A * C, H, W)`` float input into
            ``A`` rows of ``C`` channels per location, ordered ``(b, y, x, a)`` as
            mmdet's anchors: the class logits of an anchor-based head
            (``bbox_head.retina_cls``: ``A`` anchors x ``C`` classes) become one row
            per anchor, aligned with the anchor targets. Defaults to None.
    """

    def __init__(self,
                 name: str,
                 loss: dict,
                 inputs: Dict[str, str],
                 projectors: Optional[Dict[str, Union[dict, str]]] = None,
                 flatten: bool = True,
                 ignore_index: Optional[Union[int, Sequence[int]]] = None,
                 max_samples: Optional[int] = None,
                 per_level: bool = False,
                 row_channels: Optional[int] = None) -> None:
        super().__init__()
        if not isinstance(name, str) or not name.isidentifier():
            raise InjectionConfigError(f'an injected term needs a name that is an identifier, got {name!r}')
        self.name = name
        self.key = name if name.startswith('loss_') else f'loss_{name}'
        self.loss = MODELS.build(loss) if isinstance(loss, dict) else loss
        if not isinstance(inputs, dict) or not inputs:
            raise InjectionConfigError(f'term {name!r}: "inputs" must map loss arguments to sources, got {inputs!r}')
        self.sources = {arg: Source.parse(text) for arg, text in inputs.items()}
        self._check_signature()
        self.flatten = flatten
        if ignore_index is None:
            ignore_index = ()
        self.ignore_index = (ignore_index, ) if isinstance(ignore_index, int) else tuple(ignore_index)
        if max_samples is not None and max_samples < 2:
            raise InjectionConfigError(f'term {name!r}: max_samples must be >= 2, got {max_samples}')
        self.max_samples = max_samples
        if row_channels is not None and row_channels < 1:
            raise InjectionConfigError(f'term {name!r}: row_channels must be >= 1, got {row_channels}')
        self.per_level = per_level
        self.row_channels = row_channels
        self._projector_cfgs = dict(projectors or {})
        for arg in self._projector_cfgs:
            if arg not in self.sources:
                raise InjectionConfigError(f'term {name!r}: projector for {arg!r}, which is not one of its inputs '
                                           f'{list(self.sources)}')
        self.projectors = nn.ModuleDict()

    def _check_signature(self) -> None:
        params = inspect.signature(self.loss.forward).parameters
        if any(p.kind == p.VAR_KEYWORD for p in params.values()):
            return
        accepted = [n for n, p in params.items() if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
        unknown = [a for a in self.sources if a not in accepted]
        if unknown:
            raise InjectionConfigError(f'term {self.name!r}: {type(self.loss).__name__}.forward has no argument(s) '
                                       f'{unknown}; it takes {accepted}')
        missing = [n for n in accepted if params[n].default is inspect.Parameter.empty and n not in self.sources]
        if missing:
            raise InjectionConfigError(f'term {self.name!r}: {type(self.loss).__name__}.forward needs {missing}; '
                                       f'add them to "inputs"')

    def build_projectors(self, model: nn.Module) -> None:
        """Build the projectors, inferring ``in_channels`` from tapped modules."""
        shared = {}
        for arg, cfg in self._projector_cfgs.items():
            if isinstance(cfg, str):
                shared[arg] = cfg
                continue
            cfg = dict(cfg)
            src = self.sources[arg]
            known = None
            if src.kind in ('input', 'output'):
                known = static_channels(resolve_module(model, src.path, src.text), src.kind, src.index)
            if 'in_channels' not in cfg and 'type' not in cfg:
                if known is None:
                    raise InjectionConfigError(
                        f'term {self.name!r}: cannot tell the channels of {src.text!r} from its module; give '
                        f'projectors.{arg}.in_channels')
                cfg['in_channels'] = known
            elif known is not None and cfg.get('in_channels', known) != known:
                raise InjectionConfigError(
                    f'term {self.name!r}: projector for {arg!r} has in_channels={cfg["in_channels"]} but '
                    f'{src.text!r} ({type(resolve_module(model, src.path, src.text)).__name__}) gives {known} '
                    'channels')
            cfg.setdefault('type', 'mmcontrast.ProjectionMLP')
            self.projectors[arg] = MODELS.build(cfg)
        for arg, target in shared.items():
            if target not in self.projectors:
                raise InjectionConfigError(f'term {self.name!r}: projector of {arg!r} refers to {target!r}, which '
                                           f'has no projector; defined: {list(self.projectors)}')
            self.projectors[arg] = self.projectors[target]

    def check_static(self, model: nn.Module) -> None:
        """Compare channels of paired float inputs where the modules tell them."""
        channels = {}
        for arg, src in self.sources.items():
            if src.kind not in ('input', 'output'):
                continue
            module = resolve_module(model, src.path, src.text)
            known = static_channels(module, src.kind, src.index)
            if known is None:
                continue
            if arg in self.projectors:
                known = self.projectors[arg].out_channels if hasattr(self.projectors[arg], 'out_channels') else None
            if known is not None:
                channels[arg] = (known, src.text)
        if len({c for c, _ in channels.values()}) > 1:
            shown = ', '.join(f'{arg} <- {text}: {c} channels' for arg, (c, text) in channels.items())
            raise InjectionConfigError(f'term {self.name!r}: inputs of {type(self.loss).__name__} must have the '
                                       f'same channels, got {shown}')

    # ----------------------------------------------------------------- forward
    def _error(self, msg: str, values: Dict[str, object]) -> InjectionConfigError:
        shown = '; '.join(f'{arg} <- {self.sources[arg].text}: {describe(v)}' for arg, v in values.items())
        return InjectionConfigError(f'term {self.name!r} ({type(self.loss).__name__}): {msg}. Inputs: {shown}')

    def _split_channels(self, arg: str, value: torch.Tensor, values: Dict[str, object]) -> torch.Tensor:
        """``(B, A * C, H, W)`` -> ``(B * H * W * A, C)`` rows (``row_channels = C``)."""
        if value.shape[1] % self.row_channels:
            raise self._error(f'{arg!r} has {value.shape[1]} channels, not a multiple of row_channels='
                              f'{self.row_channels}', values)
        return value.permute(0, 2, 3, 1).reshape(-1, self.row_channels)

    def _level_rows(self, arg: str, levels: Sequence, values: Dict[str, object]) -> torch.Tensor:
        """The per-level values of ``arg`` as one tensor of rows, level after level."""
        if not levels or not all(isinstance(v, torch.Tensor) for v in levels):
            raise self._error(f'{arg!r} must be a list of tensors (one per level)', values)
        rows = []
        for value in levels:
            if not value.is_floating_point():
                rows.append(value.reshape(-1))  # per-level targets: (B, N_l) or (B * N_l, )
            elif value.dim() == 4 and self.row_channels is not None:
                rows.append(self._split_channels(arg, value, values))
            elif value.dim() == 4:
                rows.append(value.permute(0, 2, 3, 1).reshape(-1, value.shape[1]))
            elif value.dim() in (2, 3):
                rows.append(value.reshape(-1, value.shape[-1]))
            else:
                raise self._error(f'a level of {arg!r} must be (N, C), (B, L, C) or (B, C, H, W)', values)
        if len({r.dim() for r in rows}) > 1:
            raise self._error(f'the levels of {arg!r} mix features and labels', values)
        return torch.cat(rows)

    def _to_rows(self, values: Dict[str, object]) -> Dict[str, torch.Tensor]:
        if self.per_level:
            values = {arg: self._level_rows(arg, v, values) if isinstance(v, (list, tuple)) else v
                      for arg, v in values.items()}
        dense_hw = None
        rows = {}
        for arg, value in values.items():
            if not isinstance(value, torch.Tensor):
                hint = (' (a list per FPN level? set per_level=True on the term)'
                        if isinstance(value, (list, tuple)) else '')
                raise self._error(f'{arg!r} is not a tensor{hint}', values)
            if not value.is_floating_point():
                continue
            if value.dim() == 4 and self.row_channels is not None:
                value = self._split_channels(arg, value, values)
            elif value.dim() == 4:
                dense_hw = dense_hw or tuple(value.shape[2:])
                if tuple(value.shape[2:]) != dense_hw:
                    raise self._error('dense inputs have different spatial sizes', values)
                value = value.permute(0, 2, 3, 1).reshape(-1, value.shape[1])
            elif value.dim() == 3:
                value = value.reshape(-1, value.shape[-1])
            elif value.dim() != 2:
                raise self._error(f'{arg!r} must be (N, C), (B, L, C) or (B, C, H, W)', values)
            rows[arg] = value
        for arg, value in values.items():
            if value.is_floating_point():
                continue
            if value.dim() == 3:
                if dense_hw is None:
                    raise self._error(f'label map {arg!r} needs a dense (B, C, H, W) feature input', values)
                value = F.interpolate(value[:, None].float(), size=dense_hw, mode='nearest')[:, 0].long()
            elif value.dim() != 1:
                raise self._error(f'labels {arg!r} must be (N, ) or a (B, H, W) map', values)
            rows[arg] = value.reshape(-1)
        sizes = {arg: v.shape[0] for arg, v in rows.items()}
        if len(set(sizes.values())) > 1:
            raise self._error(f'inputs give different numbers of rows {sizes}', values)
        return rows

    def _select_rows(self, rows: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
        num = next(iter(rows.values())).shape[0]
        keep = torch.ones(num, dtype=torch.bool, device=next(iter(rows.values())).device)
        for value in rows.values():
            if not value.is_floating_point():
                for ignored in self.ignore_index:
                    keep &= value != ignored
        index = keep.nonzero().squeeze(1)
        if self.max_samples is not None and index.numel() > self.max_samples:
            index = index[torch.randperm(index.numel(), device=index.device)[:self.max_samples]]
        if index.numel() == num:
            return rows
        return {arg: value[index] for arg, value in rows.items()}

    def forward(self, values: Dict[str, object]) -> torch.Tensor:
        """Return the weighted loss of the tapped ``values`` (keyed by argument)."""
        inputs = dict(self._select_rows(self._to_rows(values)) if self.flatten else values)
        for arg, projector in self.projectors.items():
            value = inputs[arg]
            expected = getattr(projector, 'in_channels', None)
            if expected is not None and (value.dim() != 2 or value.shape[1] != expected):
                raise self._error(f'projector of {arg!r} takes (N, {expected}) rows, got {tuple(value.shape)}',
                                  values)
            inputs[arg] = projector(value)
        try:
            return self.loss(**inputs)
        except ValueError as err:
            raise self._error(f'the loss rejected its inputs ({err})', values) from err

    def extra_repr(self) -> str:
        srcs = ', '.join(f'{a}={s.text!r}' for a, s in self.sources.items())
        extra = (', per_level=True' if self.per_level else '') + (
            f', row_channels={self.row_channels}' if self.row_channels else '')
        return f'key={self.key!r}, {srcs}, ignore_index={self.ignore_index}, max_samples={self.max_samples}{extra}'


@MODELS.register_module()
class ContrastiveInjector(BaseModel):
    """Train any model with extra (contrastive) loss terms, config only.

    The wrapped model is built from its stock config and left untouched. Forward
    hooks on named submodules (and, for assigned targets, taps on methods such
    as ``bbox_head.get_targets``) record tensors during the model's own loss
    forward; each term turns them into a loss that is added to the loss dict as
    ``loss_<name>``, so it is logged, summed and back-propagated with the task
    losses. All logic runs in :meth:`loss`, so it works the same under
    ``MMDistributedDataParallel`` (which calls ``forward(mode='loss')``).

    Misconfiguration is reported at construction: an unknown submodule (with the
    closest names), a loss argument the loss does not take, projector channels
    that do not match the tapped module, paired inputs whose channels differ.
    Shapes that only show at run time (rows, label maps) raise
    :class:`InjectionConfigError` naming every source and shape on the first
    iteration, before any optimizer step.

    Example (stock Faster R-CNN plus SupCon on RoI features)::

        _base_ = 'mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py'
        model = dict(
            _delete_=True,
            type='mmcontrast.ContrastiveInjector',
            model=_base_.model,
            terms=[dict(
                name='supcon',
                loss=dict(type='mmcontrast.SupConLoss', temperature=0.2, loss_weight=0.1),
                inputs=dict(features='roi_head.bbox_head.fc_cls:input',
                            labels='roi_head.bbox_head.get_targets:return[0]'),
                projectors=dict(features=dict(out_channels=128)),
                ignore_index=80)])

    Args:
        model (dict | nn.Module): The wrapped model (config built with the
            current default scope, so ``type='FasterRCNN'`` resolves in mmdet
            configs).
        terms (List[dict]): Arguments of :class:`InjectedTerm`, one per term.
        data_preprocessor (dict, optional): Used by the wrapped model when its
            config has none (the runner passes a config's top-level
            ``data_preprocessor`` here). The wrapper always shares the wrapped
            model's preprocessor. Defaults to None.
        init_cfg (dict, optional): Initialisation config. Defaults to None.
    """

    def __init__(self,
                 model: Union[dict, nn.Module],
                 terms: List[dict],
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        if isinstance(model, dict):
            model = dict(model)
            if data_preprocessor is not None and model.get('data_preprocessor') is None:
                model['data_preprocessor'] = data_preprocessor
        child = MODELS.build(model) if isinstance(model, dict) else model
        if not isinstance(child, BaseModel):
            raise InjectionConfigError(f'ContrastiveInjector wraps an mmengine BaseModel, got {type(child).__name__}')
        super().__init__(data_preprocessor=child.data_preprocessor, init_cfg=init_cfg)
        self.model = child
        if not terms:
            raise InjectionConfigError('ContrastiveInjector needs at least one term')
        self.terms = nn.ModuleDict()
        for cfg in terms:
            term = InjectedTerm(**cfg)
            if term.name in self.terms:
                raise InjectionConfigError(f'two injected terms are named {term.name!r}')
            term.build_projectors(child)
            term.check_static(child)
            self.terms[term.name] = term
        tapped = [s for t in self.terms.values() for s in t.sources.values() if s.kind != 'data']
        self.recorder = TapRecorder(child, tapped)
        self._register_load_state_dict_pre_hook(self._accept_unwrapped_checkpoint)

    def _accept_unwrapped_checkpoint(self, state_dict: dict, prefix: str, *args) -> None:
        """Let checkpoints of the stock model (no ``model.`` prefix) load."""
        ours = (f'{prefix}model.', f'{prefix}terms.', f'{prefix}data_preprocessor.')
        keys = [k for k in state_dict if k.startswith(prefix)]
        if keys and not any(k.startswith(ours[0]) for k in keys):
            for key in keys:
                if not key.startswith(ours):
                    state_dict[f'{prefix}model.{key[len(prefix):]}'] = state_dict.pop(key)

    def forward(self,
                inputs: torch.Tensor,
                data_samples: Optional[List[BaseDataElement]] = None,
                mode: str = 'tensor'):
        """``mode='loss'`` adds the injected terms; other modes are the wrapped model's."""
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        return self.model(inputs, data_samples, mode=mode)

    def _tapped(self, term: InjectedTerm, src: Source):
        """The recorded value of ``src``; with ``term.per_level``, a list over all calls of a module."""
        calls = self.recorder.values.get(f'{src.kind}:{src.path}', [])
        if src.kind != 'return' and len(calls) > 1:
            if not term.per_level:
                raise InjectionConfigError(
                    f'term {term.name!r}: {src.path!r} ran {len(calls)} times in one forward. If these are the FPN '
                    'levels of a single-stage head (RetinaNet, FCOS, ATSS, ...), set per_level=True on the term: '
                    'the rows of every level are concatenated, level by level, as the per-level targets of '
                    'get_targets (docs/injection.md, "Single-stage detectors"); otherwise tap a module that runs '
                    'once per forward')
            return [select(value, src.index, src.text) for value in calls]
        value = self.recorder.get(src)
        return [value] if term.per_level and src.kind != 'return' else value

    def loss(self, inputs: torch.Tensor, data_samples: Optional[List[BaseDataElement]] = None) -> dict:
        """The wrapped model's losses plus ``loss_<name>`` for every term."""
        with self.recorder.recording():
            losses = self.model(inputs, data_samples, mode='loss')
        try:
            for term in self.terms.values():
                if term.key in losses:
                    raise InjectionConfigError(f'term {term.name!r}: the wrapped model already returns '
                                               f'{term.key!r}; rename the term')
                values = {
                    arg: (batch_data_field(data_samples, src) if src.kind == 'data' else self._tapped(term, src))
                    for arg, src in term.sources.items()
                }
                device = next(self.model.parameters()).device
                values = {arg: v.to(device) if isinstance(v, torch.Tensor) else v for arg, v in values.items()}
                losses[term.key] = term(values)
        finally:
            self.recorder.values = {}
        return losses
