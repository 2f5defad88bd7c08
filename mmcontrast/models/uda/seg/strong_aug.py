"""Strong augmentation on normalised image batches (DACS / DAFormer style).

The photometric part (colour jitter, Gaussian blur) acts on images only; the optional
geometric part (horizontal flip) is applied identically to images, labels and pixel
weights and is reported per image, so that a caller can map predictions back onto
the un-flipped view (see :meth:`StrongAugmentation.unflip`).
"""
import math
from typing import List, NamedTuple, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

# RGB -> YIQ; a hue shift is a rotation of the chroma plane (I, Q).
_RGB2YIQ = torch.tensor([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]])


def adjust_hue(img: Tensor, hue: float) -> Tensor:
    """Rotate the hue of ``[3, H, W]`` RGB in ``[0, 1]`` by ``hue`` turns (in [-0.5, 0.5]).

    The rotation is done in YIQ space, which keeps the luma exact and approximates
    the HSV hue shift of torchvision's ``ColorJitter``.
    """
    rgb2yiq = _RGB2YIQ.to(img)
    cos, sin = math.cos(2 * math.pi * hue), math.sin(2 * math.pi * hue)
    rot = img.new_tensor([[1., 0., 0.], [0., cos, -sin], [0., sin, cos]])
    transform = torch.linalg.inv(rgb2yiq) @ rot @ rgb2yiq
    return torch.einsum('ij,jhw->ihw', transform, img)


def _grey(img: Tensor) -> Tensor:
    return (0.299 * img[0] + 0.587 * img[1] + 0.114 * img[2]).unsqueeze(0)


def color_jitter(img: Tensor, brightness: float, contrast: float, saturation: float, hue: float) -> Tensor:
    """Apply given jitter factors to one ``[3, H, W]`` RGB image in ``[0, 1]``.

    Args:
        img (Tensor): ``[3, H, W]`` RGB in ``[0, 1]``.
        brightness (float): Multiplier of the intensities (1 = unchanged).
        contrast (float): Blend factor towards the mean grey level (1 = unchanged).
        saturation (float): Blend factor towards the grey image (1 = unchanged).
        hue (float): Hue rotation in turns (0 = unchanged).

    Returns:
        Tensor: The jittered image, clamped to ``[0, 1]``.
    """
    img = (img * brightness).clamp(0, 1)
    img = (contrast * img + (1 - contrast) * _grey(img).mean()).clamp(0, 1)
    img = (saturation * img + (1 - saturation) * _grey(img)).clamp(0, 1)
    if hue != 0:
        img = adjust_hue(img, hue).clamp(0, 1)
    return img


def gaussian_blur(img: Tensor, sigma: float, kernel_size: Sequence[int]) -> Tensor:
    """Separable Gaussian blur of one ``[C, H, W]`` image with reflect padding.

    Args:
        img (Tensor): ``[C, H, W]`` image.
        sigma (float): Standard deviation in pixels (> 0).
        kernel_size (Sequence[int]): Odd kernel sizes ``(k_h, k_w)``.

    Returns:
        Tensor: The blurred image.
    """
    channels, height, width = img.shape
    out = img.unsqueeze(0)
    for dim, (size, extent) in enumerate(zip(kernel_size, (height, width))):
        size = min(size, 2 * ((extent - 1) // 2) + 1)  # reflect padding needs pad < extent
        if size < 3:
            continue
        coords = torch.arange(size, dtype=img.dtype, device=img.device) - size // 2
        kernel = torch.exp(-coords**2 / (2 * sigma**2))
        kernel = (kernel / kernel.sum()).repeat(channels, 1)
        if dim == 0:
            kernel, pad = kernel.view(channels, 1, size, 1), (0, 0, size // 2, size // 2)
        else:
            kernel, pad = kernel.view(channels, 1, 1, size), (size // 2, size // 2, 0, 0)
        out = F.conv2d(F.pad(out, pad, mode='reflect'), kernel, groups=channels)
    return out.squeeze(0)


class StrongViews(NamedTuple):
    """Output of :class:`StrongAugmentation`: images and, when given, labels and weights.

    ``flipped`` is a ``[B]`` bool tensor telling which images were flipped.
    """
    img: Tensor
    label: Optional[Tensor]
    weight: Optional[Tensor]
    flipped: Tensor


class StrongAugmentation:
    """DACS/DAFormer strong augmentation of a normalised image batch.

    Each image is denormalised with the data preprocessor's ``mean``/``std`` (RGB order
    after ``bgr_to_rgb``), colour-jittered with probability ``color_jitter_prob`` (each
    factor drawn uniformly in ``[1 - s, 1 + s]``, hue in ``[-s, s]`` turns with
    ``s = color_jitter_strength``), blurred with probability ``blur_prob`` (sigma in
    ``sigma_range``, kernel ~10% of the image side), and flipped horizontally with
    probability ``flip_prob`` together with its label and weight maps.

    Args:
        mean (Sequence[float]): Per-channel mean of the normalisation (0-255 scale).
        std (Sequence[float]): Per-channel std of the normalisation.
        color_jitter_strength (float): Jitter strength ``s``. Defaults to 0.2.
        color_jitter_prob (float): Probability of colour jitter. Defaults to 0.2.
        blur_prob (float): Probability of Gaussian blur. Defaults to 0.5.
        sigma_range (Sequence[float]): Blur sigma range. Defaults to (0.15, 1.15).
        flip_prob (float): Probability of a horizontal flip. Defaults to 0.0.
    """

    def __init__(self,
                 mean: Sequence[float],
                 std: Sequence[float],
                 color_jitter_strength: float = 0.2,
                 color_jitter_prob: float = 0.2,
                 blur_prob: float = 0.5,
                 sigma_range: Sequence[float] = (0.15, 1.15),
                 flip_prob: float = 0.0) -> None:
        for name, p in (('color_jitter_prob', color_jitter_prob), ('blur_prob', blur_prob),
                        ('flip_prob', flip_prob)):
            if not 0 <= p <= 1:
                raise ValueError(f'{name} must be in [0, 1], got {p}')
        if len(mean) != 3 or len(std) != 3:
            raise ValueError(f'mean and std need 3 channels, got {mean} and {std}')
        self.mean = torch.as_tensor(mean, dtype=torch.float32).view(3, 1, 1)
        self.std = torch.as_tensor(std, dtype=torch.float32).view(3, 1, 1)
        self.color_jitter_strength = color_jitter_strength
        self.color_jitter_prob = color_jitter_prob
        self.blur_prob = blur_prob
        self.sigma_range = tuple(sigma_range)
        self.flip_prob = flip_prob

    def _photometric(self, img: Tensor) -> Tensor:
        mean, std = self.mean.to(img), self.std.to(img)
        rgb = (img * std + mean) / 255.
        s = self.color_jitter_strength
        if s > 0 and torch.rand(()) < self.color_jitter_prob:
            factors = (1 + (torch.rand(3) * 2 - 1) * s).tolist()
            hue = float((torch.rand(()) * 2 - 1) * min(s, 0.5))
            rgb = color_jitter(rgb, *factors, hue)
        if torch.rand(()) < self.blur_prob:
            low, high = self.sigma_range
            sigma = float(low + torch.rand(()) * (high - low))
            ksize = [_odd_kernel(extent) for extent in rgb.shape[-2:]]
            rgb = gaussian_blur(rgb, sigma, ksize)
        return (rgb * 255. - mean) / std

    def __call__(self,
                 img: Tensor,
                 label: Optional[Tensor] = None,
                 weight: Optional[Tensor] = None,
                 geometric: bool = True) -> StrongViews:
        """Augment a batch.

        Args:
            img (Tensor): ``[B, 3, H, W]`` normalised images.
            label (Tensor, optional): ``[B, H, W]`` labels, flipped with the image.
            weight (Tensor, optional): ``[B, H, W]`` pixel weights, flipped with the image.
            geometric (bool): Allow the flip. Defaults to True.

        Returns:
            StrongViews: The augmented batch.
        """
        if img.dim() != 4 or img.shape[1] != 3:
            raise ValueError(f'img must be [B, 3, H, W], got {tuple(img.shape)}')
        for name, t in (('label', label), ('weight', weight)):
            if t is not None and (t.dim() != 3 or t.shape[0] != img.shape[0] or t.shape[-2:] != img.shape[-2:]):
                raise ValueError(f'{name} must be [B, H, W] matching img {tuple(img.shape)}, got {tuple(t.shape)}')
        flipped = (torch.rand(img.shape[0]) < self.flip_prob) if geometric else torch.zeros(img.shape[0], dtype=torch.bool)
        flipped = flipped.to(img.device)
        out_img: List[Tensor] = [self._photometric(i) for i in img]
        out = torch.stack(out_img)
        return StrongViews(
            self.flip(out, flipped),
            None if label is None else self.flip(label, flipped),
            None if weight is None else self.flip(weight, flipped),
            flipped)

    @staticmethod
    def flip(x: Tensor, flipped: Tensor) -> Tensor:
        """Flip the last dimension of the batch items marked in ``flipped``."""
        if not flipped.any():
            return x
        return torch.where(flipped.view(-1, *([1] * (x.dim() - 1))), x.flip(-1), x)

    unflip = flip  # a horizontal flip is its own inverse


def _odd_kernel(extent: int) -> int:
    """Odd kernel size close to 10% of ``extent`` (as DACS/DAFormer)."""
    size = math.ceil(0.1 * extent)
    return max(3, size + 1 - size % 2)
