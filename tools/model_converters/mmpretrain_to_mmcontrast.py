# Copyright (c) mmcontrast contributors. Licensed under the Apache License 2.0.
"""Convert an mmpretrain (or mmselfsup) MoCo v2 / BYOL / SimSiam checkpoint to mmcontrast.

    python tools/model_converters/mmpretrain_to_mmcontrast.py mocov2_resnet50_8xb32-coslr-200e_in1k.pth out.pth

mmpretrain 1.x (and mmselfsup 1.x) keep the online encoder at ``backbone.*`` / ``neck.*`` /
``head.predictor.*`` and the momentum encoder as an ``ExponentialMovingAverage`` of
``nn.Sequential(backbone, neck)``: ``encoder_k.module.{0,1}.*`` for MoCo
(``mmpretrain/models/selfsup/moco.py`` L65-66), ``target_net.module.{0,1}.*`` for BYOL
(``byol.py`` L55-56), with the EMA step counter at ``encoder_k.steps`` / ``target_net.steps``.
MoCo's queue is ``[feat_dim, queue_len]`` (``moco.py`` L70), ours ``[queue_len, feat_dim]``.
mmselfsup 0.x used ``encoder_q.{0,1}`` / ``encoder_k.{0,1}`` (MoCo) and ``online_net.{0,1}`` /
``target_net.{0,1}`` (BYOL) instead; both layouts convert.

The ResNet keys are mmdet's already. ``MoCoV2Neck`` is ``mlp.{0,2}`` as our MoCo neck; mmpretrain's
``NonLinearNeck`` names its layers ``fc<i>`` / ``bn<i>`` (``necks/nonlinear_neck.py`` L61-87), which
become ``mlp.<3i>`` / ``mlp.<3i+1>`` of our ``NonLinearNeck`` (``Linear, BN, ReLU`` per hidden layer).
The output loads into the matching mmcontrast config (``MoCo``, ``BYOL``, ``SimSiam``) with
``load_from``, or gives its backbone through ``extract_backbone.py`` (``--source momentum`` for
the key/target encoder).
"""
import argparse
import re
from collections import OrderedDict
from typing import Dict, List, Tuple

import torch

import mmcontrast  # noqa: F401  (checkpoint allowlist)

#: (source prefix, target prefix, part); part says which renaming applies to the rest of the key.
_RULES = [
    # mmpretrain / mmselfsup 1.x
    ('encoder_k.module.0.', 'momentum_encoder.module.backbone.', 'backbone'),
    ('encoder_k.module.1.', 'momentum_encoder.module.neck.', 'neck'),
    ('encoder_k.steps', 'momentum_encoder.steps', 'exact'),
    ('target_net.module.0.', 'target_net.module.backbone.', 'backbone'),
    ('target_net.module.1.', 'target_net.module.neck.', 'neck'),
    ('target_net.steps', 'target_net.steps', 'exact'),
    # mmselfsup 0.x (online copies also appear as backbone./neck.; the first seen wins)
    ('encoder_q.0.', 'backbone.', 'backbone'),
    ('encoder_q.1.', 'neck.', 'neck'),
    ('encoder_k.0.', 'momentum_encoder.module.backbone.', 'backbone'),
    ('encoder_k.1.', 'momentum_encoder.module.neck.', 'neck'),
    ('online_net.0.', 'backbone.', 'backbone'),
    ('online_net.1.', 'neck.', 'neck'),
    ('target_net.0.', 'target_net.module.backbone.', 'backbone'),
    ('target_net.1.', 'target_net.module.neck.', 'neck'),
    # the online encoder and the predictor
    ('backbone.', 'backbone.', 'backbone'),
    ('neck.', 'neck.', 'neck'),
    ('head.predictor.', 'head.predictor.', 'neck'),
]


def _neck_key(rest: str) -> str:
    """``fc<i>.*`` / ``bn<i>.*`` of mmpretrain's NonLinearNeck -> ``mlp.<index>.*``; others unchanged."""
    match = re.match(r'(fc|bn)(\d+)\.(.*)', rest)
    if not match:
        return rest  # MoCoV2Neck's mlp.<i>.* is ours already
    kind, layer, tail = match.group(1), int(match.group(2)), match.group(3)
    return f'mlp.{3 * layer + (1 if kind == "bn" else 0)}.{tail}'


def convert_mmpretrain(state_dict: Dict[str, torch.Tensor]) -> Tuple['OrderedDict[str, torch.Tensor]', List[str]]:
    """Rename an mmpretrain/mmselfsup MoCo/BYOL/SimSiam state dict; returns it and the dropped keys.

    Args:
        state_dict (dict): The checkpoint's ``state_dict``.

    Returns:
        tuple: The converted state dict and the keys without counterpart (e.g.
        ``data_preprocessor.*``, a linear ``head.fc``).
    """
    out, dropped = OrderedDict(), []
    for key, value in state_dict.items():
        if key in ('queue', 'queue_ptr'):
            # [feat_dim, queue_len] -> [queue_len, feat_dim]
            out[key] = value.t().contiguous() if key == 'queue' else value
            continue
        for src, dst, part in _RULES:
            if part == 'exact' and key == src:
                out.setdefault(dst, value)
                break
            if part != 'exact' and key.startswith(src):
                rest = key[len(src):]
                out.setdefault(dst + (_neck_key(rest) if part == 'neck' else rest), value)
                break
        else:
            dropped.append(key)
    if not any(k.startswith('backbone.') for k in out):
        raise KeyError('no backbone.* (or encoder_q.0. / online_net.0.) keys: not an mmpretrain/mmselfsup '
                       'self-supervised checkpoint')
    return out, dropped


def main() -> None:
    parser = argparse.ArgumentParser(description='mmpretrain/mmselfsup MoCo v2, BYOL, SimSiam checkpoint -> mmcontrast')
    parser.add_argument('src')
    parser.add_argument('dst')
    args = parser.parse_args()
    ckpt = torch.load(args.src, map_location='cpu', weights_only=True)
    state_dict = ckpt.get('state_dict', ckpt) if isinstance(ckpt, dict) else ckpt
    converted, dropped = convert_mmpretrain(state_dict)
    torch.save(dict(state_dict=converted, meta=dict(converted_from=args.src)), args.dst)
    print(f'wrote {len(converted)} tensors to {args.dst}; dropped {dropped or "nothing"}')


if __name__ == '__main__':
    main()
