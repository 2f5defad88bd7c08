"""DAFormer's decode head (Hoyer et al., CVPR 2022) for mmseg 1.x.

Multi-level features are each embedded to ``embed_dims`` channels by a linear layer,
brought to the resolution of the first selected level, concatenated and fused. The
DAFormer fusion is context-aware: a depthwise-separable ASPP without image pooling
followed by a 3x3 bottleneck (``daformer_sepaspp_mitb5``); the plain variant fuses with
one 1x1 conv + BN + ReLU (``daformer_conv1_mitb5``, i.e. SegFormer with 256 embed dims).

Submodule names follow DAFormer's (``embed_layers.<i>.proj``, ``fuse_layer.aspp_modules``,
``fuse_layer.bottleneck``, ``conv_seg``), so the decode-head part of a DAFormer
checkpoint has the same keys and shapes here.
"""
from numbers import Integral
from typing import List, Optional, Sequence, Union

import torch
import torch.nn as nn
from mmcv.cnn import ConvModule
from mmseg.models.decode_heads.aspp_head import ASPPModule
from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.models.decode_heads.sep_aspp_head import DepthwiseSeparableASPPModule
from mmseg.models.utils import resize
from mmseg.utils import ConfigType, OptConfigType
from torch import Tensor

from mmcontrast.registry import MODELS

FUSIONS = ('aspp', 'conv1')


class LinearEmbedding(nn.Module):
    """Per-pixel linear projection of a feature map (DAFormer's / SegFormer's ``MLP``).

    A linear layer over the channel axis, i.e. a 1x1 conv with bias; kept as
    ``nn.Linear`` under the name ``proj`` so that DAFormer weights load unchanged.

    Args:
        in_channels (int): Channels of the input map.
        embed_dims (int): Channels of the output map.
    """

    def __init__(self, in_channels: int, embed_dims: int) -> None:
        super().__init__()
        self.proj = nn.Linear(in_channels, embed_dims)

    def forward(self, x: Tensor) -> Tensor:
        """Map an (N, C, H, W) tensor to (N, embed_dims, H, W)."""
        return self.proj(x.movedim(1, -1)).movedim(-1, 1)


class ASPPFusion(nn.Module):
    """DAFormer's ASPP fusion: parallel (dilated) branches, concatenated, then a 3x3 bottleneck.

    As in DAFormer's ``ASPPWrapper``: dilation 1 is a 1x1 ConvModule, every other
    dilation a 3x3 conv (depthwise-separable if ``sep``), each with norm + activation;
    an optional image-pooling branch; the bottleneck is a 3x3 ConvModule from
    ``(len(dilations) + pool) * channels`` to ``channels``. DAFormer's optional extra
    context layer is unused by its configs and not reproduced.

    Args:
        in_channels (int): Channels of the fused embeddings.
        channels (int): Channels of every branch and of the output.
        dilations (Sequence[int]): One branch per dilation. Defaults to (1, 6, 12, 18).
        sep (bool): Depthwise-separable 3x3 branches. Defaults to True.
        pool (bool): Add an image-pooling branch. Defaults to False.
        conv_cfg (dict, optional): Conv config of the ConvModules. Defaults to None.
        norm_cfg (dict, optional): Norm config of every conv. Defaults to
            ``dict(type='BN', requires_grad=True)``.
        act_cfg (dict): Activation config of every conv. Defaults to ``dict(type='ReLU')``.
        align_corners (bool): ``align_corners`` when broadcasting the pooled branch.
            Defaults to False.
    """

    def __init__(self,
                 in_channels: int,
                 channels: int,
                 dilations: Sequence[int] = (1, 6, 12, 18),
                 sep: bool = True,
                 pool: bool = False,
                 conv_cfg: OptConfigType = None,
                 norm_cfg: OptConfigType = dict(type='BN', requires_grad=True),
                 act_cfg: ConfigType = dict(type='ReLU'),
                 align_corners: bool = False) -> None:
        super().__init__()
        self.align_corners = align_corners
        # With BN the pooled branch needs batch size > 1 in training (a 1x1 map), one
        # reason DAFormer leaves it off.
        self.image_pool = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            ConvModule(in_channels, channels, 1, conv_cfg=conv_cfg, norm_cfg=norm_cfg,
                       act_cfg=act_cfg)) if pool else None
        # mmseg's ASPP modules build exactly DAFormer's branches (its copies of them come
        # from mmseg v0.16): 1x1 ConvModule for dilation 1, (separable) 3x3 otherwise.
        aspp = DepthwiseSeparableASPPModule if sep else ASPPModule
        self.aspp_modules = aspp(
            dilations=tuple(dilations), in_channels=in_channels, channels=channels, conv_cfg=conv_cfg,
            norm_cfg=norm_cfg, act_cfg=act_cfg)
        self.bottleneck = ConvModule(
            (len(dilations) + int(pool)) * channels, channels, 3, padding=1, conv_cfg=conv_cfg,
            norm_cfg=norm_cfg, act_cfg=act_cfg)

    def forward(self, x: Tensor) -> Tensor:
        """Fuse an (N, in_channels, H, W) map to (N, channels, H, W)."""
        outs = []
        if self.image_pool is not None:
            outs.append(resize(self.image_pool(x), size=x.shape[2:], mode='bilinear',
                               align_corners=self.align_corners))
        outs.extend(self.aspp_modules(x))
        return self.bottleneck(torch.cat(outs, dim=1))


@MODELS.register_module()
class DAFormerHead(BaseDecodeHead):
    """DAFormer decode head: linear per-level embeddings + context-aware (ASPP) fusion.

    Each selected level ``i`` is embedded by ``embed_layers[str(i)]`` (a linear layer to
    ``embed_dims[i]`` channels), resized (bilinear) to the first selected level's size,
    and the concatenation (``sum(embed_dims)`` channels) is fused to ``channels`` before
    dropout and ``conv_seg``. The defaults are DAFormer's ``daformer_sepaspp_mitb5``.

    Args:
        in_channels (Sequence[int]): Channels of the selected levels.
        channels (int): Channels of the fused features entering ``conv_seg``.
        embed_dims (int | Sequence[int]): Embedding channels, one for all levels or one
            per level. Defaults to 256.
        fusion (str): ``'aspp'`` (DAFormer's context-aware fusion) or ``'conv1'`` (one
            1x1 ConvModule, ``daformer_conv1_mitb5``). Defaults to ``'aspp'``.
        dilations (Sequence[int]): ASPP dilations (``fusion='aspp'`` only). Defaults to
            (1, 6, 12, 18).
        sep (bool): Depthwise-separable dilated ASPP branches (``fusion='aspp'`` only).
            Defaults to True.
        pool (bool): ASPP image-pooling branch (``fusion='aspp'`` only). Defaults to False.
        norm_cfg (dict, optional): Norm config of the fusion convs. Defaults to
            ``dict(type='BN', requires_grad=True)`` (DAFormer's; mmseg's base default is None).
        act_cfg (dict): Activation config of the fusion convs. Defaults to
            ``dict(type='ReLU')``.
        in_index (Sequence[int], optional): Indices of the backbone levels to use, one per
            ``in_channels`` entry. Defaults to None, i.e. ``range(len(in_channels))``.
        **kwargs: Other :class:`BaseDecodeHead` arguments (``num_classes``,
            ``dropout_ratio`` (0.1), ``align_corners``, ``loss_decode``, ...).
            ``input_transform`` is always ``'multiple_select'``.

    Raises:
        ValueError: On a fusion name other than ``FUSIONS``, an ``input_transform`` other
            than ``'multiple_select'``, a length mismatch between ``in_channels``,
            ``in_index`` and ``embed_dims``, repeated ``in_index`` entries, non-positive
            embed dims or dilations, or no dilations.
    """

    def __init__(self,
                 in_channels: Sequence[int],
                 channels: int,
                 *,
                 embed_dims: Union[int, Sequence[int]] = 256,
                 fusion: str = 'aspp',
                 dilations: Sequence[int] = (1, 6, 12, 18),
                 sep: bool = True,
                 pool: bool = False,
                 norm_cfg: OptConfigType = dict(type='BN', requires_grad=True),
                 act_cfg: ConfigType = dict(type='ReLU'),
                 in_index: Optional[Sequence[int]] = None,
                 **kwargs) -> None:
        # Validate before building anything: mmseg's own checks are bare asserts.
        if fusion not in FUSIONS:
            raise ValueError(f'fusion must be one of {FUSIONS}, got {fusion!r}')
        transform = kwargs.pop('input_transform', 'multiple_select')
        if transform != 'multiple_select':
            raise ValueError(f"DAFormerHead embeds every level separately: input_transform must be "
                             f"'multiple_select', got {transform!r}")
        if isinstance(in_channels, Integral) or not isinstance(in_channels, Sequence) or not in_channels:
            raise ValueError(f'in_channels must be a non-empty sequence (one entry per level), got {in_channels!r}')
        num_levels = len(in_channels)
        in_index = list(range(num_levels)) if in_index is None else in_index
        if isinstance(in_index, Integral) or len(in_index) != num_levels:
            raise ValueError(f'in_index {in_index!r} must have one entry per in_channels entry ({num_levels})')
        if len(set(in_index)) != num_levels:
            raise ValueError(f'in_index {in_index!r} repeats a level')
        embed_dims = [embed_dims] * num_levels if isinstance(embed_dims, Integral) else list(embed_dims)
        if len(embed_dims) != num_levels:
            raise ValueError(f'embed_dims {embed_dims} must be an int or have one entry per in_channels '
                             f'entry ({num_levels}: {list(in_channels)})')
        if min(embed_dims) <= 0:
            raise ValueError(f'embed_dims must be positive, got {embed_dims}')
        if fusion == 'aspp' and (not dilations or min(dilations) <= 0):
            raise ValueError(f'dilations must be a non-empty sequence of positive ints, got {dilations!r}')
        super().__init__(
            in_channels, channels, input_transform='multiple_select', in_index=list(in_index),
            norm_cfg=norm_cfg, act_cfg=act_cfg, **kwargs)
        self.embed_dims = embed_dims
        self.fusion = fusion

        # ModuleDict keyed by the backbone level, as DAFormer, for checkpoint compatibility.
        self.embed_layers = nn.ModuleDict({
            str(i): LinearEmbedding(c, d)
            for i, c, d in zip(self.in_index, self.in_channels, embed_dims)
        })
        if fusion == 'aspp':
            self.fuse_layer = ASPPFusion(
                sum(embed_dims), channels, dilations=dilations, sep=sep, pool=pool, conv_cfg=self.conv_cfg,
                norm_cfg=self.norm_cfg, act_cfg=self.act_cfg, align_corners=self.align_corners)
        else:
            self.fuse_layer = ConvModule(
                sum(embed_dims), channels, 1, conv_cfg=self.conv_cfg, norm_cfg=self.norm_cfg,
                act_cfg=self.act_cfg)

    def forward(self, inputs: List[Tensor]) -> Tensor:
        """Embed, upsample to the first selected level, concatenate, fuse and classify."""
        feats = self._transform_inputs(inputs)
        size = feats[0].shape[2:]
        embeds = []
        for i, x in zip(self.in_index, feats):
            e = self.embed_layers[str(i)](x)
            if e.shape[2:] != size:
                e = resize(e, size=size, mode='bilinear', align_corners=self.align_corners)
            embeds.append(e)
        return self.cls_seg(self.fuse_layer(torch.cat(embeds, dim=1)))
