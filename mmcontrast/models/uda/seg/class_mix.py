"""ClassMix (Olsson et al., WACV 2021) as used by DACS: paste source classes onto target.

Which source classes are pasted is a registered *class sampler* (``mix=dict(type=...)``):

- :class:`DAFormerClassMix` (default): DAFormer's ``get_class_masks``.
- :class:`PerImageClassMix`: half of each image's own labelled classes (a named deviation).
"""
from typing import Optional, Tuple

import numpy as np
import torch
from torch import Tensor

from mmcontrast.registry import MODELS


def class_mix_masks(src_label: Tensor, ignore_index: int = 255, generator: Optional[torch.Generator] = None) -> Tensor:
    """Per image, the mask of a random half of the classes in its source label.

    Per image with ``n`` labelled classes, ``ceil(n / 2)`` of them are drawn without
    replacement; ``ignore_index`` is never drawn.

    Args:
        src_label (Tensor): ``[B, H, W]`` integer source labels.
        ignore_index (int): Label that is never pasted. Defaults to 255.
        generator (torch.Generator, optional): RNG of the class draw.

    Returns:
        Tensor: ``[B, H, W]`` bool masks (True = take the source pixel).
    """
    _check_label(src_label)
    masks = []
    for label in src_label:
        classes = label.unique()
        classes = classes[classes != ignore_index]
        num_pick = (classes.numel() + 1) // 2
        perm = torch.randperm(classes.numel(), generator=generator)[:num_pick].to(classes.device)
        masks.append(torch.isin(label, classes[perm]))
    return torch.stack(masks)


def _check_label(src_label: Tensor) -> None:
    if src_label.dim() != 3 or src_label.is_floating_point():
        raise ValueError(f'src_label must be an integer [B, H, W] tensor, got {src_label.dtype} '
                         f'{tuple(src_label.shape)}')


@MODELS.register_module()
class DAFormerClassMix:
    """DAFormer's class sampler (``mmseg/models/utils/dacs_transforms.py`` L90-99).

    The candidate classes are the unique labels of the **whole source batch**
    (``torch.unique(labels)``, not of the image), and the ignore label is one of them.
    For every image, ``(n + n % 2) / 2`` of the ``n`` candidates are drawn without
    replacement with ``np.random.choice``. Two quirks follow and are kept on purpose
    because DAFormer's numbers were made with them: a drawn class may be absent from
    the image (fewer pixels are pasted), and a drawn ignore label pastes the source's
    unlabelled pixels, which stay ignored in the mixed label.
    """

    def __call__(self, src_label: Tensor, ignore_index: int = 255) -> Tensor:
        """Return ``[B, H, W]`` bool masks (True = take the source pixel)."""
        _check_label(src_label)
        classes = torch.unique(src_label)
        num = classes.numel()
        masks = []
        for label in src_label:
            choice = np.random.choice(num, (num + num % 2) // 2, replace=False)
            masks.append(torch.isin(label, classes[torch.as_tensor(choice, dtype=torch.long, device=classes.device)]))
        return torch.stack(masks)


@MODELS.register_module()
class PerImageClassMix:
    """Half of each image's own labelled classes, never the ignore label (see :func:`class_mix_masks`)."""

    def __call__(self, src_label: Tensor, ignore_index: int = 255) -> Tensor:
        """Return ``[B, H, W]`` bool masks (True = take the source pixel)."""
        return class_mix_masks(src_label, ignore_index)


def mix(mask: Tensor, src: Tensor, tgt: Tensor) -> Tensor:
    """``mask ? src : tgt`` for images ``[B, C, H, W]`` or maps ``[B, H, W]``.

    Args:
        mask (Tensor): ``[B, H, W]`` bool mask.
        src (Tensor): Source values.
        tgt (Tensor): Target values, same shape as ``src``.

    Returns:
        Tensor: The mixed tensor.
    """
    if src.shape != tgt.shape:
        raise ValueError(f'cannot mix source {tuple(src.shape)} with target {tuple(tgt.shape)}: '
                         f'use the same crop size in both pipelines')
    if mask.shape != (src.shape[0], *src.shape[-2:]):
        raise ValueError(f'mask {tuple(mask.shape)} must be [B, H, W] of {tuple(src.shape)}')
    if src.dim() == 4:
        mask = mask.unsqueeze(1)
    return torch.where(mask, src, tgt)


def class_mix(src_img: Tensor, tgt_img: Tensor, src_label: Tensor, tgt_label: Tensor, src_weight: Tensor,
              tgt_weight: Tensor, ignore_index: int = 255,
              mask: Optional[Tensor] = None) -> Tuple[Tensor, Tensor, Tensor, Tensor]:
    """ClassMix of a source and a target batch, image i with image i.

    Args:
        src_img (Tensor): ``[B, 3, H, W]`` source images.
        tgt_img (Tensor): ``[B, 3, H, W]`` target images.
        src_label (Tensor): ``[B, H, W]`` source ground truth.
        tgt_label (Tensor): ``[B, H, W]`` target pseudo-labels.
        src_weight (Tensor): ``[B, H, W]`` pixel weights of the source pixels (usually 1).
        tgt_weight (Tensor): ``[B, H, W]`` pixel weights of the pseudo-labels.
        ignore_index (int): Never-pasted label. Defaults to 255.
        mask (Tensor, optional): ``[B, H, W]`` bool source mask from a class sampler.
            Defaults to :func:`class_mix_masks`.

    Returns:
        tuple: Mixed image, mixed label, mixed weight and the ``[B, H, W]`` mask.
    """
    if mask is None:
        mask = class_mix_masks(src_label, ignore_index)
    return (mix(mask, src_img, tgt_img), mix(mask, src_label, tgt_label), mix(mask, src_weight, tgt_weight), mask)
