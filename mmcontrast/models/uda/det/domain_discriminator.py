"""Image-level adversarial domain discriminator with gradient reversal.

As in Adaptive Teacher (Li et al., CVPR 2022) and DA Faster R-CNN: a small
fully-convolutional classifier predicts, for every feature-map location, whether
the image comes from the source or the target domain. A gradient reversal layer
in front of it makes the detector's features domain-confusing while the
discriminator itself learns to tell the domains apart.

Adaptive Teacher's head (``adapteacher/modeling/meta_arch/rcnn.py`` L22-41) is
``feat_channels=(256, 128, 128), negative_slope=0.2``; each domain's loss is weighted
on its own (``loss_D_img_s`` and ``loss_D_img_t``, both x0.1, ``trainer.py`` L643-648).
"""
from typing import Dict, Sequence

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
    """Per-location source/target classifier on one feature level of two student branches.

    ``[3x3 conv + activation] * len(feat_channels)`` then a 3x3 conv to one logit, behind
    a gradient reversal layer. The loss is ``loss_weight * BCE`` for each domain (source 0,
    target 1), logged as ``loss_adv_source`` and ``loss_adv_target``.

    Args:
        in_channels (int): Channels of the chosen feature level. Defaults to 256
            (FPN output channels).
        feat_channels (Sequence[int]): Hidden channels of the 3x3 conv layers.
            Defaults to (256, 128); Adaptive Teacher's is (256, 128, 128).
        negative_slope (float): LeakyReLU slope after each hidden conv; 0 is ReLU.
            Defaults to 0.0; Adaptive Teacher's is 0.2.
        in_index (int): Which level of the detector's ``extract_feat`` output to
            use (FPN levels; the single backbone map of a detector without neck).
            Defaults to -1 (coarsest).
        grl_coeff (float): Gradient reversal coefficient (the backbone receives
            ``-grl_coeff`` times the discriminator's gradient). Defaults to 1.0.
        loss_weight (float): Weight of each domain's loss. Defaults to 0.1.
        source_branch (str): Batch branch whose student features are the source
            domain. Defaults to 'sup'; Adaptive Teacher's is the weak source view.
        target_branch (str): Batch branch whose student features are the target
            domain. Defaults to 'unsup_student' (the strong target view); Adaptive
            Teacher's is the weak target view 'unsup_teacher'.
    """

    def __init__(self,
                 in_channels: int = 256,
                 feat_channels: Sequence[int] = (256, 128),
                 negative_slope: float = 0.0,
                 in_index: int = -1,
                 grl_coeff: float = 1.0,
                 loss_weight: float = 0.1,
                 source_branch: str = 'sup',
                 target_branch: str = 'unsup_student') -> None:
        super().__init__()
        if grl_coeff < 0:
            raise ValueError(f'domain_discriminator.grl_coeff must be >= 0, got {grl_coeff}')
        if negative_slope < 0:
            raise ValueError(f'domain_discriminator.negative_slope must be >= 0, got {negative_slope}')
        if source_branch == target_branch:
            raise ValueError(f'domain_discriminator: source_branch and target_branch are both {source_branch!r}')
        layers = []
        channels = in_channels
        for out_channels in feat_channels:
            act = nn.LeakyReLU(negative_slope, inplace=True) if negative_slope > 0 else nn.ReLU(inplace=True)
            layers += [nn.Conv2d(channels, out_channels, 3, padding=1), act]
            channels = out_channels
        layers.append(nn.Conv2d(channels, 1, 3, padding=1))
        self.layers = nn.Sequential(*layers)
        self.in_index = in_index
        self.grl_coeff = grl_coeff
        self.loss_weight = loss_weight
        self.source_branch = source_branch
        self.target_branch = target_branch

    def forward(self, feats: Sequence[Tensor]) -> Tensor:
        """Domain logits ``[B, 1, H, W]`` (positive = target) of one level."""
        return self.layers(gradient_reversal(feats[self.in_index], self.grl_coeff))

    def loss(self, source_feats: Sequence[Tensor], target_feats: Sequence[Tensor]) -> Dict[str, Tensor]:
        """Binary cross-entropy of the domain prediction, source 0 and target 1, each weighted.

        Each domain's BCE is the mean over its locations, so both domains get the same
        weight regardless of their feature-map sizes.

        Args:
            source_feats (Sequence[Tensor]): Multi-level features of the source branch.
            target_feats (Sequence[Tensor]): Multi-level features of the target branch.

        Returns:
            dict[str, Tensor]: ``loss_adv_source`` and ``loss_adv_target``.
        """
        losses = {}
        for name, feats, label in (('loss_adv_source', source_feats, 0.), ('loss_adv_target', target_feats, 1.)):
            logits = self(feats).float()
            losses[name] = self.loss_weight * F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, label))
        return losses
