"""ResNet with the CIFAR stem, built on mmdet's ResNet so its keys stay mmdet/mmseg keys."""
import torch.nn as nn
from mmcv.cnn import build_conv_layer, build_norm_layer
from mmdet.models.backbones import ResNet

from mmcontrast.registry import MODELS


@MODELS.register_module()
class ResNetCIFAR(ResNet):
    """ResNet for 32x32 inputs: a 3x3 stride-1 stem conv and no max-pool.

    Everything else (stages, ``out_indices``, ``frozen_stages``, ``norm_eval``,
    ``base_channels``, ``init_cfg``) is mmdet's :class:`~mmdet.models.backbones.ResNet`,
    and the state-dict keys are the same (``conv1``, ``norm1``, ``layer1.0.conv1`` ...).
    Only the shape of ``conv1.weight`` differs (3x3 instead of 7x7), so the stages
    of a CIFAR-stem checkpoint transfer into an ImageNet-stem ResNet but its stem
    does not. For the ImageNet stem use ``type='mmdet.ResNet'`` directly.

    Args:
        depth (int): 18, 34, 50, 101 or 152.
        **kwargs: Passed to mmdet's ``ResNet``; ``deep_stem`` is not supported,
            since the CIFAR stem replaces it.
    """

    def __init__(self, depth: int, **kwargs) -> None:
        if kwargs.get('deep_stem', False):
            raise ValueError('ResNetCIFAR has its own 3x3 stem; deep_stem=True is not supported')
        super().__init__(depth=depth, **kwargs)

    def _make_stem_layer(self, in_channels: int, stem_channels: int) -> None:
        self.conv1 = build_conv_layer(
            self.conv_cfg, in_channels, stem_channels, kernel_size=3, stride=1, padding=1, bias=False)
        self.norm1_name, norm1 = build_norm_layer(self.norm_cfg, stem_channels, postfix=1)
        self.add_module(self.norm1_name, norm1)
        self.relu = nn.ReLU(inplace=True)
        # Identity keeps ResNet.forward unchanged; it has no parameters, so no keys change.
        self.maxpool = nn.Identity()
