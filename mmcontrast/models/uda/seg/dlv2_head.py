"""DeepLabV2 classifier head for mmseg 1.x (mmseg ships DeepLabV3/V3+ only)."""
from typing import List, Optional, Sequence

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
        summed_branches (int, optional): Sum only the first this many branches; the
            others are built (so checkpoints of DACS/EHTDI, which build four, load) but
            unused. Defaults to None (all).
    """

    def __init__(self,
                 in_channels: int,
                 num_classes: int,
                 dilations: Sequence[int],
                 std: float = 0.01,
                 summed_branches: Optional[int] = None) -> None:
        super().__init__()
        if summed_branches is not None and not 1 <= summed_branches <= len(dilations):
            raise ValueError(f'summed_branches must be in [1, {len(dilations)}] for dilations {tuple(dilations)}, '
                             f'got {summed_branches}')
        self.branches = nn.ModuleList(
            nn.Conv2d(in_channels, num_classes, 3, padding=d, dilation=d) for d in dilations)
        self.summed_branches = summed_branches or len(dilations)
        for conv in self.branches:
            nn.init.normal_(conv.weight, 0, std)
            nn.init.zeros_(conv.bias)

    def forward(self, x: Tensor) -> Tensor:
        return torch.stack([branch(x) for branch in self.branches[:self.summed_branches]]).sum(0)


@MODELS.register_module()
class DLV2Head(BaseDecodeHead):
    """DeepLabV2 head (Chen et al., TPAMI 2018): an ASPP *classifier*.

    Unlike mmseg's DeepLabV3 ``ASPPHead`` there is no image pooling, no BN and no
    bottleneck: each dilated branch predicts class logits and the branches are summed.

    The DeepLabV2 behind the published UDA numbers sums two branches only: the
    ``Classifier_Module`` of AdaptSegNet, copied by DACS (``model/deeplabv2.py`` L117-121)
    and EHTDI (``models/deeplab_multi.py`` L77-81), returns *inside* its loop over the four
    dilations, so only dilations 6 and 12 contribute. DAFormer keeps this on purpose as
    ``deeplabv2red`` with ``dilations=(6, 12)`` (``configs/_base_/models/deeplabv2red_r50-d8.py``).
    ``dilations=(6, 12)`` computes the same function; ``dilations=(6, 12, 18, 24),
    summed_branches=2`` also has the two unused convolutions of a DACS/EHTDI checkpoint.
    The ASPP classifier replaces ``conv_seg``, so the features entering ``conv_seg``
    (what an FCL feature hook sees) are the backbone features selected by ``in_index``.

    Args:
        dilations (Sequence[int]): Dilations of the branches. Defaults to (6, 12, 18, 24).
        summed_branches (int, optional): Sum only the first this many branches.
            Defaults to None (all).
        **kwargs: Arguments of :class:`BaseDecodeHead`; ``channels`` defaults to
            ``in_channels`` and ``dropout_ratio`` to 0 (no dropout, as DeepLabV2).
    """

    def __init__(self,
                 dilations: Sequence[int] = (6, 12, 18, 24),
                 summed_branches: Optional[int] = None,
                 **kwargs) -> None:
        kwargs.setdefault('channels', kwargs.get('in_channels'))
        kwargs.setdefault('dropout_ratio', 0.)
        kwargs.setdefault('init_cfg', None)
        super().__init__(**kwargs)
        if self.input_transform is not None:
            raise ValueError('DLV2Head takes one feature map: leave input_transform None')
        self.dilations = tuple(dilations)
        self.conv_seg = ASPPClassifier(
            self.in_channels, self.out_channels, self.dilations, summed_branches=summed_branches)

    def forward(self, inputs: List[Tensor]) -> Tensor:
        return self.cls_seg(self._transform_inputs(inputs))
