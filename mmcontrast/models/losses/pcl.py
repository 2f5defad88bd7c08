"""Probabilistic Contrastive Learning (PCL): instance, class and pixel level.

Li et al., "Probabilistic Contrastive Learning for Domain Adaptation" (also titled
"Semantic-aware representation learning via probability contrastive loss"),
arXiv:2111.06021. The contrasted vectors are the softmax probabilities themselves,
without l2-normalisation, so the loss pulls both views towards the same one-hot
corner of the simplex.
"""
from typing import Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from mmcontrast.registry import MODELS
from .utils import (
    check_non_negative,
    check_per_row,
    check_positive,
    check_same_shape,
    check_tensor,
    finite_zero,
    fp32_compute,
    paired_nce,
)


def _check_threshold(owner: str, threshold: float) -> None:
    if not (isinstance(threshold, (int, float)) and not isinstance(threshold, bool) and 0.0 <= threshold <= 1.0):
        raise ValueError(f'{owner}: threshold must be a probability in [0, 1], got {threshold!r}')


def _check_sizes(owner: str, max_pixels: Optional[int], chunk_size: Optional[int]) -> None:
    for name, value in (('max_pixels', max_pixels), ('chunk_size', chunk_size)):
        if value is not None and not (isinstance(value, int) and not isinstance(value, bool) and value >= 1):
            raise ValueError(f'{owner}: {name} must be a positive int or None, got {value!r}')


@fp32_compute
def pcl_loss(logits_a: Tensor,
             logits_b: Tensor,
             valid: Optional[Tensor] = None,
             scale: float = 7.0,
             gather_distributed: bool = False) -> Tensor:
    """Instance-level PCL between two views.

    ``P = softmax`` of each view, ``Z = [P_a; P_b]`` (2N x C), ``S = scale * Z Z^T``
    with the diagonal excluded; the positive of row i is the same sample in the other
    view. Cross-entropy averaged over the rows of valid samples.

    Args:
        logits_a (Tensor): ``[N, C]`` logits of view a.
        logits_b (Tensor): ``[N, C]`` logits of view b.
        valid (Tensor, optional): ``[N]`` bool; invalid samples are dropped from both
            views (as anchors and as negatives). Defaults to all valid.
        scale (float): Inverse temperature. Defaults to 7.0 (20 for dense/detection).
        gather_distributed (bool): Use the rows of all ranks as candidates.
            Defaults to False.

    Returns:
        Tensor: Scalar loss; a graph-connected 0 with fewer than one valid sample.
    """
    check_tensor('logits_a', logits_a, (2, ))
    check_tensor('logits_b', logits_b, (2, ))
    check_same_shape('logits_a', logits_a, 'logits_b', logits_b)
    check_positive('pcl_loss', scale=scale)
    if valid is not None:
        check_per_row('valid', valid, 'logits_a', logits_a)
        valid = valid.bool()
        # Invalid rows are dropped after the softmax, but a NaN/inf there would still give a
        # NaN gradient through the softmax backward (0 * NaN): replace them first.
        logits_a = torch.where(valid[:, None], logits_a, 0.0)
        logits_b = torch.where(valid[:, None], logits_b, 0.0)
    return paired_nce(
        F.softmax(logits_a, dim=1),
        F.softmax(logits_b, dim=1),
        scale,
        valid=valid,
        gather_distributed=gather_distributed)


def _check_dense_pair(logits_a: Tensor, logits_b: Tensor, name_a: str, name_b: str) -> None:
    check_tensor(name_a, logits_a, (4, ))
    check_tensor(name_b, logits_b, (4, ))
    check_same_shape(name_a, logits_a, name_b, logits_b)


# Independent accumulators per class in class_pcl_loss's scatter_add_.
_LANES = 4


def _max_over_classes(prob: Tensor) -> Tuple[Tensor, Tensor]:
    """``prob.max(dim=1)`` of ``[B, C, H, W]`` (values, first index of the maximum).

    On CPU, ``max``/``argmax`` over the strided class dim run ~30x slower than ``amax``;
    the index is then found by one comparison per class (highest first, so the first
    maximal index wins, as ``max`` returns it)."""
    if prob.device.type != 'cpu':
        return prob.max(dim=1)
    conf = prob.amax(dim=1)
    index = torch.zeros(conf.shape, dtype=torch.long, device=prob.device)
    for k in range(prob.shape[1] - 1, -1, -1):
        index.masked_fill_(prob[:, k] == conf, k)
    return conf, index


@fp32_compute
def class_pcl_loss(logits_weak: Tensor,
                   logits_strong: Tensor,
                   pseudo_label: Optional[Tensor] = None,
                   scale: float = 7.0,
                   threshold: float = 0.95,
                   ignore_index: int = 255) -> Tensor:
    """Class-level PCL between a weak and a strong view of the same images.

    Per image and per class k present in the pseudo-label, the logits of each view are
    averaged over the class mask and turned into probabilities; the PCL kernel then runs
    over these 2K vectors (positive: the same class in the other view). The loss is the
    mean over the images with at least one class. An image with a single class gives
    exactly 0 (its only candidate is the positive).

    Args:
        logits_weak (Tensor): ``[B, C, H, W]`` logits of the weak view.
        logits_strong (Tensor): ``[B, C, H, W]`` logits of the pixel-aligned strong view.
        pseudo_label (Tensor, optional): ``[B, H, W]`` class ids, ``ignore_index`` for
            unlabelled pixels. Must have the logits' resolution (resize before). When
            None, it is the argmax of the detached weak probabilities where their max
            exceeds ``threshold``.
        scale (float): Inverse temperature. Defaults to 7.0.
        threshold (float): Confidence threshold of the self-made pseudo-label.
            Defaults to 0.95.
        ignore_index (int): Ignored label. Defaults to 255.

    Returns:
        Tensor: Scalar loss; a graph-connected 0 when no image has a class.
    """
    _check_dense_pair(logits_weak, logits_strong, 'logits_weak', 'logits_strong')
    check_positive('class_pcl_loss', scale=scale)
    _check_threshold('class_pcl_loss', threshold)
    num_imgs, num_classes, height, width = logits_weak.shape
    if pseudo_label is None:
        with torch.no_grad():
            conf, pseudo_label = _max_over_classes(F.softmax(logits_weak.detach(), dim=1))
            # `not >` rather than `<=`: a NaN confidence is ignored too
            pseudo_label = pseudo_label.masked_fill(~(conf > threshold), ignore_index)
    else:
        check_tensor('pseudo_label', pseudo_label, (3, ), floating=False)
        if pseudo_label.shape != (num_imgs, height, width):
            raise ValueError(f'pseudo_label {tuple(pseudo_label.shape)} must be [B, H, W] at the '
                             f'resolution of the logits {tuple(logits_weak.shape)}; resize one of them '
                             f'first (nearest for labels, bilinear for logits)')
    labels = pseudo_label.long().flatten(1)
    valid = labels != ignore_index
    if (valid & ((labels < 0) | (labels >= num_classes))).any():
        raise ValueError(f'pseudo_label holds ids outside [0, {num_classes}) that are not '
                         f'ignore_index={ignore_index}')
    # All images at once. Ignored pixels go to an extra slot `num_classes` that is dropped
    # afterwards: a NaN/inf there touches no kept sum, and gets a zero gradient.
    slots = torch.where(valid, labels, num_classes)
    counts = torch.zeros(num_imgs, num_classes + 1, dtype=torch.long, device=labels.device)
    counts = counts.scatter_add_(1, slots, torch.ones_like(slots))[:, :num_classes]
    present = counts > 0
    denom = counts.clamp(min=1).to(logits_weak.dtype)[:, :, None]
    # scatter_add_ into (class, pixel % _LANES) accumulators, summed afterwards: labels come in
    # runs of one class, and one accumulator per class would serialise the adds (~4x slower).
    lane = torch.arange(height * width, device=labels.device) % _LANES
    index = (slots * _LANES + lane)[:, None, :].expand(num_imgs, num_classes, height * width)

    def class_means(logits: Tensor) -> Tensor:
        sums = logits.new_zeros(num_imgs, num_classes, (num_classes + 1) * _LANES)
        sums = sums.scatter_add_(2, index, logits.flatten(2)).view(num_imgs, num_classes, num_classes + 1, _LANES)
        return sums[:, :, :num_classes].sum(3).transpose(1, 2) / denom  # [B, K, C]

    # [B, 2K, C]: the weak then the strong mean logits of every class (absent ones: masked below)
    means = torch.cat([class_means(logits_weak), class_means(logits_strong)], dim=1)
    probs = F.softmax(means, dim=2)
    num_present = present.sum(dim=1)  # [B]
    has_class = num_present > 0
    if not bool(has_class.any()):
        return finite_zero(logits_weak, logits_strong)
    losses = _batched_paired_nce(probs, present.repeat(1, 2), scale)  # [B]
    # An image with one class gives exactly 0 (its only candidate is the positive), as the
    # per-image kernel does.
    losses = torch.where(num_present > 1, losses, 0.0)
    return losses[has_class].mean()


def _batched_paired_nce(z: Tensor, valid: Tensor, scale: float) -> Tensor:
    """Per-item two-view InfoNCE on ``z`` ``[B, 2K, C]`` (rows ``k`` and ``k + K`` are the two
    views of one sample) over the ``valid`` ``[B, 2K]`` rows only: the mean over each item's
    valid anchors of ``logsumexp_{j valid, j != i} s_ij - s_{i, pos(i)}``, ``s = scale * z z^T``.
    Items without a valid row give 0. Equal to :func:`paired_nce` on each item's valid rows."""
    rows = z.shape[1]
    half = rows // 2
    sim = torch.bmm(z, z.transpose(1, 2)).mul_(scale)
    pos_index = (torch.arange(rows, device=z.device) + half) % rows
    pos = sim.gather(2, pos_index.expand(z.shape[0], rows)[:, :, None]).squeeze(2)
    eye = torch.eye(rows, dtype=torch.bool, device=z.device)
    # A finite fill rather than -inf keeps logsumexp and its gradient NaN-free on the rows of
    # absent classes (dropped afterwards).
    excluded = eye[None] | ~valid[:, None, :]
    lse = torch.logsumexp(sim.masked_fill(excluded, torch.finfo(sim.dtype).min), dim=2)
    per_row = torch.where(valid, lse - pos, 0.0)
    return per_row.sum(dim=1) / valid.sum(dim=1).clamp(min=1)


@fp32_compute
def pixel_pcl_loss(logits_a: Tensor,
                   logits_b: Tensor,
                   valid_mask: Optional[Tensor] = None,
                   scale: float = 20.0,
                   ignore_index: int = 255,
                   max_pixels: Optional[int] = None,
                   chunk_size: Optional[int] = 4096,
                   generator: Optional[torch.Generator] = None) -> Tensor:
    """Pixel-level PCL between two pixel-aligned views, without an HW x HW matrix.

    Per image, the PCL kernel runs over the 2 * HW_valid pixel probability vectors (the
    positive is the same location in the other view); the similarity is processed in
    column chunks (blockwise logsumexp, forward and backward), so memory grows like
    ``2HW x chunk_size``. The loss is the mean over images with a valid pixel.

    Args:
        logits_a (Tensor): ``[B, C, H, W]`` logits of view a.
        logits_b (Tensor): ``[B, C, H, W]`` logits of view b.
        valid_mask (Tensor, optional): ``[B, H, W]`` bool mask of pixels to use, or an
            integer label map whose ``ignore_index`` pixels are dropped. Defaults to all.
        scale (float): Inverse temperature. Defaults to 20.0.
        ignore_index (int): Ignored value of an integer ``valid_mask``. Defaults to 255.
        max_pixels (int, optional): If set, at most this many valid pixels per image are
            sampled at random (``torch.randperm``, honouring ``generator``/the global
            seed). Defaults to None (all pixels).
        chunk_size (int, optional): Column block of the logsumexp; None materialises
            the full matrix (the naive form). Defaults to 4096.
        generator (torch.Generator, optional): RNG of the pixel sampling.

    Returns:
        Tensor: Scalar loss; a graph-connected 0 when no pixel is valid.
    """
    _check_dense_pair(logits_a, logits_b, 'logits_a', 'logits_b')
    check_positive('pixel_pcl_loss', scale=scale)
    _check_sizes('pixel_pcl_loss', max_pixels, chunk_size)
    num_imgs, _, height, width = logits_a.shape
    if valid_mask is not None:
        check_tensor('valid_mask', valid_mask, (3, ), floating=False)
        if valid_mask.shape != (num_imgs, height, width):
            raise ValueError(f'valid_mask {tuple(valid_mask.shape)} must be [B, H, W] of logits_a '
                             f'{tuple(logits_a.shape)}')
        valid_mask = valid_mask if valid_mask.dtype == torch.bool else valid_mask != ignore_index
        # Ignored pixels are not indexed below, but the softmax runs over all of them: a NaN/inf
        # there would give a NaN gradient through its backward (0 * NaN). Replace them first.
        logits_a = torch.where(valid_mask[:, None], logits_a, 0.0)
        logits_b = torch.where(valid_mask[:, None], logits_b, 0.0)
    prob_a = F.softmax(logits_a, dim=1).flatten(2).transpose(1, 2)
    prob_b = F.softmax(logits_b, dim=1).flatten(2).transpose(1, 2)
    losses = []
    for i in range(num_imgs):
        if valid_mask is None:
            index = torch.arange(height * width, device=logits_a.device)
        else:
            index = valid_mask[i].flatten().nonzero().squeeze(1)
        if max_pixels is not None and index.numel() > max_pixels:
            rng_device = generator.device if generator is not None else index.device
            keep = torch.randperm(index.numel(), generator=generator, device=rng_device)[:max_pixels]
            index = index[keep.to(index.device)]
        if index.numel() == 0:
            continue
        losses.append(paired_nce(prob_a[i, index], prob_b[i, index], scale, chunk_size=chunk_size))
    zero = finite_zero(logits_a, logits_b)
    if not losses:
        return zero
    return torch.stack(losses).mean() + zero


@MODELS.register_module()
class PCLLoss(nn.Module):
    """Instance-level PCL loss (see :func:`pcl_loss`).

    Args:
        scale (float): Inverse temperature. Defaults to 7.0.
        loss_weight (float): Multiplier of the loss. Defaults to 1.0.
        gather_distributed (bool): Gather candidates from all ranks. Defaults to False.
    """

    def __init__(self, scale: float = 7.0, loss_weight: float = 1.0, gather_distributed: bool = False) -> None:
        super().__init__()
        check_positive('PCLLoss', scale=scale)
        check_non_negative('PCLLoss', loss_weight=loss_weight)
        self.scale = scale
        self.loss_weight = loss_weight
        self.gather_distributed = gather_distributed

    def forward(self, logits_a: Tensor, logits_b: Tensor, valid: Optional[Tensor] = None) -> Tensor:
        """Return the weighted loss of ``[N, C]`` logits of two views."""
        loss = pcl_loss(logits_a, logits_b, valid, scale=self.scale, gather_distributed=self.gather_distributed)
        return self.loss_weight * loss


@MODELS.register_module()
class ClassPCLLoss(nn.Module):
    """Class-level PCL loss on dense logits (see :func:`class_pcl_loss`).

    Args:
        scale (float): Inverse temperature. Defaults to 7.0.
        threshold (float): Pseudo-label confidence threshold. Defaults to 0.95.
        ignore_index (int): Ignored label. Defaults to 255.
        loss_weight (float): Multiplier of the loss. Defaults to 1.0.
    """

    def __init__(self,
                 scale: float = 7.0,
                 threshold: float = 0.95,
                 ignore_index: int = 255,
                 loss_weight: float = 1.0) -> None:
        super().__init__()
        check_positive('ClassPCLLoss', scale=scale)
        _check_threshold('ClassPCLLoss', threshold)
        check_non_negative('ClassPCLLoss', loss_weight=loss_weight)
        self.scale = scale
        self.threshold = threshold
        self.ignore_index = ignore_index
        self.loss_weight = loss_weight

    def forward(self, logits_weak: Tensor, logits_strong: Tensor, pseudo_label: Optional[Tensor] = None) -> Tensor:
        """Return the weighted loss of ``[B, C, H, W]`` weak/strong logits."""
        loss = class_pcl_loss(
            logits_weak,
            logits_strong,
            pseudo_label,
            scale=self.scale,
            threshold=self.threshold,
            ignore_index=self.ignore_index)
        return self.loss_weight * loss


@MODELS.register_module()
class PixelPCLLoss(nn.Module):
    """Pixel-level PCL loss on dense logits, chunked (see :func:`pixel_pcl_loss`).

    Args:
        scale (float): Inverse temperature. Defaults to 20.0.
        ignore_index (int): Ignored value of an integer ``valid_mask``. Defaults to 255.
        max_pixels (int, optional): Pixels sampled per image; None uses all.
            Defaults to None.
        chunk_size (int, optional): Column block of the logsumexp. Defaults to 4096.
        loss_weight (float): Multiplier of the loss. Defaults to 1.0.
    """

    def __init__(self,
                 scale: float = 20.0,
                 ignore_index: int = 255,
                 max_pixels: Optional[int] = None,
                 chunk_size: Optional[int] = 4096,
                 loss_weight: float = 1.0) -> None:
        super().__init__()
        check_positive('PixelPCLLoss', scale=scale)
        _check_sizes('PixelPCLLoss', max_pixels, chunk_size)
        check_non_negative('PixelPCLLoss', loss_weight=loss_weight)
        self.scale = scale
        self.ignore_index = ignore_index
        self.max_pixels = max_pixels
        self.chunk_size = chunk_size
        self.loss_weight = loss_weight

    def forward(self, logits_a: Tensor, logits_b: Tensor, valid_mask: Optional[Tensor] = None) -> Tensor:
        """Return the weighted loss of pixel-aligned ``[B, C, H, W]`` logits."""
        loss = pixel_pcl_loss(
            logits_a,
            logits_b,
            valid_mask,
            scale=self.scale,
            ignore_index=self.ignore_index,
            max_pixels=self.max_pixels,
            chunk_size=self.chunk_size)
        return self.loss_weight * loss
