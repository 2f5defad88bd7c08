# Copyright (c) mmcontrast contributors. Licensed under the Apache License 2.0.
"""Write the backbone of a pretraining checkpoint as a backbone-only checkpoint.

    python tools/model_converters/extract_backbone.py work_dirs/x/epoch_200.pth r50_mocov2.pth

By default the keys lose their ``backbone.`` prefix, so the file loads like a torchvision
or ``open-mmlab://`` backbone in any mmdet/mmseg config::

    backbone=dict(type='ResNet', depth=50, init_cfg=dict(type='Pretrained', checkpoint='r50_mocov2.pth'))

With ``--keep-prefix`` the keys stay ``backbone.*``; load them with
``init_cfg=dict(type='Pretrained', checkpoint=..., prefix='backbone.')``.
``--source momentum`` takes the momentum/target encoder (MoCo, ASCL, ProtoNCE, PAUC, BYOL)
instead of the online one; besides mmcontrast's own checkpoints it finds the momentum
backbone of mmpretrain / mmselfsup 1.x (``encoder_k.module.0.*`` of ``MoCo``, ``target_net.module.0.*``
of ``BYOL``: mmpretrain ``models/selfsup/moco.py`` L65-66, ``byol.py`` L55-56), of mmselfsup 0.x
(``encoder_k.0.*``, ``target_net.0.*``) and of solo-learn (``momentum_backbone.*``). The
momentum encoders of mmcontrast keep their own BN statistics (``MomentumEncoder``), so the
export carries the key encoder's running statistics, as an official MoCo ``encoder_k`` would.

Load the export with ``init_cfg=dict(type='mmcontrast.StrictPretrained', checkpoint=...)`` to make
a backbone that does not fit an error instead of a warning (docs/selfsup.md).
"""
import argparse
import os
import os.path as osp
from collections import OrderedDict
from typing import Dict, Optional

import torch

import mmcontrast  # noqa: F401  (checkpoint allowlist for weights_only loading)

SOURCES = {
    'online': ('backbone.', ),
    'momentum': (
        'momentum_encoder.module.backbone.',  # mmcontrast MoCo / ASCL / ProtoNCE / PAUC
        'target_net.module.backbone.',  # mmcontrast BYOL
        'encoder_k.module.0.',  # mmpretrain / mmselfsup 1.x MoCo (v2)
        'target_net.module.0.',  # mmpretrain / mmselfsup 1.x BYOL
        'encoder_k.0.',  # mmselfsup 0.x MoCo
        'target_net.0.',  # mmselfsup 0.x BYOL
        'momentum_backbone.',  # solo-learn
    ),
}


def load_state_dict(path: str) -> Dict[str, torch.Tensor]:
    """The state dict of an mmengine/Lightning/plain checkpoint (``weights_only`` load)."""
    ckpt = torch.load(path, map_location='cpu', weights_only=True)
    if isinstance(ckpt, dict) and isinstance(ckpt.get('state_dict'), dict):
        ckpt = ckpt['state_dict']
    if not isinstance(ckpt, dict) or not all(isinstance(v, torch.Tensor) for v in ckpt.values()):
        raise ValueError(f'{path} holds no state dict of tensors')
    return ckpt


def extract_backbone(state_dict: Dict[str, torch.Tensor],
                     source: str = 'online',
                     keep_prefix: bool = False,
                     prefix: Optional[str] = None) -> 'OrderedDict[str, torch.Tensor]':
    """Select the backbone weights of a full model's state dict.

    Args:
        state_dict (dict): Keys of a self-supervisor (``backbone.*``, ``neck.*``,
            ``momentum_encoder.module.*`` ...) or a classifier.
        source (str): ``'online'`` or ``'momentum'``. Defaults to ``'online'``.
        keep_prefix (bool): Write ``backbone.<key>`` instead of ``<key>``.
            Defaults to False.
        prefix (str, optional): An explicit key prefix to select, overriding
            ``source``.

    Returns:
        OrderedDict: The backbone weights.
    """
    if source not in SOURCES and prefix is None:
        raise ValueError(f'source must be one of {sorted(SOURCES)}, got {source!r}')
    candidates = (prefix, ) if prefix is not None else SOURCES[source]
    for pre in candidates:
        selected = OrderedDict((k[len(pre):], v) for k, v in state_dict.items() if k.startswith(pre))
        if selected:
            break
    else:
        found = sorted({k.split('.')[0] for k in state_dict})
        raise KeyError(f'no key starts with {" or ".join(candidates)}; top-level names: {found}')
    if keep_prefix:
        selected = OrderedDict((f'backbone.{k}', v) for k, v in selected.items())
    return selected


def main() -> None:
    parser = argparse.ArgumentParser(description='Extract a backbone-only checkpoint')
    parser.add_argument('src', help='pretraining checkpoint (mmengine .pth)')
    parser.add_argument('dst', help='output file')
    parser.add_argument('--source', choices=sorted(SOURCES), default='online',
                        help='online encoder (default) or momentum/target encoder')
    parser.add_argument('--prefix', help='select keys by this prefix instead (e.g. "backbone.")')
    parser.add_argument('--keep-prefix', action='store_true', help='keep "backbone." in the keys')
    args = parser.parse_args()
    weights = extract_backbone(load_state_dict(args.src), args.source, args.keep_prefix, args.prefix)
    os.makedirs(osp.dirname(osp.abspath(args.dst)), exist_ok=True)
    torch.save(dict(state_dict=weights, meta=dict(source=osp.basename(args.src), encoder=args.source)), args.dst)
    # --prefix may select a whole model (e.g. 'student.' of a UDA checkpoint): say what was written.
    parts = sorted({k.split('.')[1 if args.keep_prefix else 0] for k in weights})
    what = f'model tensors ({", ".join(parts)})' if 'backbone' in parts else 'backbone tensors'
    print(f'wrote {len(weights)} {what} to {args.dst}')


if __name__ == '__main__':
    main()
