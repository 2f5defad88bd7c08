"""Confidence-thresholded pseudo-labels with a per-image quality weight (DACS / DAFormer)."""
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor


class PseudoLabels(NamedTuple):
    """Pseudo-labels of a target batch.

    Attributes:
        label (Tensor): ``[B, H, W]`` argmax classes (all pixels, also unconfident ones).
        confidence (Tensor): ``[B, H, W]`` max softmax probability.
        weight (Tensor): ``[B, H, W]`` pixel weights: the image's quality (fraction of
            pixels with ``confidence >= threshold``) everywhere, 0 in the ignored margins.
        quality (Tensor): ``[B]`` the per-image quality.
        confident (Tensor): ``[B, H, W]`` bool, confident and outside the margins.
        in_crop (Tensor): ``[B, H, W]`` bool, outside the ignored margins.
    """
    label: Tensor
    confidence: Tensor
    weight: Tensor
    quality: Tensor
    confident: Tensor
    in_crop: Tensor


def make_pseudo_labels(logits: Tensor,
                       threshold: float = 0.968,
                       ignore_top: int = 0,
                       ignore_bottom: int = 0) -> PseudoLabels:
    """Turn teacher logits into pseudo-labels and quality weights.

    The quality of an image is the fraction of its pixels whose max probability reaches
    ``threshold`` (margins included, as in DAFormer); every pixel of the image gets that
    weight, except the ``ignore_top`` first and ``ignore_bottom`` last rows, whose weight
    is 0 (e.g. the ego-vehicle hood and the rectification border of Cityscapes).

    Args:
        logits (Tensor): ``[B, C, H, W]`` teacher logits at label resolution.
        threshold (float): Confidence threshold. Defaults to 0.968.
        ignore_top (int): Rows at the top with weight 0. Defaults to 0.
        ignore_bottom (int): Rows at the bottom with weight 0. Defaults to 0.

    Returns:
        PseudoLabels: Labels, confidences, weights and qualities, all without gradient.
    """
    if logits.dim() != 4:
        raise ValueError(f'logits must be [B, C, H, W], got {tuple(logits.shape)}')
    if not 0 <= threshold < 1:
        raise ValueError(f'threshold must be in [0, 1), got {threshold}')
    height = logits.shape[-2]
    if ignore_top < 0 or ignore_bottom < 0 or ignore_top + ignore_bottom > height:
        raise ValueError(f'ignore_top={ignore_top} and ignore_bottom={ignore_bottom} must be >= 0 and '
                         f'leave rows of the {height}-row crop')
    with torch.no_grad():
        confidence, label = F.softmax(logits.detach().float(), dim=1).max(dim=1)
        confident = confidence >= threshold
        quality = confident.flatten(1).float().mean(dim=1)
        weight = quality.view(-1, 1, 1).expand_as(confidence).clone()
        margin = torch.zeros_like(confident)
        margin[:, :ignore_top] = True
        if ignore_bottom > 0:
            margin[:, height - ignore_bottom:] = True
        weight[margin] = 0
    return PseudoLabels(label, confidence, weight, quality, confident & ~margin, ~margin)
