"""``StrictPretrained``: load a pretrained backbone or fail, naming what does not fit.

mmengine's ``Pretrained`` initializer loads with ``strict=False`` and only logs the
missing and unexpected keys, so a checkpoint of another architecture (an R-50 export
in a ResNetV1c-101 config: a plain stem against a deep stem, 16 blocks against 33)
leaves half the backbone at its random initialisation while training goes on. This
initializer compares the checkpoint with the module first and raises with the counts
(and the first few names) of the missing, unexpected and shape-mismatched tensors.
``allow_partial=True`` is the explicit opt-out: it loads what fits and warns.

It is registered as ``mmcontrast.StrictPretrained`` in mmengine's weight-initializer
registry (an ``mmcontrast`` child registry), so any mmdet/mmseg config can use it once
``mmcontrast.models`` is imported (every config that builds an ``mmcontrast.*`` model
does; otherwise add ``custom_imports=dict(imports=['mmcontrast.models'])``)::

    backbone=dict(init_cfg=dict(type='mmcontrast.StrictPretrained', checkpoint='r101v1c_mocov2.pth'))
"""
import logging
import re
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from mmengine.logging import print_log
from mmengine.model.weight_init import PretrainedInit, update_init_info
from mmengine.registry import WEIGHT_INITIALIZERS as MMENGINE_WEIGHT_INITIALIZERS
from mmengine.registry import Registry
from mmengine.runner.checkpoint import CheckpointLoader

import mmcontrast.registry as _registry


def _child_registry() -> Registry:
    existing = getattr(_registry, 'WEIGHT_INITIALIZERS', None)
    if existing is not None:
        return existing
    child = MMENGINE_WEIGHT_INITIALIZERS._search_child('mmcontrast')
    if child is not None and child is not MMENGINE_WEIGHT_INITIALIZERS:
        return child
    return Registry('weight initializer', parent=MMENGINE_WEIGHT_INITIALIZERS, scope='mmcontrast',
                    locations=['mmcontrast.models.backbones'])


WEIGHT_INITIALIZERS = _child_registry()

#: BN's step counter is not a learned tensor; checkpoints of older torch versions lack it
#: and mmengine's loader ignores it too.
_IGNORED_SUFFIXES = ('num_batches_tracked', )


def compare_state_dicts(state_dict: Dict[str, torch.Tensor],
                        target: Dict[str, torch.Tensor]) -> Tuple[List[str], List[str], List[str]]:
    """Missing, unexpected and shape-mismatched keys of ``state_dict`` against ``target``.

    Args:
        state_dict (dict): The checkpoint's tensors (after prefix selection).
        target (dict): ``module.state_dict()``.

    Returns:
        tuple[list[str], list[str], list[str]]: Keys of ``target`` absent from the
        checkpoint (``num_batches_tracked`` ignored), keys of the checkpoint absent
        from ``target``, and keys present in both with different shapes.
    """
    missing = [k for k in target if k not in state_dict and not k.endswith(_IGNORED_SUFFIXES)]
    unexpected = [k for k in state_dict if k not in target]
    mismatched = [
        k for k in state_dict
        if k in target and hasattr(state_dict[k], 'shape') and tuple(state_dict[k].shape) != tuple(target[k].shape)
    ]
    return missing, unexpected, mismatched


def _preview(keys: Sequence[str], limit: int = 5) -> str:
    shown = ', '.join(keys[:limit])
    return f'{shown}, ...' if len(keys) > limit else shown


@WEIGHT_INITIALIZERS.register_module(name='StrictPretrained')
class StrictPretrainedInit(PretrainedInit):
    """Initialise a module from a checkpoint that must fit it exactly.

    Args:
        checkpoint (str): Path, URL or ``open-mmlab://``/``torchvision://`` name
            (anything mmengine's ``CheckpointLoader`` reads).
        prefix (str, optional): Take only the keys under this prefix and strip it
            (``'backbone.'`` for a full pretraining or detector checkpoint).
            Defaults to None.
        map_location (str): Defaults to 'cpu'.
        allow_partial (bool): Load the tensors that fit and only warn about the
            rest, as mmengine's ``Pretrained`` does. Defaults to False (raise).
        revise_keys (Sequence[tuple[str, str]]): Regex substitutions applied to the
            checkpoint keys. Defaults to stripping DDP's ``module.``.

    Raises:
        RuntimeError: If keys are missing, unexpected or of another shape and
            ``allow_partial`` is False; the message gives the counts and names.
        KeyError: If ``prefix`` selects nothing.
    """

    def __init__(self,
                 checkpoint: str,
                 prefix: Optional[str] = None,
                 map_location: str = 'cpu',
                 allow_partial: bool = False,
                 revise_keys: Sequence[Tuple[str, str]] = ((r'^module\.', ''), )) -> None:
        super().__init__(checkpoint=checkpoint, prefix=prefix, map_location=map_location)
        self.allow_partial = allow_partial
        self.revise_keys = tuple(revise_keys)

    def _state_dict(self) -> Dict[str, torch.Tensor]:
        ckpt = CheckpointLoader.load_checkpoint(self.checkpoint, map_location=self.map_location)
        if isinstance(ckpt, dict):
            for key in ('state_dict', 'model'):
                if isinstance(ckpt.get(key), dict):
                    ckpt = ckpt[key]
                    break
        if not isinstance(ckpt, dict):
            raise TypeError(f'{self.checkpoint} holds no state dict')
        state = dict(ckpt)
        for pattern, repl in self.revise_keys:
            state = {re.sub(pattern, repl, k): v for k, v in state.items()}
        if self.prefix:
            selected = {k[len(self.prefix):]: v for k, v in state.items() if k.startswith(self.prefix)}
            if not selected:
                tops = sorted({k.split('.')[0] for k in state})
                raise KeyError(f'{self.checkpoint}: no key starts with {self.prefix!r}; top-level names: {tops}')
            state = selected
        return state

    def __call__(self, module: nn.Module) -> None:
        state = self._state_dict()
        target = module.state_dict()
        missing, unexpected, mismatched = compare_state_dicts(state, target)
        if missing or unexpected or mismatched:
            counted = [k for k in target if not k.endswith(_IGNORED_SUFFIXES)]
            msg = (f'pretrained checkpoint {self.checkpoint!r} (prefix={self.prefix!r}) does not fit '
                   f'{type(module).__name__}: {len(missing)} missing and {len(unexpected)} unexpected keys, '
                   f'{len(mismatched)} of another shape; {len(missing) + len(mismatched)} of its '
                   f'{len(counted)} tensors would keep their random initialisation.')
            details = [f'missing: {_preview(missing)}' if missing else '',
                       f'unexpected: {_preview(unexpected)}' if unexpected else '',
                       f'shape mismatch: {_preview(mismatched)}' if mismatched else '']
            msg = ' '.join([msg] + [d for d in details if d])
            if not self.allow_partial:
                raise RuntimeError(msg + ' Export the matching backbone (tools/model_converters/extract_backbone.py) '
                                   'or set allow_partial=True to load what fits.')
            print_log(msg + ' allow_partial=True: loading the tensors that fit.', logger='current',
                      level=logging.WARNING)
            state = {k: v for k, v in state.items() if k in target and k not in mismatched}
        module.load_state_dict(state, strict=False)
        print_log(f'loaded {len(state)} tensors from {self.checkpoint} (prefix={self.prefix!r}) into '
                  f'{type(module).__name__} (StrictPretrained, allow_partial={self.allow_partial})', logger='current')
        if hasattr(module, '_params_init_info'):
            update_init_info(module, init_info=self._get_init_info())

    def _get_init_info(self) -> str:
        return f'{self.__class__.__name__}: load from {self.checkpoint} (allow_partial={self.allow_partial})'
