"""Strong augmentation on normalised image batches (DACS / DAFormer style).

Two registered strategies share one interface (``cls(mean, std, **kwargs)``, called as
``aug(img, label=None, weight=None, geometric=True) -> StrongViews``):

* :class:`DAFormerStrongAug` (the default of :func:`build_strong_aug`) reproduces
  DAFormer's ``strong_transform`` (``mmseg/models/utils/dacs_transforms.py``), which calls
  kornia 0.5.8's ``ColorJitter`` and ``GaussianBlur2d``: one jitter decision and one blur
  decision per batch, jitter applied when ``U(0, 1) > p`` (i.e. with rate ``1 - p``),
  additive brightness, multiplicative contrast, HSV saturation and hue, a random order
  of the four ops per image, and a kernel of ~10% of the image side rounded to an odd
  size as DAFormer does (512 -> 51).
* :class:`IndependentStrongAug` (alias :class:`StrongAugmentation`) is this project's
  earlier, deliberately different variant: per-image decisions with probability
  ``color_jitter_prob``, multiplicative brightness, contrast/saturation blended towards
  grey, a YIQ hue rotation, fixed op order, and a kernel rounded *up* to odd (512 -> 53).

The photometric part acts on images only; the optional geometric part (horizontal flip)
is applied identically to images, labels and pixel weights and is reported per image, so
that a caller can map predictions back onto the un-flipped view (see
:meth:`DAFormerStrongAug.unflip`).
"""
import math
import random
from typing import List, NamedTuple, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from mmcontrast.registry import MODELS

# RGB -> YIQ; a hue shift is a rotation of the chroma plane (I, Q).
_RGB2YIQ = torch.tensor([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]])

# Indices of the four ops in a jitter order, as kornia 0.5.8's ColorJitter numbers them
# (0 brightness, 1 contrast, 2 saturation, 3 hue).
JITTER_OPS = ('brightness', 'contrast', 'saturation', 'hue')

Factor = Union[float, Tensor]

# ---------------------------------------------------------------------------------------
# Independent (project) variant of the colour ops.
# ---------------------------------------------------------------------------------------


def adjust_hue(img: Tensor, hue: float) -> Tensor:
    """Rotate the hue of ``[3, H, W]`` RGB in ``[0, 1]`` by ``hue`` turns (in [-0.5, 0.5]).

    The rotation is done in YIQ space, which keeps the luma exact and approximates an
    HSV hue shift. Used by :class:`IndependentStrongAug` only; see :func:`adjust_hue_hsv`
    for kornia's HSV version used by :class:`DAFormerStrongAug`.

    Args:
        img (Tensor): ``[3, H, W]`` RGB in ``[0, 1]``.
        hue (float): Rotation in turns (0 = unchanged).

    Returns:
        Tensor: The rotated image (not clamped).
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

    This is the :class:`IndependentStrongAug` colour jitter (fixed order, multiplicative
    brightness, blends towards grey, YIQ hue); it is not kornia's. For DAFormer's maths
    see :func:`daformer_color_jitter`.

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


# ---------------------------------------------------------------------------------------
# kornia 0.5.8 colour maths (DAFormer), written independently in torch.
# ---------------------------------------------------------------------------------------


def _per_image(factor: Factor, img: Tensor) -> Tensor:
    """Broadcast a scalar or ``[B]`` factor over ``[..., C, H, W]`` as kornia does."""
    factor = torch.as_tensor(factor).to(device=img.device, dtype=img.dtype)
    return factor.reshape(*factor.shape, *([1] * (img.dim() - factor.dim())))


def rgb_to_hsv(img: Tensor, eps: float = 1e-6) -> Tensor:
    """RGB in ``[0, 1]`` to HSV with kornia 0.5.8's conventions.

    Hue is in radians in ``[0, 2*pi)``; saturation is ``(max - min) / (max + eps)``
    (the ``eps`` matters for parity: kornia keeps it, so a round trip is not exact);
    value is the channel maximum. Where several channels share the maximum the first
    one (R, then G, then B) picks the hue sector, as kornia does.

    Args:
        img (Tensor): ``[..., 3, H, W]`` RGB.
        eps (float): Stabiliser of the saturation division. Defaults to 1e-6.

    Returns:
        Tensor: ``[..., 3, H, W]`` HSV.
    """
    r, g, b = img.unbind(-3)
    value = torch.maximum(torch.maximum(r, g), b)
    delta = value - torch.minimum(torch.minimum(r, g), b)
    sat = delta / (value + eps)
    # grey pixels: any hue works once the chroma is zero; dividing by one keeps it finite
    safe = torch.where(delta == 0, torch.ones_like(delta), delta)
    # hue sector position in [0, 6), from whichever channel is the (first) maximum
    sector = torch.where(r == value, (g - b) / safe,
                         torch.where(g == value, 2. + (b - r) / safe, 4. + (r - g) / safe))
    hue = torch.remainder(sector / 6., 1.) * (2 * math.pi)
    return torch.stack((hue, sat, value), dim=-3)


def hsv_to_rgb(img: Tensor) -> Tensor:
    """HSV (hue in radians, any real value) to RGB, inverse of :func:`rgb_to_hsv`.

    Args:
        img (Tensor): ``[..., 3, H, W]`` HSV.

    Returns:
        Tensor: ``[..., 3, H, W]`` RGB.
    """
    hue, sat, value = img.unbind(-3)
    position = torch.remainder(hue / (2 * math.pi) * 6., 6.)  # periodic, so negative hues are fine
    # remainder() can round up to exactly 6; keep that in the last sector with frac = 1,
    # which is the same colour as sector 0 with frac = 0
    sector = torch.floor(position).clamp(max=5)
    frac = position - sector
    low = value * (1 - sat)
    falling = value * (1 - frac * sat)
    rising = value * (1 - (1 - frac) * sat)
    # (R, G, B) per sector 0..5 of the hue circle
    table = {
        0: (value, rising, low),
        1: (falling, value, low),
        2: (low, value, rising),
        3: (low, falling, value),
        4: (rising, low, value),
        5: (value, low, falling)
    }
    index = sector.long().unsqueeze(-3)
    channels = []
    for c in range(3):
        candidates = torch.stack([table[k][c] for k in range(6)], dim=-3)
        channels.append(candidates.gather(-3, index).squeeze(-3))
    return torch.stack(channels, dim=-3)


def adjust_brightness_additive(img: Tensor, shift: Factor) -> Tensor:
    """kornia 0.5.8 ``adjust_brightness``: add ``shift`` and clamp to ``[0, 1]``.

    kornia's ColorJitter draws a brightness *factor* around 1 and passes ``factor - 1``
    here, so the jitter is additive, not a multiplication as in torchvision.

    Args:
        img (Tensor): ``[..., C, H, W]`` image in ``[0, 1]``.
        shift (float | Tensor): Scalar or ``[B]`` additive shift (0 = unchanged).

    Returns:
        Tensor: The shifted image.
    """
    return (img + _per_image(shift, img)).clamp(0, 1)


def adjust_contrast_multiplicative(img: Tensor, factor: Factor) -> Tensor:
    """kornia 0.5.8 ``adjust_contrast``: multiply by ``factor`` and clamp to ``[0, 1]``.

    Args:
        img (Tensor): ``[..., C, H, W]`` image in ``[0, 1]``.
        factor (float | Tensor): Scalar or ``[B]`` non-negative factor (1 = unchanged).

    Returns:
        Tensor: The scaled image.
    """
    return (img * _per_image(factor, img)).clamp(0, 1)


def adjust_saturation_hsv(img: Tensor, factor: Factor) -> Tensor:
    """kornia 0.5.8 ``adjust_saturation``: scale HSV saturation, clamped to ``[0, 1]``.

    Args:
        img (Tensor): ``[..., 3, H, W]`` RGB in ``[0, 1]``.
        factor (float | Tensor): Scalar or ``[B]`` non-negative factor (1 = unchanged).

    Returns:
        Tensor: The RGB image after the HSV round trip.
    """
    hue, sat, value = rgb_to_hsv(img).unbind(-3)
    sat = (sat * _per_image(factor, sat.unsqueeze(-3)).squeeze(-3)).clamp(0, 1)
    return hsv_to_rgb(torch.stack((hue, sat, value), dim=-3))


def adjust_hue_hsv(img: Tensor, shift: Factor) -> Tensor:
    """kornia 0.5.8 ``adjust_hue``: shift HSV hue by ``shift`` radians (no clamping).

    Args:
        img (Tensor): ``[..., 3, H, W]`` RGB in ``[0, 1]``.
        shift (float | Tensor): Scalar or ``[B]`` shift in radians, in ``[-pi, pi]``
            (ColorJitter passes ``hue_factor * 2 * pi``).

    Returns:
        Tensor: The RGB image after the HSV round trip.
    """
    hue, sat, value = rgb_to_hsv(img).unbind(-3)
    hue = torch.remainder(hue + _per_image(shift, hue.unsqueeze(-3)).squeeze(-3), 2 * math.pi)
    return hsv_to_rgb(torch.stack((hue, sat, value), dim=-3))


def daformer_color_jitter(img: Tensor,
                          brightness: Factor,
                          contrast: Factor,
                          saturation: Factor,
                          hue: Factor,
                          order: Sequence[int] = (0, 1, 2, 3)) -> Tensor:
    """Apply kornia 0.5.8 ``ColorJitter`` with given factors (as drawn by its generator).

    Args:
        img (Tensor): ``[..., 3, H, W]`` RGB in ``[0, 1]``.
        brightness (float | Tensor): Brightness factor around 1; applied additively as
            ``factor - 1``.
        contrast (float | Tensor): Multiplicative contrast factor (1 = unchanged).
        saturation (float | Tensor): HSV saturation factor (1 = unchanged).
        hue (float | Tensor): Hue factor in turns (in ``[-0.5, 0.5]``); applied as
            ``hue * 2 * pi`` radians.
        order (Sequence[int]): Order of the ops, a permutation of ``0..3`` indexing
            :data:`JITTER_OPS`. Defaults to (0, 1, 2, 3).

    Returns:
        Tensor: The jittered image.
    """
    if sorted(int(i) for i in order) != [0, 1, 2, 3]:
        raise ValueError(f'order must be a permutation of 0..3, got {list(order)}')
    ops = (
        lambda x: adjust_brightness_additive(x, torch.as_tensor(brightness) - 1),
        lambda x: adjust_contrast_multiplicative(x, contrast),
        lambda x: adjust_saturation_hsv(x, saturation),
        lambda x: adjust_hue_hsv(x, torch.as_tensor(hue) * (2 * math.pi)),
    )
    for i in order:
        img = ops[int(i)](img)
    return img


def daformer_jitter_ranges(strength: float) -> Tuple[Tuple[float, float], ...]:
    """kornia 0.5.8 ColorJitter ranges for ``brightness=contrast=saturation=hue=s``.

    Brightness ``[1 - s, 1 + s]`` clipped to ``[0, 2]``; contrast and saturation
    ``[1 - s, 1 + s]`` clipped below at 0; hue ``[-s, s]`` clipped to ``[-0.5, 0.5]``.

    Args:
        strength (float): Jitter strength ``s >= 0``.

    Returns:
        tuple: ``(low, high)`` per op, in :data:`JITTER_OPS` order.
    """
    if strength < 0:
        raise ValueError(f'color_jitter_strength must be non-negative, got {strength}')
    return ((max(0., 1 - strength), min(2., 1 + strength)), (max(0., 1 - strength), 1 + strength),
            (max(0., 1 - strength), 1 + strength), (max(-0.5, -strength), min(0.5, strength)))


def sample_daformer_jitter(strength: float) -> dict:
    """Draw one image's ColorJitter parameters from torch's global RNG, as kornia 0.5.8.

    The draws follow kornia's generator for a batch of one (DAFormer jitters one image
    per call): one float32 uniform each for brightness, contrast, hue and saturation, in
    that order, then a random permutation of the four ops. Drawing in the same order
    keeps a seeded run on the same random stream as DAFormer. The draws happen on the
    CPU, as kornia's do by default.

    Args:
        strength (float): Jitter strength ``s >= 0``.

    Returns:
        dict: ``brightness``, ``contrast``, ``saturation``, ``hue`` (0-dim float32
        tensors) and ``order`` (a list of 4 ints).
    """
    (b_lo, b_hi), (c_lo, c_hi), (s_lo, s_hi), (h_lo, h_hi) = daformer_jitter_ranges(strength)

    def uniform(low: float, high: float) -> Tensor:
        # float32 bounds and low + u * (high - low), so the values match kornia bit for bit
        low_t, high_t = torch.tensor(low, dtype=torch.float32), torch.tensor(high, dtype=torch.float32)
        return low_t + torch.rand(1, dtype=torch.float32)[0] * (high_t - low_t)

    params = {'brightness': uniform(b_lo, b_hi), 'contrast': uniform(c_lo, c_hi)}
    params['hue'] = uniform(h_lo, h_hi)  # kornia draws hue before saturation
    params['saturation'] = uniform(s_lo, s_hi)
    params['order'] = torch.randperm(4).tolist()
    return params


# ---------------------------------------------------------------------------------------
# Gaussian blur.
# ---------------------------------------------------------------------------------------


def gaussian_kernel1d(size: int, sigma: float, dtype: torch.dtype = torch.float32,
                      device: Optional[torch.device] = None) -> Tensor:
    """Normalised 1-D Gaussian as kornia 0.5.8 ``get_gaussian_kernel1d`` (odd sizes only).

    kornia rejects even sizes unless ``force_even`` (which ``GaussianBlur2d`` never
    sets), so an even size is an error here too rather than a half-pixel shifted kernel.

    Args:
        size (int): Odd positive kernel size.
        sigma (float): Standard deviation in pixels (> 0).
        dtype (torch.dtype): Kernel dtype. Defaults to torch.float32.
        device (torch.device, optional): Kernel device. Defaults to None (CPU).

    Returns:
        Tensor: ``[size]`` weights summing to 1.
    """
    if size <= 0 or size % 2 == 0:
        raise ValueError(f'kernel size must be odd and positive, got {size}')
    coords = torch.arange(size, dtype=dtype, device=device) - size // 2
    kernel = torch.exp(-coords**2 / (2 * sigma**2))
    return kernel / kernel.sum()


def gaussian_blur(img: Tensor, sigma: float, kernel_size: Sequence[int]) -> Tensor:
    """Separable Gaussian blur with reflect padding, as kornia 0.5.8 ``GaussianBlur2d``.

    kornia convolves with the outer product of two 1-D kernels; doing the two passes
    separately is the same linear map (up to float rounding) and cheaper. A kernel wider
    than reflect padding allows (``size // 2 >= extent``, where kornia would fail) is
    shrunk to the largest valid odd size.

    Args:
        img (Tensor): ``[C, H, W]`` or ``[B, C, H, W]`` image.
        sigma (float): Standard deviation in pixels (> 0), the same for both axes.
        kernel_size (Sequence[int]): Odd kernel sizes ``(k_h, k_w)``.

    Returns:
        Tensor: The blurred image, same shape as ``img``.
    """
    if img.dim() not in (3, 4):
        raise ValueError(f'img must be [C, H, W] or [B, C, H, W], got {tuple(img.shape)}')
    for size in kernel_size:
        if size <= 0 or size % 2 == 0:
            raise ValueError(f'kernel sizes must be odd and positive, got {tuple(kernel_size)}')
    out = img if img.dim() == 4 else img.unsqueeze(0)
    channels, height, width = out.shape[-3:]
    for dim, (size, extent) in enumerate(zip(kernel_size, (height, width))):
        size = min(size, 2 * ((extent - 1) // 2) + 1)  # reflect padding needs pad < extent
        if size < 3:
            continue  # a 1-tap normalised kernel is the identity
        kernel = gaussian_kernel1d(size, sigma, img.dtype, img.device).repeat(channels, 1)
        if dim == 0:
            kernel, pad = kernel.view(channels, 1, size, 1), (0, 0, size // 2, size // 2)
        else:
            kernel, pad = kernel.view(channels, 1, 1, size), (size // 2, size // 2, 0, 0)
        out = F.conv2d(F.pad(out, pad, mode='reflect'), kernel, groups=channels)
    return out if img.dim() == 4 else out.squeeze(0)


def daformer_kernel_size(extent: int) -> int:
    """DAFormer's blur kernel size for an image side of ``extent`` pixels.

    ``k = ceil(0.1 * extent)``; an even ``k`` is rounded *down* to ``k - 1`` (DAFormer
    writes it as ``floor(k - 0.5 + k % 2)``), so 512 -> 51, 513 -> 51, 64 -> 7.

    Args:
        extent (int): Image height or width.

    Returns:
        int: Odd kernel size (1 for sides of at most 20 pixels, i.e. no blur).
    """
    size = math.ceil(0.1 * extent)
    return size if size % 2 == 1 else size - 1


def _odd_kernel(extent: int) -> int:
    """:class:`IndependentStrongAug`'s kernel: ``ceil(0.1 * extent)`` rounded *up* to odd, at least 3."""
    size = math.ceil(0.1 * extent)
    return max(3, size + 1 - size % 2)


# ---------------------------------------------------------------------------------------
# Strategies.
# ---------------------------------------------------------------------------------------


class StrongViews(NamedTuple):
    """Output of a strong augmentation: images and, when given, labels and weights.

    ``flipped`` is a ``[B]`` bool tensor telling which images were flipped.
    """
    img: Tensor
    label: Optional[Tensor]
    weight: Optional[Tensor]
    flipped: Tensor


class _StrongAugBase:
    """Shared plumbing: (de)normalisation constants, input checks, flips.

    Subclasses implement :meth:`_photometric_batch` and :meth:`_draw_flips`.

    Args:
        mean (Sequence[float]): Per-channel mean of the normalisation (0-255 scale, RGB).
        std (Sequence[float]): Per-channel std of the normalisation.
        flip_prob (float): Probability of a horizontal flip per image. Defaults to 0.0.
    """

    def __init__(self, mean: Sequence[float], std: Sequence[float], flip_prob: float = 0.0) -> None:
        if not 0 <= flip_prob <= 1:
            raise ValueError(f'flip_prob must be in [0, 1], got {flip_prob}')
        if len(mean) != 3 or len(std) != 3:
            raise ValueError(f'mean and std need 3 channels, got {mean} and {std}')
        self.mean = torch.as_tensor(mean, dtype=torch.float32).view(3, 1, 1)
        self.std = torch.as_tensor(std, dtype=torch.float32).view(3, 1, 1)
        self.flip_prob = flip_prob

    def _denorm(self, img: Tensor) -> Tensor:
        return (img * self.std.to(img) + self.mean.to(img)) / 255.

    def _renorm(self, rgb: Tensor) -> Tensor:
        return (rgb * 255. - self.mean.to(rgb)) / self.std.to(rgb)

    def _photometric_batch(self, img: Tensor) -> Tensor:
        raise NotImplementedError

    def _draw_flips(self, batch_size: int, geometric: bool) -> Tensor:
        raise NotImplementedError

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
        flipped, out = self._flips_and_photometric(img, geometric)
        flipped = flipped.to(img.device)
        return StrongViews(
            self.flip(out, flipped),
            None if label is None else self.flip(label, flipped),
            None if weight is None else self.flip(weight, flipped),
            flipped)

    def _flips_and_photometric(self, img: Tensor, geometric: bool) -> Tuple[Tensor, Tensor]:
        flipped = self._draw_flips(img.shape[0], geometric)
        return flipped, self._photometric_batch(img)

    @staticmethod
    def flip(x: Tensor, flipped: Tensor) -> Tensor:
        """Flip the last dimension of the batch items marked in ``flipped``.

        Args:
            x (Tensor): ``[B, ...]`` batch.
            flipped (Tensor): ``[B]`` bool mask.

        Returns:
            Tensor: ``x`` with the marked items flipped along the last dimension.
        """
        if not flipped.any():
            return x
        return torch.where(flipped.view(-1, *([1] * (x.dim() - 1))), x.flip(-1), x)

    unflip = flip  # a horizontal flip is its own inverse


@MODELS.register_module()
class DAFormerStrongAug(_StrongAugBase):
    """DAFormer's strong augmentation (``dacs.py`` + ``dacs_transforms.py``, kornia 0.5.8).

    Per batch, two python ``random.uniform(0, 1)`` draws decide (as DAFormer's
    ``strong_parameters``): colour jitter for the whole batch when the first exceeds
    ``color_jitter_probability`` -- note that DAFormer's "probability" is a *threshold*,
    so the default 0.2 jitters **80%** of the batches -- and Gaussian blur for the whole
    batch when the second exceeds 0.5 (only drawn when ``blur``). Per image, the jitter
    factors and the order of the four ops come from torch's RNG in kornia's draw order
    (see :func:`sample_daformer_jitter`), and the blur sigma from
    ``np.random.uniform(*sigma_range)``. The kernel size is :func:`daformer_kernel_size`
    of each side. Jitter works on the denormalised ``[0, 1]`` RGB image; blur on the
    normalised one, as DAFormer (equivalent, since blur commutes with a per-channel
    affine map). Batches that draw neither are returned bit-exact.

    Args:
        mean (Sequence[float]): Per-channel mean of the normalisation (0-255 scale, RGB
            order after ``bgr_to_rgb``).
        std (Sequence[float]): Per-channel std of the normalisation.
        color_jitter_strength (float): kornia ``ColorJitter`` strength ``s``, used for
            brightness, contrast, saturation and hue alike. Defaults to 0.2.
        color_jitter_probability (float): DAFormer's threshold ``p``: jitter when
            ``U(0, 1) > p``, i.e. with rate ``1 - p``. Defaults to 0.2 (rate 0.8).
        blur (bool): Whether blur may happen (then with rate 0.5). Defaults to True.
        sigma_range (Sequence[float]): Range of the blur sigma. Defaults to (0.15, 1.15).
        flip_prob (float): Probability of a horizontal flip per image (not in DAFormer;
            drawn from torch's RNG after the photometric draws so that those stay on
            DAFormer's random stream). Defaults to 0.0.
    """

    def __init__(self,
                 mean: Sequence[float],
                 std: Sequence[float],
                 color_jitter_strength: float = 0.2,
                 color_jitter_probability: float = 0.2,
                 blur: bool = True,
                 sigma_range: Sequence[float] = (0.15, 1.15),
                 flip_prob: float = 0.0) -> None:
        super().__init__(mean, std, flip_prob)
        if not 0 <= color_jitter_probability <= 1:
            raise ValueError(f'color_jitter_probability must be in [0, 1], got {color_jitter_probability}')
        daformer_jitter_ranges(color_jitter_strength)  # validates the strength
        if len(sigma_range) != 2 or not 0 < sigma_range[0] <= sigma_range[1]:
            raise ValueError(f'sigma_range must be (low, high) with 0 < low <= high, got {sigma_range}')
        self.color_jitter_strength = color_jitter_strength
        self.color_jitter_probability = color_jitter_probability
        self.blur = blur
        self.sigma_range = tuple(sigma_range)

    @property
    def color_jitter_rate(self) -> float:
        """Fraction of batches that get colour jitter: ``1 - color_jitter_probability``."""
        return 1. - self.color_jitter_probability

    def _flips_and_photometric(self, img: Tensor, geometric: bool) -> Tuple[Tensor, Tensor]:
        out = self._photometric_batch(img)
        return self._draw_flips(img.shape[0], geometric), out

    def _draw_flips(self, batch_size: int, geometric: bool) -> Tensor:
        if not geometric or self.flip_prob == 0:
            return torch.zeros(batch_size, dtype=torch.bool)  # no draw: keep DAFormer's torch stream
        return torch.rand(batch_size) < self.flip_prob

    def _photometric_batch(self, img: Tensor) -> Tensor:
        # DAFormer dacs.py: 'color_jitter': random.uniform(0, 1), then
        # 'blur': random.uniform(0, 1) if self.blur else 0 -- in this order, once per batch.
        jitter = random.uniform(0, 1) > self.color_jitter_probability
        blur = (random.uniform(0, 1) if self.blur else 0) > 0.5
        if not (jitter or blur):
            return img
        out = []
        for one in img:  # DAFormer runs strong_transform one image at a time
            if jitter:
                p = sample_daformer_jitter(self.color_jitter_strength)
                rgb = daformer_color_jitter(self._denorm(one), p['brightness'], p['contrast'], p['saturation'],
                                            p['hue'], p['order'])
                one = self._renorm(rgb)
            if blur:
                sigma = float(np.random.uniform(*self.sigma_range))
                one = gaussian_blur(one, sigma, [daformer_kernel_size(e) for e in one.shape[-2:]])
            out.append(one)
        return torch.stack(out)


@MODELS.register_module()
class IndependentStrongAug(_StrongAugBase):
    """This project's earlier strong augmentation, kept as a documented deviation.

    It differs from DAFormer (:class:`DAFormerStrongAug`) on purpose: each image
    independently gets colour jitter with probability ``color_jitter_prob`` (a *rate*:
    0.2 jitters 20% of the images, the inverse of DAFormer's default) and blur with
    probability ``blur_prob``; brightness is multiplicative, contrast and saturation
    blend towards grey, the hue is a YIQ rotation, the op order is fixed (see
    :func:`color_jitter`); the blur kernel is ``ceil(0.1 * side)`` rounded *up* to odd
    (512 -> 53). All draws come from torch's RNG.

    Args:
        mean (Sequence[float]): Per-channel mean of the normalisation (0-255 scale, RGB
            order after ``bgr_to_rgb``).
        std (Sequence[float]): Per-channel std of the normalisation.
        color_jitter_strength (float): Jitter strength ``s``: factors in ``[1 - s, 1 + s]``,
            hue in ``[-s, s]`` turns (at most half a turn). Defaults to 0.2.
        color_jitter_prob (float): Probability (rate) of colour jitter per image.
            Defaults to 0.2.
        blur_prob (float): Probability (rate) of Gaussian blur per image. Defaults to 0.5.
        sigma_range (Sequence[float]): Blur sigma range. Defaults to (0.15, 1.15).
        flip_prob (float): Probability of a horizontal flip per image. Defaults to 0.0.
    """

    def __init__(self,
                 mean: Sequence[float],
                 std: Sequence[float],
                 color_jitter_strength: float = 0.2,
                 color_jitter_prob: float = 0.2,
                 blur_prob: float = 0.5,
                 sigma_range: Sequence[float] = (0.15, 1.15),
                 flip_prob: float = 0.0) -> None:
        super().__init__(mean, std, flip_prob)
        for name, p in (('color_jitter_prob', color_jitter_prob), ('blur_prob', blur_prob)):
            if not 0 <= p <= 1:
                raise ValueError(f'{name} must be in [0, 1], got {p}')
        self.color_jitter_strength = color_jitter_strength
        self.color_jitter_prob = color_jitter_prob
        self.blur_prob = blur_prob
        self.sigma_range = tuple(sigma_range)

    def _draw_flips(self, batch_size: int, geometric: bool) -> Tensor:
        if not geometric:
            return torch.zeros(batch_size, dtype=torch.bool)
        return torch.rand(batch_size) < self.flip_prob

    def _photometric_batch(self, img: Tensor) -> Tensor:
        out: List[Tensor] = [self._photometric(i) for i in img]
        return torch.stack(out)

    def _photometric(self, img: Tensor) -> Tensor:
        rgb = self._denorm(img)
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
        return self._renorm(rgb)


# Backward-compatible name of the project's earlier strategy.
StrongAugmentation = IndependentStrongAug

_INDEPENDENT_ONLY_ARGS = ('color_jitter_prob', 'blur_prob')


def build_strong_aug(cfg: Optional[dict], mean: Sequence[float], std: Sequence[float]) -> _StrongAugBase:
    """Build a strong augmentation from a config dict.

    Args:
        cfg (dict, optional): Keyword arguments of the strategy plus an optional ``type``
            (a registered name such as ``'mmcontrast.IndependentStrongAug'``, or a class).
            Defaults to None, i.e. ``dict(type='mmcontrast.DAFormerStrongAug')``.
        mean (Sequence[float]): Per-channel mean of the normalisation (0-255 scale).
        std (Sequence[float]): Per-channel std of the normalisation.

    Returns:
        The strategy, called as ``aug(img, label=None, weight=None, geometric=True)``.
    """
    cfg = dict(cfg or {})
    cfg.setdefault('type', 'mmcontrast.DAFormerStrongAug')
    if cfg['type'] in ('mmcontrast.DAFormerStrongAug', 'DAFormerStrongAug', DAFormerStrongAug):
        stale = [k for k in _INDEPENDENT_ONLY_ARGS if k in cfg]
        if stale:
            # A silent rename would flip the jitter rate (0.2 -> 0.8), so refuse loudly.
            raise TypeError(f'{stale} are IndependentStrongAug arguments (per-image rates); set '
                            "type='mmcontrast.IndependentStrongAug' to keep that behaviour, or use "
                            'DAFormerStrongAug(color_jitter_probability=p, i.e. jitter rate 1 - p, blur=True/False)')
    return MODELS.build(cfg, default_args=dict(mean=list(mean), std=list(std)))
