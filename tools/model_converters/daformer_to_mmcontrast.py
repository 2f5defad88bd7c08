# Copyright (c) mmcontrast contributors. Licensed under the Apache License 2.0.
"""Convert the published DAFormer, HRDA and MIC checkpoints to mmcontrast's DACSSegmentor.

    python tools/model_converters/daformer_to_mmcontrast.py SRC DST [--source auto|daformer|hrda|mic]
                                                            [--config CONFIG]

The checkpoints of lhoyer/DAFormer, lhoyer/HRDA and lhoyer/MIC (mmseg 0.16 forks) hold the
whole UDA model: ``model.*`` (the student), ``ema_model.*`` (the EMA teacher) and
``imnet_model.*`` (the frozen ImageNet model of the feature distance). They become

=====================================  ==========================================
published (mmseg 0.16)                 mmcontrast (mmseg 1.x)
=====================================  ==========================================
``model.backbone.<MiT 0.x>``           ``student.backbone.<MiT 1.x>``
``model.decode_head.*``                ``student.decode_head.*`` (same names)
``ema_model.backbone.<MiT 0.x>``       ``teacher.module.backbone.<MiT 1.x>``
``ema_model.decode_head.*``            ``teacher.module.decode_head.*``
``imnet_model.backbone.<MiT 0.x>``     ``feature_dist.backbone.<MiT 1.x>``
``imnet_model.decode_head.*``          dropped (the feature distance uses the backbone)
``meta.iter``                          ``teacher.steps`` (EMA updates done)
``mic.teacher.*`` (some MIC ablations)  dropped with a warning (a training-only teacher)
=====================================  ==========================================

MiT keys are renamed by mmseg 1.x's own ``tools/model_converters/mit2mmseg.py``
(``convert_mit``): ``patch_embed<i>`` -> ``layers.<i-1>.0`` (``proj`` -> ``projection``),
``block<i>.<j>`` -> ``layers.<i-1>.1.<j>`` (``attn.q`` + ``attn.kv`` concatenated into
``attn.attn.in_proj_*``, ``attn.proj`` -> ``attn.attn.out_proj``, ``mlp.fc1/dwconv.dwconv/fc2``
-> ``ffn.layers.0/1/4`` as 1x1/3x3 convs), ``norm<i>`` -> ``layers.<i-1>.2``. The decode heads
keep their names: ``mmcontrast.DAFormerHead`` uses DAFormer's, and ``mmcontrast.HRDAHead`` holds
HRDA's ``head`` and ``scale_attention`` (both DAFormer heads).

The result is checked against the config (default: ``daformer_mit-b5_1xb2-40k_gta2cs-512x512.py``
for DAFormer, ``hrda_mit-b5_1xb2-40k_gtaHR2csHR-1024x1024.py`` for HRDA and MIC): every key
and shape must match, then ``tools/test.py CONFIG DST`` evaluates it. See
docs/published_checkpoints.md for the download links and the papers' numbers.
"""
import argparse
import importlib.util
import os
import os.path as osp
import pickle
import sys
import warnings
from collections import OrderedDict
from typing import Callable, Dict, Optional, Tuple
from unittest import mock

import torch

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEFAULT_CONFIGS = {
    'daformer': 'configs/uda_seg/daformer_mit-b5_1xb2-40k_gta2cs-512x512.py',
    'hrda': 'configs/uda_seg/hrda_mit-b5_1xb2-40k_gtaHR2csHR-1024x1024.py',
    'mic': 'configs/uda_seg/mic-hrda_mit-b5_1xb2-40k_gtaHR2csHR-1024x1024.py',
}
# published network prefix -> (mmcontrast prefix, parts kept)
NETWORKS = {
    'model.': ('student.', ('backbone.', 'decode_head.')),
    'ema_model.': ('teacher.module.', ('backbone.', 'decode_head.')),
    'imnet_model.': ('feature_dist.', ('backbone.', )),
}
# The published models trained 40k iterations; used when the checkpoint's meta has no 'iter'.
DEFAULT_ITERS = 40000


def load_convert_mit() -> Callable[[Dict[str, torch.Tensor]], 'OrderedDict[str, torch.Tensor]']:
    """mmseg 1.x's ``convert_mit`` (``tools/model_converters/mit2mmseg.py``, shipped in ``mmseg/.mim``)."""
    import mmseg
    path = osp.join(osp.dirname(mmseg.__file__), '.mim', 'tools', 'model_converters', 'mit2mmseg.py')
    if not osp.isfile(path):
        raise FileNotFoundError(f'{path} is missing: this mmsegmentation install has no tools; reinstall '
                                'mmsegmentation==1.2.2 from PyPI (its wheel ships mmseg/.mim/tools)')
    spec = importlib.util.spec_from_file_location('_mmseg_mit2mmseg', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.convert_mit


def detect_source(state_dict: Dict[str, torch.Tensor]) -> str:
    """``'hrda'`` if the decode head has HRDA's scale attention, else ``'daformer'``.

    MIC checkpoints are HRDA models: they cannot be told apart, and need not be.
    """
    if any(k.startswith('model.decode_head.scale_attention.') for k in state_dict):
        return 'hrda'
    if any(k.startswith('model.decode_head.embed_layers.') for k in state_dict):
        return 'daformer'
    found = sorted({'.'.join(k.split('.')[:3]) for k in state_dict})[:12]
    raise KeyError(f'neither a DAFormer nor an HRDA/MIC checkpoint: no model.decode_head.embed_layers.* or '
                   f'model.decode_head.scale_attention.* key; found {found}')


def convert_hoyer_checkpoint(state_dict: Dict[str, torch.Tensor],
                             source: str = 'auto',
                             iters: int = DEFAULT_ITERS) -> Tuple['OrderedDict[str, torch.Tensor]', str]:
    """Rename a DAFormer/HRDA/MIC state dict to DACSSegmentor's (see the module docstring).

    Args:
        state_dict (dict): The ``state_dict`` of the published checkpoint.
        source (str): ``'auto'``, ``'daformer'``, ``'hrda'`` or ``'mic'``. Defaults to 'auto'.
        iters (int): EMA updates of the teacher (``teacher.steps``). Defaults to 40000.

    Returns:
        tuple: The converted state dict and the detected source.

    Raises:
        KeyError: If the checkpoint has no ``model.*`` network, is not of ``source``, or
            has a key this converter does not know (nothing is dropped silently).
    """
    detected = detect_source(state_dict)
    if source != 'auto' and {'mic': 'hrda'}.get(source, source) != detected:
        raise KeyError(f'--source {source}, but the checkpoint is a {detected} model '
                       f'({"has" if detected == "hrda" else "has no"} decode_head.scale_attention)')
    source = detected if source == 'auto' else source
    convert_mit = load_convert_mit()
    out = OrderedDict()
    # MIC with mask_alpha / mask_pseudo_threshold != 'same' keeps a second EMA teacher for the
    # masked images (MIC seg/mmseg/models/uda/masking_consistency_module.py L33-37): training only.
    mic = [k for k in state_dict if k.startswith('mic.')]
    if mic:
        warnings.warn(f"dropped {len(mic)} keys of MIC's separate masking teacher (mic.*): it only trains")
        state_dict = {k: v for k, v in state_dict.items() if not k.startswith('mic.')}
    unknown = [k for k in state_dict if not k.startswith(tuple(NETWORKS))]
    if unknown:
        raise KeyError(f'keys outside model.* / ema_model.* / imnet_model.*: {unknown[:8]}')
    for src, (dst, parts) in NETWORKS.items():
        net = {k[len(src):]: v for k, v in state_dict.items() if k.startswith(src)}
        if not net:
            continue
        stray = [k for k in net if not k.startswith(('backbone.', 'decode_head.'))]
        if stray:
            raise KeyError(f'{src}* has keys outside backbone/decode_head: {[src + k for k in stray[:8]]}')
        backbone = {k[len('backbone.'):]: v for k, v in net.items() if k.startswith('backbone.')}
        for key, value in convert_mit(backbone).items():
            out[f'{dst}backbone.{key}'] = value
        if 'decode_head.' in parts:
            for key, value in net.items():
                if key.startswith('decode_head.'):
                    out[f'{dst}{key}'] = value
    if 'student.backbone.layers.0.0.projection.weight' not in out:
        raise KeyError('the checkpoint has no model.backbone.patch_embed1.* (the student MiT)')
    if any(k.startswith('teacher.module.') for k in out):
        out['teacher.steps'] = torch.tensor(int(iters), dtype=torch.long)
    return out, source


def _build_on_meta(config: str, cfg_options: Optional[dict] = None):
    """Build the config's model with meta tensors (no memory, no weights)."""
    from mmengine.config import Config
    from mmengine.registry import DefaultScope

    import mmcontrast.models  # noqa: F401
    from mmcontrast.registry import MODELS
    cfg = Config.fromfile(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    seg = cfg.model.get('segmentor', cfg.model)
    seg.backbone.init_cfg = None
    cpu_linspace = torch.linspace  # MiT reads its drop-path rates with .item()
    with DefaultScope.overwrite_default_scope('mmseg'), torch.device('meta'), mock.patch.object(
            torch, 'linspace', lambda *a, **k: cpu_linspace(*a, **dict(k, device='cpu'))):
        return MODELS.build(cfg.model)


def check_against_config(converted: Dict[str, torch.Tensor], config: str,
                         cfg_options: Optional[dict] = None) -> None:
    """Raise unless ``converted`` has exactly the keys and shapes of ``config``'s model.

    Args:
        converted (dict): The converted state dict.
        config (str): A DACSSegmentor config.
        cfg_options (dict, optional): Overrides merged into the config. Defaults to None.

    Raises:
        KeyError: Naming the missing, unexpected and mis-shaped keys.
    """
    expected = {k: tuple(v.shape) for k, v in _build_on_meta(config, cfg_options).state_dict().items()}
    missing = sorted(set(expected) - set(converted))
    unexpected = sorted(set(converted) - set(expected))
    shapes = sorted(k for k in set(expected) & set(converted) if tuple(converted[k].shape) != expected[k])
    if missing or unexpected or shapes:
        hint = ''
        if any(k.startswith('feature_dist.') for k in missing):
            hint = ' (the checkpoint has no imnet_model: add --cfg-options model.imnet_feature_dist=None)'
        raise KeyError(f'converted keys do not fit {config}{hint}: {len(missing)} missing {missing[:6]}, '
                       f'{len(unexpected)} unexpected {unexpected[:6]}, {len(shapes)} of another shape '
                       f'{[(k, tuple(converted[k].shape), expected[k]) for k in shapes[:4]]}')


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description='Convert a DAFormer / HRDA / MIC checkpoint to mmcontrast')
    parser.add_argument('src', help='published checkpoint (e.g. work_dirs/.../latest.pth or iter_40000.pth)')
    parser.add_argument('dst', help='output checkpoint for the mmcontrast config')
    parser.add_argument('--source', choices=['auto', 'daformer', 'hrda', 'mic'], default='auto')
    parser.add_argument('--config', help='mmcontrast config to check the keys against (default: by source)')
    parser.add_argument('--no-check', action='store_true', help='do not check the keys against the config')
    parser.add_argument('--trust-checkpoint', action='store_true',
                        help='load with weights_only=False (runs the pickle: only for files you trust)')
    args = parser.parse_args(argv)

    import mmcontrast  # noqa: F401  (checkpoint allowlist)
    try:
        ckpt = torch.load(args.src, map_location='cpu', weights_only=not args.trust_checkpoint)
    except pickle.UnpicklingError as err:
        print(f'daformer_to_mmcontrast: {args.src} holds objects that weights_only loading refuses ({err}).\n'
              "If you trust the file (e.g. downloaded from the authors' links), pass --trust-checkpoint.",
              file=sys.stderr)
        return 1
    state = ckpt.get('state_dict', ckpt)
    meta = ckpt.get('meta') or {}
    converted, source = convert_hoyer_checkpoint(state, args.source, meta.get('iter') or DEFAULT_ITERS)
    config = args.config or osp.join(ROOT, DEFAULT_CONFIGS[source])
    if not args.no_check:
        try:
            check_against_config(converted, config)
        except KeyError as err:
            print(f'daformer_to_mmcontrast: {err}', file=sys.stderr)
            return 1
    dataset_meta = None
    if meta.get('CLASSES') is not None:  # mmseg 0.x checkpoints carry CLASSES / PALETTE
        dataset_meta = dict(classes=list(meta['CLASSES']),
                            palette=[list(map(int, c)) for c in meta.get('PALETTE') or []] or None)
    out_meta = dict(converted_from=dict(file=osp.basename(args.src), source=source), iter=meta.get('iter'))
    if dataset_meta:
        out_meta['dataset_meta'] = {k: v for k, v in dataset_meta.items() if v is not None}
    os.makedirs(osp.dirname(osp.abspath(args.dst)), exist_ok=True)
    torch.save(dict(state_dict=converted, meta=out_meta), args.dst)
    print(f'wrote {len(converted)} tensors of the {source} checkpoint to {args.dst}; evaluate with\n'
          f'  python tools/test.py {osp.relpath(config, ROOT) if config.startswith(ROOT) else config} {args.dst}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
