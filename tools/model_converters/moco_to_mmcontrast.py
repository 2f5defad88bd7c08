# Copyright (c) mmcontrast contributors. Licensed under the Apache License 2.0.
"""Convert an official MoCo v2 / ASCL / PCL checkpoint to the mmcontrast layout.

    python tools/model_converters/moco_to_mmcontrast.py moco_v2_800ep_pretrain.pth.tar out.pth

The official repositories (facebookresearch/moco, MrChenFeng/ASCL, salesforce/PCL) keep
torchvision ResNets under ``module.encoder_q`` / ``module.encoder_k`` (ASCL's CIFAR code
without ``module.`` and with its backbone in ``encoder_q.net.<i>``, projector in
``encoder_q.projector``), the MLP head in ``fc.0``/``fc.2`` and the queue as ``[dim, K]``.
mmdet's ResNet uses torchvision's key names (``conv1``, ``bn1``, ``layer1.0.downsample.0``),
so the backbone keys carry over; the output is an mmcontrast ``MoCo``/``ASCL`` state dict:
``backbone.*``, ``neck.mlp.{0,2}.*``, ``momentum_encoder.module.{backbone,neck}.*`` and
``queue`` ``[K, dim]``. Load it with ``load_from`` or extract the backbone with
``extract_backbone.py``.
"""
import argparse
import re
from collections import OrderedDict
from typing import Dict, List, Tuple

import torch

import mmcontrast  # noqa: F401  (checkpoint allowlist)

# torchvision ResNet children in order, as ASCL's CIFAR ModelBase stacks them into
# nn.Sequential ``net`` (conv1, bn1, relu, [maxpool], layer1..4, avgpool, flatten).
_SEQ_WITH_POOL = ['conv1', 'bn1', 'relu', 'maxpool', 'layer1', 'layer2', 'layer3', 'layer4']
_SEQ_NO_POOL = ['conv1', 'bn1', 'relu', 'layer1', 'layer2', 'layer3', 'layer4']


def _strip_module(state_dict: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    return OrderedDict((k[len('module.'):] if k.startswith('module.') else k, v) for k, v in state_dict.items())


def _net_index_names(state_dict: Dict[str, torch.Tensor], encoder: str) -> List[str]:
    """Map ``<encoder>.net.<i>`` indices to torchvision names (max-pool present or not)."""
    indices = {int(m.group(1)) for k in state_dict for m in [re.match(rf'{encoder}\.net\.(\d+)\.', k)] if m}
    # layer4 holds parameters at index 7 with a max-pool, 6 without
    return _SEQ_WITH_POOL if 7 in indices else _SEQ_NO_POOL


def convert_moco(state_dict: Dict[str, torch.Tensor]) -> Tuple['OrderedDict[str, torch.Tensor]', List[str]]:
    """Rename an official MoCo/ASCL/PCL state dict; returns it and the dropped keys.

    Args:
        state_dict (dict): The checkpoint's ``state_dict``.

    Returns:
        tuple: The converted state dict and the keys that have no counterpart
        (e.g. ASCL's ``labels`` buffer, BYOL-form predictors, PCL's ``cluster_result``).
    """
    state_dict = _strip_module(state_dict)
    targets = {'encoder_q': '', 'encoder_k': 'momentum_encoder.module.'}
    names = {enc: _net_index_names(state_dict, enc) for enc in targets}
    out, dropped = OrderedDict(), []
    for key, value in state_dict.items():
        enc, _, rest = key.partition('.')
        if enc in targets:
            pre = targets[enc]
            net = re.match(r'net\.(\d+)\.(.*)', rest)
            if net:  # ASCL CIFAR layout
                out[f'{pre}backbone.{names[enc][int(net.group(1))]}.{net.group(2)}'] = value
            elif rest.startswith('projector.'):
                out[f'{pre}neck.mlp.{rest[len("projector."):]}'] = value
            elif rest.startswith('fc.'):
                out[f'{pre}neck.mlp.{rest[len("fc."):]}'] = value
            else:
                out[f'{pre}backbone.{rest}'] = value
        elif key == 'queue':
            out['queue'] = value.t().contiguous()  # [dim, K] -> [K, dim]
        elif key == 'queue_ptr':
            out['queue_ptr'] = value
        else:
            dropped.append(key)
    if not any(k.startswith('backbone.') for k in out):
        raise KeyError('no encoder_q.* keys found: not an official MoCo/ASCL/PCL checkpoint')
    return out, dropped


def main() -> None:
    parser = argparse.ArgumentParser(description='Official MoCo/ASCL/PCL checkpoint -> mmcontrast')
    parser.add_argument('src')
    parser.add_argument('dst')
    args = parser.parse_args()
    # The official files also pickle the optimizer and the argparse namespace: load
    # them with weights_only=True first; if that is refused, the user decides.
    ckpt = torch.load(args.src, map_location='cpu', weights_only=True)
    state_dict = ckpt.get('state_dict', ckpt) if isinstance(ckpt, dict) else ckpt
    converted, dropped = convert_moco(state_dict)
    torch.save(dict(state_dict=converted, meta=dict(converted_from=args.src)), args.dst)
    print(f'wrote {len(converted)} tensors to {args.dst}; dropped {dropped or "nothing"}')


if __name__ == '__main__':
    main()
