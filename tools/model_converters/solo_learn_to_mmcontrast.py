# Copyright (c) mmcontrast contributors. Licensed under the Apache License 2.0.
"""Convert a solo-learn checkpoint (BYOL, SimSiam, MoCo v2+, DimCL runs) to mmcontrast.

    python tools/model_converters/solo_learn_to_mmcontrast.py byol-cifar10.ckpt out.pth --algo byol

solo-learn (Lightning) stores ``state_dict`` with a torchvision ResNet at ``backbone.*``
(``encoder.*`` in releases before 1.0), ``projector.*``, ``predictor.*``,
``momentum_backbone.*`` / ``momentum_projector.*`` and an online ``classifier.*``. The
ResNet keys are mmdet's already. Output keys follow the mmcontrast algorithm given by
``--algo``: ``backbone.*``, ``neck.mlp.*``, ``head.predictor.mlp.*`` and the momentum
encoder at ``target_net.module.*`` (BYOL) or ``momentum_encoder.module.*`` (MoCo).
The projector/predictor indices carry over because ``NonLinearNeck`` builds the same
``Linear, BN, ReLU, Linear`` sequence; solo-learn's hidden linears have biases, so set
``with_bias=True`` on the necks when loading them. Note that solo-learn's CIFAR stem conv
uses padding 2 where ``ResNetCIFAR`` uses 1 (same weight shape).
"""
import argparse
from collections import OrderedDict
from typing import Dict, List, Tuple

import torch

import mmcontrast  # noqa: F401  (checkpoint allowlist)

MOMENTUM_PREFIX = dict(byol='target_net.module.', mocov2='momentum_encoder.module.', simsiam=None)


def convert_solo_learn(state_dict: Dict[str, torch.Tensor],
                       algo: str = 'byol') -> Tuple['OrderedDict[str, torch.Tensor]', List[str]]:
    """Rename a solo-learn state dict; returns it and the keys without counterpart.

    Args:
        state_dict (dict): The Lightning checkpoint's ``state_dict``.
        algo (str): ``'byol'``, ``'mocov2'`` or ``'simsiam'``. Defaults to ``'byol'``.

    Returns:
        tuple: Converted state dict and dropped keys (``classifier.*``, solo-learn's
        two-queue ``queue`` of MoCo v2+, anything unknown).
    """
    if algo not in MOMENTUM_PREFIX:
        raise ValueError(f'algo must be one of {sorted(MOMENTUM_PREFIX)}, got {algo!r}')
    mom = MOMENTUM_PREFIX[algo]
    rules = [('backbone.', 'backbone.'), ('encoder.', 'backbone.'), ('projector.', 'neck.mlp.'),
             ('predictor.', 'head.predictor.mlp.')]
    if mom is not None:
        rules += [('momentum_backbone.', f'{mom}backbone.'), ('momentum_encoder.', f'{mom}backbone.'),
                  ('momentum_projector.', f'{mom}neck.mlp.')]
    out, dropped = OrderedDict(), []
    for key, value in state_dict.items():
        key_ = key[len('model.'):] if key.startswith('model.') else key
        for src, dst in sorted(rules, key=lambda r: -len(r[0])):  # momentum_* before shorter prefixes
            if key_.startswith(src):
                if key_.startswith(('backbone.fc.', 'encoder.fc.')):
                    break  # solo-learn replaces fc by Identity; nothing to keep
                out[dst + key_[len(src):]] = value
                break
        else:
            dropped.append(key)
            continue
    if not any(k.startswith('backbone.') for k in out):
        raise KeyError('no backbone.* / encoder.* keys: not a solo-learn checkpoint')
    return out, dropped


def main() -> None:
    parser = argparse.ArgumentParser(description='solo-learn checkpoint -> mmcontrast')
    parser.add_argument('src')
    parser.add_argument('dst')
    parser.add_argument('--algo', choices=sorted(MOMENTUM_PREFIX), default='byol')
    args = parser.parse_args()
    ckpt = torch.load(args.src, map_location='cpu', weights_only=True)
    state_dict = ckpt.get('state_dict', ckpt) if isinstance(ckpt, dict) else ckpt
    converted, dropped = convert_solo_learn(state_dict, args.algo)
    torch.save(dict(state_dict=converted, meta=dict(converted_from=args.src)), args.dst)
    print(f'wrote {len(converted)} tensors to {args.dst}; dropped {dropped or "nothing"}')


if __name__ == '__main__':
    main()
