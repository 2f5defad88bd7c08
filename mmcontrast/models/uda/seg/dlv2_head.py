"""DeepLabV2 classifier head for mmseg 1.x (mmseg ships DeepLabV3/V3+ only)."""
from typing import List, Sequence

import torch
import torch.nn as nn
from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from torch import Tensor

from mmcontrast.registry import MODELS


class ASPPClassifier(nn.Module):
    """Sum of parallel dilated 3x3 convolutions that map features to class logits.

    Args:
        in_channels (int): Input channels.
        num_classes (int): Output channels.
        dilations (Sequence[int]): One branch per dilation.
        std (float): Std of the normal weight init (bias 0). Defaults to 0.01.
    """

    def __init__(self, in_channels: int, num_classes: int, dilations: Sequence[int], std: float = 0.01) -> None:
        super().__init__()
        self.branches = nn.ModuleList(
            nn.Conv2d(in_channels, num_classes, 3, padding=d, dilation=d) for d in dilations)
        for conv in self.branches:
            nn.init.normal_(conv.weight, 0, std)
            nn.init.zeros_(conv.bias)

    def forward(self, x: Tensor) -> Tensor:
        return torch.stack([branch(x) for branch in self.branches]).sum(0)


@MODELS.register_module()
class DLV2Head(BaseDecodeHead):
    """DeepLabV2 head (Chen et al., TPAMI 2018): an ASPP *classifier*.

    Unlike mmseg's DeepLabV3 ``ASPPHead`` there is no image pooling, no BN and no
    bottleneck: each dilated branch predicts class logits and the branches are summed.
    The ASPP classifier replaces ``conv_seg``, so the features entering ``conv_seg``
    (what an FCL feature hook sees) are the backbone features selected by ``in_index``.

    Args:
        dilations (Sequence[int]): Dilations of the branches. Defaults to (6, 12, 18, 24).
        **kwargs: Arguments of :class:`BaseDecodeHead`; ``channels`` defaults to
            ``in_channels`` and ``dropout_ratio`` to 0 (no dropout, as DeepLabV2).
    """

    def __init__(self, dilations: Sequence[int] = (6, 12, 18, 24), **kwargs) -> None:
        kwargs.setdefault('channels', kwargs.get('in_channels'))
        kwargs.setdefault('dropout_ratio', 0.)
        kwargs.setdefault('init_cfg', None)
        super().__init__(**kwargs)
        if self.input_transform is not None:
            raise ValueError('DLV2Head takes one feature map: leave input_transform None')
        self.dilations = tuple(dilations)
        self.conv_seg = ASPPClassifier(self.in_channels, self.out_channels, self.dilations)

    def forward(self, inputs: List[Tensor]) -> Tensor:
        return self.cls_seg(self._transform_inputs(inputs))
