"""Image-level adversarial domain discriminator with gradient reversal.

As in Adaptive Teacher (Li et al., CVPR 2022) and DA Faster R-CNN: a small
fully-convolutional classifier predicts, for every feature-map location, whether
the image comes from the source or the target domain. A gradient reversal layer
in front of it makes the detector's features domain-confusing while the
discriminator itself learns to tell the domains apart.
"""
from typing import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from mmcontrast.registry import MODELS


class _GradientReversal(torch.autograd.Function):
    """Identity in the forward pass; multiplies the gradient by ``-coeff``."""

    @staticmethod
    def forward(ctx, x: Tensor, coeff: float) -> Tensor:
        ctx.coeff = coeff
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad_output: Tensor):
        return -ctx.coeff * grad_output, None


def gradient_reversal(x: Tensor, coeff: float = 1.0) -> Tensor:
    """Reverse (and scale by ``coeff``) the gradient flowing back into ``x``.

    Args:
        x (Tensor): Any tensor.
        coeff (float): Gradient multiplier after the sign flip. Defaults to 1.0.

    Returns:
        Tensor: ``x`` unchanged; its gradient is ``-coeff`` times the incoming one.
    """
    return _GradientReversal.apply(x, coeff)


@MODELS.register_module()
class ImageDomainDiscriminator(nn.Module):
    """Per-location source/target classifier on one feature level.

    Args:
        in_channels (int): Channels of the chosen feature level. Defaults to 256
            (FPN output channels).
        feat_channels (Sequence[int]): Hidden channels of the 3x3 conv layers.
            Defaults to (256, 128).
        in_index (int): Which level of the detector's ``extract_feat`` output to
            use (FPN levels for Faster R-CNN). Defaults to -1 (coarsest).
        grl_coeff (float): Gradient reversal coefficient. Defaults to 1.0.
        loss_weight (float): Weight of the adversarial loss. Defaults to 0.1.
    """

    def __init__(self,
                 in_channels: int = 256,
                 feat_channels: Sequence[int] = (256, 128),
                 in_index: int = -1,
                 grl_coeff: float = 1.0,
                 loss_weight: float = 0.1) -> None:
        super().__init__()
        if grl_coeff < 0:
            raise ValueError(f'grl_coeff must be >= 0, got {grl_coeff}')
        layers = []
        channels = in_channels
        for out_channels in feat_channels:
            layers += [nn.Conv2d(channels, out_channels, 3, padding=1), nn.ReLU(inplace=True)]
            channels = out_channels
        layers.append(nn.Conv2d(channels, 1, 3, padding=1))
        self.layers = nn.Sequential(*layers)
        self.in_index = in_index
        self.grl_coeff = grl_coeff
        self.loss_weight = loss_weight

    def forward(self, feats: Sequence[Tensor]) -> Tensor:
        """Domain logits ``[B, 1, H, W]`` (positive = target) of one level."""
        return self.layers(gradient_reversal(feats[self.in_index], self.grl_coeff))

    def loss(self, source_feats: Sequence[Tensor], target_feats: Sequence[Tensor]) -> Tensor:
        """Binary cross-entropy of the domain prediction, source 0 and target 1.

        Both domains get the same weight regardless of their feature-map sizes.

        Args:
            source_feats (Sequence[Tensor]): Multi-level features of source images.
            target_feats (Sequence[Tensor]): Multi-level features of target images.

        Returns:
            Tensor: The weighted scalar loss.
        """
        losses = []
        for feats, label in ((source_feats, 0.), (target_feats, 1.)):
            logits = self(feats).float()
            losses.append(F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, label)))
        return self.loss_weight * 0.5 * (losses[0] + losses[1])
