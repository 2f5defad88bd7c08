"""Confidence-thresholded pseudo-labels with a quality weight per batch or per image (DACS / DAFormer)."""
from typing import NamedTuple, Optional

import torch
import torch.nn.functional as F
from torch import Tensor


class PseudoLabels(NamedTuple):
    """Pseudo-labels of a target batch.

    Attributes:
        label (Tensor): ``[B, H, W]`` argmax classes (all pixels, also unconfident ones).
        confidence (Tensor): ``[B, H, W]`` max softmax probability.
        weight (Tensor): ``[B, H, W]`` pixel weights: the quality (fraction of
            pixels with ``confidence >= threshold``) everywhere, 0 in the ignored margins.
        quality (Tensor): ``[B]`` the quality of each image (all equal with ``quality='batch'``).
        confident (Tensor): ``[B, H, W]`` bool, confident and outside the margins.
        in_crop (Tensor): ``[B, H, W]`` bool, outside the ignored margins.
    """
    label: Tensor
    confidence: Tensor
    weight: Tensor
    quality: Tensor
    confident: Tensor
    in_crop: Tensor


_QUALITY = ('batch', 'image')


def check_pseudo_label_args(threshold: float, ignore_top: int, ignore_bottom: int, quality: str,
                            height: Optional[int] = None) -> None:
    """Raise a ValueError naming the bad argument of :func:`make_pseudo_labels`."""
    if not 0 <= threshold < 1:
        raise ValueError(f'threshold must be in [0, 1), got {threshold}')
    if quality not in _QUALITY:
        raise ValueError(f'quality must be one of {_QUALITY}, got {quality!r}')
    if ignore_top < 0 or ignore_bottom < 0:
        raise ValueError(f'ignore_top={ignore_top} and ignore_bottom={ignore_bottom} must be >= 0')
    if height is not None and ignore_top + ignore_bottom > height:
        raise ValueError(f'ignore_top={ignore_top} and ignore_bottom={ignore_bottom} must leave rows of the '
                         f'{height}-row crop')


def make_pseudo_labels(logits: Tensor,
                       threshold: float = 0.968,
                       ignore_top: int = 0,
                       ignore_bottom: int = 0,
                       quality: str = 'batch') -> PseudoLabels:
    """Turn teacher logits into pseudo-labels and quality weights.

    The quality is the fraction of pixels whose max probability reaches ``threshold``
    (margins included, as in DAFormer), counted over the whole batch (``'batch'``, DAFormer:
    ``mmseg/models/uda/dacs.py`` L274-278, one scalar per batch) or per image (``'image'``,
    a named deviation). Every pixel gets its quality as weight, except the ``ignore_top``
    first and ``ignore_bottom`` last rows, whose weight is 0 (e.g. the ego-vehicle hood
    and the rectification border of Cityscapes).

    Args:
        logits (Tensor): ``[B, C, H, W]`` teacher logits at label resolution.
        threshold (float): Confidence threshold. Defaults to 0.968.
        ignore_top (int): Rows at the top with weight 0. Defaults to 0.
        ignore_bottom (int): Rows at the bottom with weight 0. Defaults to 0.
        quality (str): ``'batch'`` or ``'image'``. Defaults to ``'batch'``.

    Returns:
        PseudoLabels: Labels, confidences, weights and qualities, all without gradient.
    """
    if logits.dim() != 4:
        raise ValueError(f'logits must be [B, C, H, W], got {tuple(logits.shape)}')
    check_pseudo_label_args(threshold, ignore_top, ignore_bottom, quality, height=logits.shape[-2])
    height = logits.shape[-2]
    with torch.no_grad():
        confidence, label = F.softmax(logits.detach().float(), dim=1).max(dim=1)
        confident = confidence >= threshold
        per_image = confident.flatten(1).float().mean(dim=1)
        scores = per_image if quality == 'image' else per_image.mean().expand_as(per_image)
        weight = scores.view(-1, 1, 1).expand_as(confidence).clone()
        margin = torch.zeros_like(confident)
        margin[:, :ignore_top] = True
        if ignore_bottom > 0:
            margin[:, height - ignore_bottom:] = True
        weight[margin] = 0
    return PseudoLabels(label, confidence, weight, scores, confident & ~margin, ~margin)
