"""Image augmentations of self-supervised pipelines that mmcv lacks, on cv2/numpy.

All of them take and return ``results['img']`` as an ``HxWx3`` uint8 BGR array (as
``mmcv.imread`` and the datasets of this package produce), follow torchvision's
definitions (the ones SimCLR, MoCo v2, BYOL and SimSiam were trained with) and draw
their randomness from numpy's global generator, which mmengine seeds per worker.
Wrap them in mmcv's ``RandomApply`` for a probability of application.
"""
import math
from typing import Optional, Sequence, Tuple, Union

import cv2
import numpy as np
from mmcv.transforms import BaseTransform

from mmcontrast.registry import TRANSFORMS


def _check_img(results: dict, name: str) -> np.ndarray:
    img = results.get('img')
    if not isinstance(img, np.ndarray) or img.ndim != 3 or img.shape[2] != 3:
        shape = getattr(img, 'shape', type(img).__name__)
        raise ValueError(f'{name} needs results["img"] as an HxWx3 array, got {shape}')
    return img


def _to_uint8(img: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


@TRANSFORMS.register_module()
class RandomResizedCrop(BaseTransform):
    """Crop a random area and aspect ratio, then resize to ``size`` (Inception style).

    Args:
        size (int | tuple[int, int]): Output ``(h, w)``, or one int for a square.
        scale (tuple[float, float]): Range of the crop area as a fraction of the
            image area. Defaults to (0.08, 1.0).
        ratio (tuple[float, float]): Range of the crop aspect ratio (w / h),
            sampled log-uniformly. Defaults to (3/4, 4/3).
        max_attempts (int): Tries before falling back to a central crop.
            Defaults to 10.
        interpolation (str): ``'bilinear'``, ``'bicubic'``, ``'nearest'`` or
            ``'area'``. Defaults to ``'bilinear'``.
    """

    _INTERP = dict(bilinear=cv2.INTER_LINEAR, bicubic=cv2.INTER_CUBIC, nearest=cv2.INTER_NEAREST,
                   area=cv2.INTER_AREA)

    def __init__(self, size: Union[int, Sequence[int]], scale: Tuple[float, float] = (0.08, 1.0),
                 ratio: Tuple[float, float] = (3. / 4., 4. / 3.), max_attempts: int = 10,
                 interpolation: str = 'bilinear') -> None:
        self.size = (size, size) if isinstance(size, int) else tuple(size)
        if len(self.size) != 2 or min(self.size) <= 0:
            raise ValueError(f'size must be a positive int or (h, w), got {size}')
        if not (0 < scale[0] <= scale[1] <= 1):
            raise ValueError(f'scale must satisfy 0 < min <= max <= 1, got {scale}')
        if not (0 < ratio[0] <= ratio[1]):
            raise ValueError(f'ratio must satisfy 0 < min <= max, got {ratio}')
        if interpolation not in self._INTERP:
            raise ValueError(f'interpolation must be one of {sorted(self._INTERP)}, got {interpolation!r}')
        self.scale, self.ratio = tuple(scale), tuple(ratio)
        self.max_attempts = max_attempts
        self.interpolation = interpolation

    def get_crop_box(self, h: int, w: int) -> Tuple[int, int, int, int]:
        """Sample a crop ``(top, left, crop_h, crop_w)`` of an ``h x w`` image."""
        area = h * w
        log_ratio = (math.log(self.ratio[0]), math.log(self.ratio[1]))
        for _ in range(self.max_attempts):
            target_area = area * np.random.uniform(*self.scale)
            aspect = math.exp(np.random.uniform(*log_ratio))
            cw = int(round(math.sqrt(target_area * aspect)))
            ch = int(round(math.sqrt(target_area / aspect)))
            if 0 < cw <= w and 0 < ch <= h:
                return np.random.randint(0, h - ch + 1), np.random.randint(0, w - cw + 1), ch, cw
        # Fallback: the largest central crop whose ratio lies in range.
        in_ratio = w / h
        if in_ratio < self.ratio[0]:
            cw, ch = w, int(round(w / self.ratio[0]))
        elif in_ratio > self.ratio[1]:
            ch, cw = h, int(round(h * self.ratio[1]))
        else:
            cw, ch = w, h
        return (h - ch) // 2, (w - cw) // 2, ch, cw

    def transform(self, results: dict) -> dict:
        img = _check_img(results, type(self).__name__)
        top, left, ch, cw = self.get_crop_box(*img.shape[:2])
        crop = img[top:top + ch, left:left + cw]
        results['img'] = cv2.resize(crop, self.size[::-1], interpolation=self._INTERP[self.interpolation])
        results['img_shape'] = self.size
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(size={self.size}, scale={self.scale}, ratio={self.ratio}, '
                f'interpolation={self.interpolation})')


def _blend(img: np.ndarray, other: Union[np.ndarray, float], factor: float) -> np.ndarray:
    return np.clip(other + factor * (img - other), 0, 255)


def _gray(img: np.ndarray) -> np.ndarray:
    """ITU-R 601 luma of a float BGR image, as torchvision's ``rgb_to_grayscale``."""
    return (0.114 * img[..., 0] + 0.587 * img[..., 1] + 0.299 * img[..., 2])[..., None]


@TRANSFORMS.register_module()
class ColorJitter(BaseTransform):
    """Randomly change brightness, contrast, saturation and hue, in random order.

    Factors as in torchvision: brightness, contrast and saturation are drawn from
    ``[max(0, 1 - x), 1 + x]`` and blend the image with black, its mean grey level and
    its grey version; hue is shifted by a fraction of the colour circle drawn from
    ``[-hue, hue]``.

    Args:
        brightness (float): Defaults to 0.
        contrast (float): Defaults to 0.
        saturation (float): Defaults to 0.
        hue (float): At most 0.5. Defaults to 0.
    """

    def __init__(self, brightness: float = 0., contrast: float = 0., saturation: float = 0.,
                 hue: float = 0.) -> None:
        for name, value in dict(brightness=brightness, contrast=contrast, saturation=saturation).items():
            if value < 0:
                raise ValueError(f'{name} must be >= 0, got {value}')
        if not 0 <= hue <= 0.5:
            raise ValueError(f'hue must be in [0, 0.5], got {hue}')
        self.brightness, self.contrast, self.saturation, self.hue = brightness, contrast, saturation, hue

    @staticmethod
    def _factor(x: float) -> Optional[float]:
        return np.random.uniform(max(0., 1 - x), 1 + x) if x > 0 else None

    @staticmethod
    def adjust_hue(img: np.ndarray, shift: float) -> np.ndarray:
        """Rotate the hue of a float BGR image in [0, 255] by ``shift`` turns."""
        hsv = cv2.cvtColor((img / 255.).astype(np.float32), cv2.COLOR_BGR2HSV)  # H in [0, 360)
        hsv[..., 0] = (hsv[..., 0] + shift * 360.) % 360.
        return cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR).astype(np.float64) * 255.

    def transform(self, results: dict) -> dict:
        img = _check_img(results, type(self).__name__).astype(np.float64)
        for op in np.random.permutation(4):
            if op == 0 and (f := self._factor(self.brightness)) is not None:
                img = _blend(img, 0., f)
            elif op == 1 and (f := self._factor(self.contrast)) is not None:
                img = _blend(img, float(_gray(img).mean()), f)
            elif op == 2 and (f := self._factor(self.saturation)) is not None:
                img = _blend(img, _gray(img), f)
            elif op == 3 and self.hue > 0:
                img = self.adjust_hue(img, np.random.uniform(-self.hue, self.hue))
        results['img'] = _to_uint8(img)
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(brightness={self.brightness}, contrast={self.contrast}, '
                f'saturation={self.saturation}, hue={self.hue})')


@TRANSFORMS.register_module()
class RandomGrayscale(BaseTransform):
    """Convert to grey (kept as 3 identical channels) with probability ``prob``.

    Args:
        prob (float): Defaults to 0.2.
    """

    def __init__(self, prob: float = 0.2) -> None:
        if not 0 <= prob <= 1:
            raise ValueError(f'prob must be in [0, 1], got {prob}')
        self.prob = prob

    def transform(self, results: dict) -> dict:
        img = _check_img(results, type(self).__name__)
        if np.random.rand() < self.prob:
            results['img'] = np.repeat(_to_uint8(_gray(img.astype(np.float64))), 3, axis=2)
        return results

    def __repr__(self) -> str:
        return f'{type(self).__name__}(prob={self.prob})'


@TRANSFORMS.register_module()
class GaussianBlur(BaseTransform):
    """Gaussian blur with ``sigma ~ U(sigma_min, sigma_max)`` (SimCLR / MoCo v2 / BYOL).

    Args:
        sigma_min (float): Defaults to 0.1.
        sigma_max (float): Defaults to 2.0.
        kernel_size (int, optional): Odd kernel size; None derives it from sigma
            (about 6 sigma, cv2's rule). Defaults to None.
    """

    def __init__(self, sigma_min: float = 0.1, sigma_max: float = 2.0,
                 kernel_size: Optional[int] = None) -> None:
        if not 0 < sigma_min <= sigma_max:
            raise ValueError(f'need 0 < sigma_min <= sigma_max, got {sigma_min}, {sigma_max}')
        if kernel_size is not None and (kernel_size <= 0 or kernel_size % 2 == 0):
            raise ValueError(f'kernel_size must be a positive odd int, got {kernel_size}')
        self.sigma_min, self.sigma_max, self.kernel_size = sigma_min, sigma_max, kernel_size

    def transform(self, results: dict) -> dict:
        img = _check_img(results, type(self).__name__)
        sigma = np.random.uniform(self.sigma_min, self.sigma_max)
        k = self.kernel_size or 0
        results['img'] = cv2.GaussianBlur(img, (k, k), sigmaX=sigma, sigmaY=sigma,
                                          borderType=cv2.BORDER_REFLECT_101)
        return results

    def __repr__(self) -> str:
        return f'{type(self).__name__}(sigma=({self.sigma_min}, {self.sigma_max}), kernel_size={self.kernel_size})'


@TRANSFORMS.register_module()
class Solarize(BaseTransform):
    """Invert every pixel value at or above ``threshold`` (BYOL's second view).

    Args:
        threshold (int): Defaults to 128.
    """

    def __init__(self, threshold: int = 128) -> None:
        if not 0 <= threshold <= 256:
            raise ValueError(f'threshold must be in [0, 256], got {threshold}')
        self.threshold = threshold

    def transform(self, results: dict) -> dict:
        img = _check_img(results, type(self).__name__)
        results['img'] = np.where(img >= self.threshold, 255 - img, img).astype(np.uint8)
        return results

    def __repr__(self) -> str:
        return f'{type(self).__name__}(threshold={self.threshold})'
