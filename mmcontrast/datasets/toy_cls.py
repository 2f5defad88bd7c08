"""A small procedural 10-class 32x32 classification set, written as real CIFAR-10 files.

Every class is a *texture*: its motif (disk, square, triangle, ...) repeated over the whole
image on a jittered grid, with a random cell size and a small random rotation per image and
a small random offset per copy. The class is therefore readable from any random resized
crop, not only from the image centre. Colours are drawn per image: one random hue and
saturation for motif and background, a light motif on a dark background, brightness levels
varying less than the SSL colour jitter varies them. So colour carries no class information
and no colour property survives the SSL augmentations (crop, flip, colour jitter, grayscale)
as an instance cue: nothing but the motif is both stable under them and shared by the images
of a class.

The first generator drew one small central shape on a flat background from a small palette.
The background filled most of every crop, survived the augmentations and worked as an
instance ID, so instance discrimination (MoCo, BYOL, ...) learned it instead of the shape and
its kNN accuracy fell below random init. :data:`TOY_CLS_VERSION` is recorded next to the
files so that :func:`ensure_toy_cls` regenerates data written by another generator version.

The files are byte-for-byte the layout of ``cifar-10-batches-py`` (python pickles with bytes
keys, ``data`` uint8 (N, 3072) in CHW RGB order, ``labels`` list of int), so
:class:`~mmcontrast.datasets.CIFAR10` loads them unchanged and the real loader is exercised.
"""
import json
import os
import os.path as osp
import pickle
from typing import List, Optional, Sequence, Tuple

import cv2
import numpy as np

from mmcontrast.registry import DATASETS
from .cifar import CIFAR10

TOY_CLASSES = ('disk', 'square', 'triangle', 'plus', 'ring', 'hbars', 'vbars', 'cross', 'checker',
               'diamond')
# Bump whenever the rendering changes: ensure_toy_cls regenerates data of another version.
TOY_CLS_VERSION = 2
INFO_FILE = 'toy_cls.json'
_SUPERSAMPLE = 4  # draw at 4x, downsample by area averaging: clean sub-pixel edges at 32x32

# Motif polygons in units of the motif radius (rotated per image).
_POLYGONS = {
    'square': [[(-0.8, -0.8), (0.8, -0.8), (0.8, 0.8), (-0.8, 0.8)]],
    'triangle': [[(0, -1.0), (0.95, 0.75), (-0.95, 0.75)]],
    'diamond': [[(0, -1.15), (0.7, 0), (0, 1.15), (-0.7, 0)]],
    'checker': [[(-0.9, -0.9), (0, -0.9), (0, 0), (-0.9, 0)], [(0, 0), (0.9, 0), (0.9, 0.9), (0, 0.9)]],
}


def _bar(half_len: float, half_width: float, offset: float = 0.0) -> List[Tuple[float, float]]:
    return [(-half_len, offset - half_width), (half_len, offset - half_width), (half_len, offset + half_width),
            (-half_len, offset + half_width)]


_POLYGONS.update({
    'plus': [_bar(1.0, 0.22), [(y, x) for x, y in _bar(1.0, 0.22)]],
    'hbars': [_bar(1.0, 0.2, -0.5), _bar(1.0, 0.2, 0.5)],
})
_POLYGONS['cross'] = [np.array(p) @ np.array([[1, 1], [-1, 1]]).T / np.sqrt(2) for p in _POLYGONS['plus']]
_POLYGONS['vbars'] = [[(y, x) for x, y in p] for p in _POLYGONS['hbars']]
_CIRCLE = np.stack([np.cos(np.linspace(0, 2 * np.pi, 40, endpoint=False)),
                    np.sin(np.linspace(0, 2 * np.pi, 40, endpoint=False))], 1)


def _rotation(angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, -s], [s, c]])


def _fill(canvas: np.ndarray, unit_polys: Sequence, scale: float, angle: float, center: np.ndarray,
          color: Tuple[float, ...]) -> None:
    rot = _rotation(angle)
    # 4 fractional bits (shift=4) keep sub-pixel positions.
    pts = [((np.asarray(p, float) * scale) @ rot.T + center) * 16 for p in unit_polys]
    cv2.fillPoly(canvas, [p.round().astype(np.int32) for p in pts], color, cv2.LINE_AA, shift=4)


def _draw_motif(canvas: np.ndarray, name: str, center: np.ndarray, r: float, angle: float,
                fg: Tuple[float, ...], bg: Tuple[float, ...]) -> None:
    """Draw one copy of the motif of class ``name``, radius ``r`` canvas pixels, at ``center``."""
    if name in ('disk', 'ring'):
        _fill(canvas, [_CIRCLE], r, 0.0, center, fg)
        if name == 'ring':
            _fill(canvas, [_CIRCLE], 0.55 * r, 0.0, center, bg)
    elif name in _POLYGONS:
        _fill(canvas, _POLYGONS[name], r, angle, center, fg)
    else:  # pragma: no cover - TOY_CLASSES and _POLYGONS change together
        raise ValueError(f'no motif for class {name!r}')


def _colour_pair(rng: np.random.Generator) -> Tuple[np.ndarray, np.ndarray]:
    """Motif and background colours: one random hue, a light motif on a dark background.

    Both share hue and saturation, and their brightness varies less than the SSL colour
    jitter varies it, so no colour property of an image survives augmentation as an instance
    cue (a hue *difference* between motif and background, or a free brightness order, would).
    """
    hue = rng.uniform(0, 180)  # OpenCV's 8-bit hue range
    sat = rng.uniform(0.3, 0.7) * 255
    vals = (rng.uniform(0.7, 0.9) * 255, rng.uniform(0.15, 0.35) * 255)
    hsv = np.array([[[hue, sat, v] for v in vals]], np.float32)
    fg, bg = cv2.cvtColor(hsv.round().astype(np.uint8), cv2.COLOR_HSV2RGB)[0].astype(np.float64)
    return fg, bg


def render_toy_image(label: int, rng: np.random.Generator, size: int = 32) -> np.ndarray:
    """Render one RGB uint8 ``(size, size, 3)`` image of class ``label``.

    The motif of the class tiles the whole image: a grid of cell ``0.4-0.55 * size``
    with a random phase, one rotation in [-0.3, 0.3] rad for the image (small enough that
    ``plus``/``cross`` and ``square``/``diamond`` stay distinct), a motif radius of
    0.32-0.4 of the cell and a per-copy offset of up to 0.1 cell; then Gaussian pixel noise
    (std 4).

    Args:
        label (int): Index into :data:`TOY_CLASSES`.
        rng (np.random.Generator): Source of all randomness (deterministic by seed).
        size (int): Output side length. Defaults to 32.

    Returns:
        np.ndarray: The image, RGB order.
    """
    if not 0 <= label < len(TOY_CLASSES):
        raise ValueError(f'label must be in [0, {len(TOY_CLASSES)}), got {label}')
    fg, bg = _colour_pair(rng)
    fg_t, bg_t = tuple(float(v) for v in fg), tuple(float(v) for v in bg)
    big = size * _SUPERSAMPLE
    canvas = np.empty((big, big, 3), np.float32)
    canvas[:] = bg
    cell = rng.uniform(0.4, 0.55) * big
    angle = rng.uniform(-0.3, 0.3)
    radius = rng.uniform(0.32, 0.4) * cell
    phase = rng.uniform(0, cell, 2)
    rot = _rotation(angle)
    # Grid in the rotated frame around the image centre, wide enough to cover the corners.
    n = int(np.ceil(big * 0.75 / cell)) + 1
    for i in range(-n, n + 1):
        for j in range(-n, n + 1):
            pos = (np.array([i, j]) * cell + phase + rng.uniform(-0.1, 0.1, 2) * cell) @ rot.T + big / 2
            if np.all(pos > -cell) and np.all(pos < big + cell):
                _draw_motif(canvas, TOY_CLASSES[label], pos, radius, angle, fg_t, bg_t)
    small = cv2.resize(canvas, (size, size), interpolation=cv2.INTER_AREA)
    noise = rng.normal(0, 4, small.shape)
    return np.clip(small + noise, 0, 255).round().astype(np.uint8)


def _write_batch(path: str, images: List[np.ndarray], labels: List[int], batch_label: str) -> None:
    data = np.stack(images).transpose(0, 3, 1, 2).reshape(len(images), -1)  # CHW RGB rows
    batch = {
        b'batch_label': batch_label.encode(),
        b'labels': [int(x) for x in labels],
        b'data': np.ascontiguousarray(data, dtype=np.uint8),
        b'filenames': [f'{batch_label}_{i:05d}.png'.encode() for i in range(len(images))],
    }
    tmp = path + '.tmp'
    with open(tmp, 'wb') as f:
        pickle.dump(batch, f, protocol=2)  # the official files are protocol-2 pickles
    os.replace(tmp, path)


def make_toy_cls(out: str, num_train_per_class: int = 500, num_test_per_class: int = 100,
                 seed: int = 0) -> str:
    """Write the toy set as ``out/cifar-10-batches-py``.

    Args:
        out (str): Root folder (use it as ``data_root`` of ``CIFAR10``).
        num_train_per_class (int): Training images per class, split over the five
            ``data_batch_*`` files. Defaults to 500 (5000 images).
        num_test_per_class (int): Test images per class. Defaults to 100.
        seed (int): Generation seed; output is deterministic. Defaults to 0.

    Returns:
        str: The ``cifar-10-batches-py`` folder. It also holds ``toy_cls.json`` with the
        generator version and these arguments (read by :func:`ensure_toy_cls`).
    """
    folder = osp.join(out, 'cifar-10-batches-py')
    os.makedirs(folder, exist_ok=True)
    info_path = osp.join(folder, INFO_FILE)
    if osp.exists(info_path):
        os.remove(info_path)  # an interrupted run must not leave a complete-looking folder
    rng = np.random.default_rng(seed)
    num_classes = len(TOY_CLASSES)

    def split(n_per_class):
        labels = rng.permutation(np.repeat(np.arange(num_classes), n_per_class))
        return [render_toy_image(int(lb), rng) for lb in labels], labels.tolist()

    train_imgs, train_labels = split(num_train_per_class)
    chunks = np.array_split(np.arange(len(train_imgs)), 5)
    for i, idx in enumerate(chunks, start=1):
        _write_batch(osp.join(folder, f'data_batch_{i}'), [train_imgs[j] for j in idx],
                     [train_labels[j] for j in idx], f'training batch {i} of 5')
    test_imgs, test_labels = split(num_test_per_class)
    _write_batch(osp.join(folder, 'test_batch'), test_imgs, test_labels, 'testing batch 1 of 1')
    meta = {b'label_names': [c.encode() for c in TOY_CLASSES], b'num_cases_per_batch': len(chunks[0]),
            b'num_vis': 3072}
    with open(osp.join(folder, 'batches.meta.tmp'), 'wb') as f:
        pickle.dump(meta, f, protocol=2)
    os.replace(osp.join(folder, 'batches.meta.tmp'), osp.join(folder, 'batches.meta'))
    with open(info_path, 'w') as f:  # written last: marks the folder complete
        json.dump(_info(num_train_per_class, num_test_per_class, seed), f)
    return folder


def _info(num_train_per_class: int, num_test_per_class: int, seed: int) -> dict:
    return dict(version=TOY_CLS_VERSION, num_train_per_class=num_train_per_class,
                num_test_per_class=num_test_per_class, seed=seed)


def read_toy_cls_info(root: str) -> Optional[dict]:
    """The generator version and arguments recorded under ``root``, or None if absent."""
    path = osp.join(root, 'cifar-10-batches-py', INFO_FILE)
    if not osp.isfile(path):
        return None
    with open(path) as f:
        return json.load(f)


def ensure_toy_cls(root: str = 'data/toy_cls', **kwargs) -> str:
    """Generate the toy set under ``root`` unless it is there already, complete and current.

    The folder is (re)generated when a file is missing, or when ``toy_cls.json`` is absent
    (data of the first generator, or an interrupted run) or records another
    :data:`TOY_CLS_VERSION`. Data of the current version is kept whatever its size or seed.

    Args:
        root (str): Root folder. Defaults to ``'data/toy_cls'``.
        **kwargs: Passed to :func:`make_toy_cls` when generating.

    Returns:
        str: ``root``.
    """
    folder = osp.join(root, 'cifar-10-batches-py')
    needed = [f'data_batch_{i}' for i in range(1, 6)] + ['test_batch', 'batches.meta']
    complete = all(osp.isfile(osp.join(folder, n)) for n in needed)
    info = read_toy_cls_info(root)
    if not complete or info is None or info.get('version') != TOY_CLS_VERSION:
        make_toy_cls(root, **kwargs)
    return root


@DATASETS.register_module()
class ToyCls(CIFAR10):
    """The toy set through the real :class:`CIFAR10` loader, generated on first use.

    Args:
        data_root (str): Defaults to ``'data/toy_cls'``.
        **kwargs: As :class:`CIFAR10` (``split``, ``pipeline`` ...).
    """

    METAINFO = dict(classes=TOY_CLASSES)

    def __init__(self, data_root: str = 'data/toy_cls', **kwargs) -> None:
        ensure_toy_cls(data_root)
        super().__init__(data_root=data_root, **kwargs)
