"""Torchvision's ``RandomErasing`` on a uint8 image, as used by Adaptive Teacher's strong view.

mmdet's ``RandomErasing`` draws a number of patches of a size relative to the image and
fills them with a constant; torchvision's (the one Adaptive Teacher chains three times,
``adapteacher/data/detection_utils.py`` L28-42) erases at most one rectangle with a
probability, an area drawn as a fraction of the image and a log-uniform aspect ratio, and
``value='random'`` fills it with per-pixel normal noise.
"""
import math
from typing import Optional, Tuple, Union

import numpy as np
from mmcv.transforms import BaseTransform

from mmcontrast.registry import TRANSFORMS


@TRANSFORMS.register_module()
class TorchvisionRandomErasing(BaseTransform):
    """Erase one random rectangle with probability ``prob`` (torchvision's semantics).

    The rectangle: area ``U(scale) * H * W``, aspect ratio ``h / w`` drawn log-uniformly
    from ``ratio``, ``h = round(sqrt(area * aspect))``, ``w = round(sqrt(area / aspect))``;
    up to 10 draws until it fits strictly inside the image, else the image is unchanged.
    ``value='random'`` reproduces what Adaptive Teacher's images get: torchvision fills the
    rectangle of the ``[0, 1]`` tensor with standard normal noise, and ``ToPILImage`` turns
    ``noise * 255`` into bytes by truncation modulo 256, i.e. almost uniform noise in
    ``[0, 255]``. Randomness comes from numpy's global generator (seeded per worker).

    Args:
        prob (float): Probability of erasing. Defaults to 0.5.
        scale (tuple[float, float]): Range of the erased area as a fraction of the image.
            Defaults to (0.02, 0.33).
        ratio (tuple[float, float]): Range of the aspect ratio. Defaults to (0.3, 3.3).
        value (int | str): A grey level in ``[0, 255]`` or ``'random'``. Defaults to 0.
    """

    def __init__(self,
                 prob: float = 0.5,
                 scale: Tuple[float, float] = (0.02, 0.33),
                 ratio: Tuple[float, float] = (0.3, 3.3),
                 value: Union[int, str] = 0) -> None:
        if not 0 <= prob <= 1:
            raise ValueError(f'TorchvisionRandomErasing: prob must be in [0, 1], got {prob}')
        if not 0 < scale[0] <= scale[1] <= 1:
            raise ValueError(f'TorchvisionRandomErasing: scale must satisfy 0 < min <= max <= 1, got {scale}')
        if not 0 < ratio[0] <= ratio[1]:
            raise ValueError(f'TorchvisionRandomErasing: ratio must satisfy 0 < min <= max, got {ratio}')
        if value != 'random' and not (isinstance(value, int) and 0 <= value <= 255):
            raise ValueError(f"TorchvisionRandomErasing: value must be an int in [0, 255] or 'random', got {value!r}")
        self.prob = prob
        self.scale = tuple(scale)
        self.ratio = tuple(ratio)
        self.value = value

    def get_box(self, height: int, width: int) -> Optional[Tuple[int, int, int, int]]:
        """``(top, left, h, w)`` of the rectangle, or None when no draw fits."""
        area = height * width
        log_ratio = (math.log(self.ratio[0]), math.log(self.ratio[1]))
        for _ in range(10):
            erase_area = area * np.random.uniform(*self.scale)
            aspect = math.exp(np.random.uniform(*log_ratio))
            h = int(round(math.sqrt(erase_area * aspect)))
            w = int(round(math.sqrt(erase_area / aspect)))
            if h < height and w < width:
                return np.random.randint(0, height - h + 1), np.random.randint(0, width - w + 1), h, w
        return None

    def transform(self, results: dict) -> dict:
        if np.random.rand() >= self.prob:
            return results
        img = results['img']
        box = self.get_box(*img.shape[:2])
        if box is None:
            return results
        top, left, h, w = box
        img = img.copy()
        if self.value == 'random':
            noise = np.random.standard_normal((h, w, img.shape[2])) * 255.0
            img[top:top + h, left:left + w] = np.mod(np.trunc(noise).astype(np.int64), 256).astype(np.uint8)
        else:
            img[top:top + h, left:left + w] = self.value
        results['img'] = img
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(prob={self.prob}, scale={self.scale}, ratio={self.ratio}, '
                f'value={self.value!r})')
