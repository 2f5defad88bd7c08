"""State dicts in the layout of the published DAFormer / HRDA / MIC checkpoints (mmseg 0.16 forks).

Fabricated from the reference model definitions (line numbers of lhoyer/DAFormer at e6f6e04 and
lhoyer/HRDA at c370b5b; MIC's seg/ copies are the same files):

- MiT (``mmseg/models/backbones/mix_transformer.py``): ``OverlapPatchEmbed`` L153-185 (``proj``
  conv k7/s4 then k3/s2, ``norm``), ``Attention`` L49-107 (``q``, ``kv`` with ``qkv_bias=True`` for
  mit_b5 L537-550, ``proj``; ``sr`` conv + ``norm`` when ``sr_ratio > 1``), ``Mlp`` L22-46 with
  ``DWConv`` L442-454 (``fc1``, ``dwconv.dwconv``, ``fc2``), ``Block`` L110-150 (``norm1``,
  ``attn``, ``norm2``, ``mlp``), stages ``patch_embed<i>``/``block<i>``/``norm<i>`` L227-320.
- DAFormer head (``mmseg/models/decode_heads/daformer_head.py``): ``embed_layers[str(i)]`` =
  SegFormer ``MLP`` (``proj`` linear) L144-153, ``fuse_layer`` L155-156: ``ASPPWrapper`` L19-65
  (``aspp_modules`` = ``DepthwiseSeparableASPPModule``: 1x1 ConvModule for dilation 1, separable
  3x3 for 6/12/18; ``bottleneck`` 3x3 ConvModule) or a 1x1 ``ConvModule`` (``type='conv'``, L97-102);
  then ``conv_seg`` (``BaseDecodeHead``).
- HRDA head (HRDA ``mmseg/models/decode_heads/hrda_head.py`` L47-83): ``head`` (the DAFormer head)
  and ``scale_attention`` (a DAFormer head with 256 channels and a 1x1 conv fusion), no
  ``conv_seg`` of its own (deleted, L70-71).
- UDA model (``mmseg/models/uda/dacs.py`` L94-101, ``uda_decorator.py`` L38): ``model``,
  ``ema_model`` and ``imnet_model`` (a whole segmentor).
"""
from collections import OrderedDict
from typing import Dict, Sequence

import torch

MIT_B5 = dict(dims=(64, 128, 320, 512), depths=(3, 6, 40, 3), sr_ratios=(8, 4, 2, 1))
MIT_TINY = dict(dims=(8, 16, 40, 64), depths=(1, 2, 1, 1), sr_ratios=(8, 4, 2, 1))


def _bn(prefix: str, c: int) -> Dict[str, tuple]:
    return {f'{prefix}.weight': (c, ), f'{prefix}.bias': (c, ), f'{prefix}.running_mean': (c, ),
            f'{prefix}.running_var': (c, ), f'{prefix}.num_batches_tracked': ()}


def mit_shapes(dims: Sequence[int], depths: Sequence[int], sr_ratios: Sequence[int]) -> Dict[str, tuple]:
    """Key -> shape of DAFormer's MixVisionTransformer (mlp_ratio 4, qkv_bias)."""
    shapes = OrderedDict()
    in_ch = 3
    for i, (c, depth, sr) in enumerate(zip(dims, depths, sr_ratios), start=1):
        k = 7 if i == 1 else 3
        shapes.update({f'patch_embed{i}.proj.weight': (c, in_ch, k, k), f'patch_embed{i}.proj.bias': (c, ),
                       f'patch_embed{i}.norm.weight': (c, ), f'patch_embed{i}.norm.bias': (c, )})
        for j in range(depth):
            b = f'block{i}.{j}'
            shapes.update({
                f'{b}.norm1.weight': (c, ), f'{b}.norm1.bias': (c, ),
                f'{b}.attn.q.weight': (c, c), f'{b}.attn.q.bias': (c, ),
                f'{b}.attn.kv.weight': (2 * c, c), f'{b}.attn.kv.bias': (2 * c, ),
                f'{b}.attn.proj.weight': (c, c), f'{b}.attn.proj.bias': (c, ),
            })
            if sr > 1:
                shapes.update({f'{b}.attn.sr.weight': (c, c, sr, sr), f'{b}.attn.sr.bias': (c, ),
                               f'{b}.attn.norm.weight': (c, ), f'{b}.attn.norm.bias': (c, )})
            shapes.update({
                f'{b}.norm2.weight': (c, ), f'{b}.norm2.bias': (c, ),
                f'{b}.mlp.fc1.weight': (4 * c, c), f'{b}.mlp.fc1.bias': (4 * c, ),
                f'{b}.mlp.dwconv.dwconv.weight': (4 * c, 1, 3, 3), f'{b}.mlp.dwconv.dwconv.bias': (4 * c, ),
                f'{b}.mlp.fc2.weight': (c, 4 * c), f'{b}.mlp.fc2.bias': (c, ),
            })
        shapes.update({f'norm{i}.weight': (c, ), f'norm{i}.bias': (c, )})
        in_ch = c
    return shapes


def daformer_head_shapes(in_channels: Sequence[int], embed: int = 256, channels: int = 256,
                         num_classes: int = 19, fusion: str = 'aspp') -> Dict[str, tuple]:
    """Key -> shape of DAFormer's head: 'aspp' (daformer_sepaspp) or 'conv' (1x1 fusion)."""
    shapes = OrderedDict()
    for i, c in enumerate(in_channels):
        shapes.update({f'embed_layers.{i}.proj.weight': (embed, c), f'embed_layers.{i}.proj.bias': (embed, )})
    fused = embed * len(in_channels)
    if fusion == 'aspp':
        shapes['fuse_layer.aspp_modules.0.conv.weight'] = (channels, fused, 1, 1)
        shapes.update(_bn('fuse_layer.aspp_modules.0.bn', channels))
        for k in (1, 2, 3):  # dilations 6, 12, 18: depthwise-separable
            m = f'fuse_layer.aspp_modules.{k}'
            shapes[f'{m}.depthwise_conv.conv.weight'] = (fused, 1, 3, 3)
            shapes.update(_bn(f'{m}.depthwise_conv.bn', fused))
            shapes[f'{m}.pointwise_conv.conv.weight'] = (channels, fused, 1, 1)
            shapes.update(_bn(f'{m}.pointwise_conv.bn', channels))
        shapes['fuse_layer.bottleneck.conv.weight'] = (channels, 4 * channels, 3, 3)
        shapes.update(_bn('fuse_layer.bottleneck.bn', channels))
    else:
        shapes['fuse_layer.conv.weight'] = (channels, fused, 1, 1)
        shapes.update(_bn('fuse_layer.bn', channels))
    shapes.update({'conv_seg.weight': (num_classes, channels, 1, 1), 'conv_seg.bias': (num_classes, )})
    return shapes


def hrda_head_shapes(in_channels: Sequence[int], embed: int = 256, channels: int = 256, attention_dim: int = 256,
                     num_classes: int = 19) -> Dict[str, tuple]:
    """Key -> shape of HRDA's head: ``head`` (DAFormer, ASPP) and ``scale_attention`` (DAFormer, 1x1 conv)."""
    shapes = OrderedDict()
    for k, v in daformer_head_shapes(in_channels, embed, channels, num_classes, 'aspp').items():
        shapes[f'head.{k}'] = v
    for k, v in daformer_head_shapes(in_channels, attention_dim, attention_dim, num_classes, 'conv').items():
        shapes[f'scale_attention.{k}'] = v
    return shapes


def materialize(shapes: Dict[str, tuple], device: str = 'cpu', seed: int = 0) -> 'OrderedDict[str, torch.Tensor]':
    """Tensors of the given shapes: random values (positive variances), or meta tensors."""
    gen = torch.Generator().manual_seed(seed)
    out = OrderedDict()
    for key, shape in shapes.items():
        if device == 'meta':
            out[key] = torch.empty(shape, device='meta', dtype=torch.long if 'num_batches' in key else torch.float)
        elif key.endswith('num_batches_tracked'):
            out[key] = torch.tensor(100)
        elif key.endswith('running_var'):
            out[key] = torch.rand(shape, generator=gen) + 0.5
        elif key.endswith(('norm.weight', 'norm1.weight', 'norm2.weight')) or '.norm' in key and 'weight' in key:
            out[key] = 1 + 0.1 * torch.randn(shape, generator=gen)
        else:
            out[key] = 0.2 * torch.randn(shape, generator=gen)
    return out


def uda_checkpoint(backbone: Dict[str, tuple], head: Dict[str, tuple], device: str = 'cpu') -> Dict[str, torch.Tensor]:
    """``model.*``, ``ema_model.*`` and ``imnet_model.*`` (all three whole segmentors)."""
    state = OrderedDict()
    for seed, net in enumerate(('model', 'ema_model', 'imnet_model')):
        for part, shapes in (('backbone', backbone), ('decode_head', head)):
            for k, v in materialize(shapes, device, seed=10 * seed + (part == 'decode_head')).items():
                state[f'{net}.{part}.{k}'] = v
    return state
