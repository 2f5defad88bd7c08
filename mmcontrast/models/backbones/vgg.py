"""VGG backbone for mmdet detectors, with torchvision's parameter names (``features.<index>``).

mmdet 3 ships only ``SSDVGG`` (VGG with SSD's extra layers); detectors such as Adaptive
Teacher's Faster R-CNN use plain VGG16 stages. Torchvision's ImageNet checkpoints
(``vgg16-397923af.pth``, ``vgg16_bn-6c64b313.pth``) load into this module as they are, since
the layers live in ``self.features`` at torchvision's indices (``make_layers`` of
``torchvision/models/vgg.py``); their ``classifier.*`` keys are not used.
"""
from typing import List, Optional, Sequence, Tuple

import torch.nn as nn
from mmengine.model import BaseModule
from torch import Tensor

from mmcontrast.registry import MODELS

# Convolutions per stage (each stage ends with a 2x2 max pool), torchvision's configurations A/B/D/E.
_STAGE_BLOCKS = {11: (1, 1, 2, 2, 2), 13: (2, 2, 2, 2, 2), 16: (2, 2, 3, 3, 3), 19: (2, 2, 4, 4, 4)}
_STAGE_CHANNELS = (64, 128, 256, 512, 512)


@MODELS.register_module()
class VGG(BaseModule):
    """VGG (optionally with BatchNorm) whose stage outputs feed a detector.

    Stage ``i`` ends with its max pool, so its output has stride ``2 ** (i + 1)``: stage 4
    is Adaptive Teacher's ``vgg4`` (512 channels, stride 32; ``adapteacher/modeling/
    meta_arch/vgg.py`` L76-80 splits ``vgg16_bn``'s layers the same way).

    Args:
        depth (int): 11, 13, 16 or 19. Defaults to 16.
        with_bn (bool): BatchNorm after every convolution (torchvision's ``vgg*_bn``).
            Defaults to True (Adaptive Teacher's backbone, ``vgg.py`` L62).
        out_indices (Sequence[int]): Stages whose outputs are returned, in order.
            Defaults to (4, ).
        frozen_stages (int): Stages ``0 .. frozen_stages - 1`` are frozen (eval mode,
            no gradient); -1 freezes none. Defaults to -1.
        norm_eval (bool): Keep every BatchNorm in eval mode (frozen statistics) while
            training. Defaults to False (Adaptive Teacher trains them).
        init_cfg (dict or list[dict], optional): Defaults to torchvision's and Adaptive
            Teacher's from-scratch initialisation (Kaiming-normal fan-out convolutions
            with zero bias, BN weight 1 and bias 0). ImageNet weights:
            ``dict(type='Pretrained', checkpoint='https://download.pytorch.org/models/vgg16_bn-6c64b313.pth')``.
    """

    def __init__(self,
                 depth: int = 16,
                 with_bn: bool = True,
                 out_indices: Sequence[int] = (4, ),
                 frozen_stages: int = -1,
                 norm_eval: bool = False,
                 init_cfg: Optional[dict] = None) -> None:
        if init_cfg is None:
            init_cfg = [
                dict(type='Kaiming', layer='Conv2d', mode='fan_out', nonlinearity='relu', bias=0.0),
                dict(type='Constant', layer='BatchNorm2d', val=1.0, bias=0.0),
            ]
        super().__init__(init_cfg=init_cfg)
        if depth not in _STAGE_BLOCKS:
            raise ValueError(f'VGG depth must be one of {sorted(_STAGE_BLOCKS)}, got {depth}')
        out_indices = tuple(out_indices)
        if not out_indices or any(not 0 <= i < 5 for i in out_indices) or list(out_indices) != sorted(set(out_indices)):
            raise ValueError(f'VGG out_indices must be increasing stage indices in [0, 4], got {out_indices}')
        if not -1 <= frozen_stages <= 5:
            raise ValueError(f'VGG frozen_stages must be in [-1, 5], got {frozen_stages}')
        self.depth = depth
        self.with_bn = with_bn
        self.out_indices = out_indices
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval

        layers: List[nn.Module] = []
        # [start, end) of each stage in ``features``, so torchvision's indices are kept.
        self.stage_ranges: List[Tuple[int, int]] = []
        in_channels = 3
        for num_convs, channels in zip(_STAGE_BLOCKS[depth], _STAGE_CHANNELS):
            start = len(layers)
            for _ in range(num_convs):
                layers.append(nn.Conv2d(in_channels, channels, kernel_size=3, padding=1))
                if with_bn:
                    layers.append(nn.BatchNorm2d(channels))
                layers.append(nn.ReLU(inplace=True))
                in_channels = channels
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
            self.stage_ranges.append((start, len(layers)))
        self.features = nn.Sequential(*layers)
        self.out_channels = tuple(_STAGE_CHANNELS[i] for i in out_indices)
        self._freeze_stages()

    def forward(self, x: Tensor) -> Tuple[Tensor, ...]:
        """Outputs of the ``out_indices`` stages (a tuple, as mmdet necks and heads expect)."""
        outs = []
        for index, (start, end) in enumerate(self.stage_ranges[:self.out_indices[-1] + 1]):
            for layer in self.features[start:end]:
                x = layer(x)
            if index in self.out_indices:
                outs.append(x)
        return tuple(outs)

    def _freeze_stages(self) -> None:
        if self.frozen_stages < 1:
            return
        end = self.stage_ranges[self.frozen_stages - 1][1]
        for layer in self.features[:end]:
            layer.eval()
            for param in layer.parameters():
                param.requires_grad = False

    def train(self, mode: bool = True) -> 'VGG':
        """Train mode, keeping frozen stages and (with ``norm_eval``) BatchNorm in eval mode."""
        super().train(mode)
        self._freeze_stages()
        if mode and self.norm_eval:
            for module in self.modules():
                if isinstance(module, nn.modules.batchnorm._BatchNorm):
                    module.eval()
        return self
