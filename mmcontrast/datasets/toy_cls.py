"""A small procedural 10-class 32x32 classification set, written as real CIFAR-10 files.

Every class is a shape (disk, square, triangle, ...) drawn at a random position, size
and rotation, in one of a few foreground colours on a flat background of one of a few
other colours, with pixel noise. Colour carries no class information, so a kNN on raw
pixels or on a random network is weak. The palettes are small and the background flat
on purpose: neither colour nor background structure can tell one image from another,
so instance discrimination (MoCo, BYOL, ...) has to rely on the shape, which is what
the classes differ in. (A background gradient, whose direction survives every colour
augmentation, made the self-supervised features worse at classes than random ones.) The files are byte-for-byte the layout of
``cifar-10-batches-py`` (python pickles with bytes keys, ``data`` uint8 (N, 3072)
in CHW RGB order, ``labels`` list of int), so :class:`~mmcontrast.datasets.CIFAR10`
loads them unchanged and the real loader is exercised.
"""
import os
import os.path as osp
import pickle
from typing import List, Tuple

import cv2
import numpy as np

from mmcontrast.registry import DATASETS
from .cifar import CIFAR10

FG_PALETTE = ((230, 40, 40), (40, 200, 60), (50, 80, 230), (240, 220, 40), (220, 60, 220), (40, 220, 230))
BG_PALETTE = ((90, 90, 90), (150, 120, 90), (80, 110, 140), (120, 150, 110), (170, 170, 170))
TOY_CLASSES = ('disk', 'square', 'triangle', 'plus', 'ring', 'hbars', 'vbars', 'cross', 'checker',
               'diamond')


def _rotated(points: np.ndarray, angle: float, center: Tuple[float, float]) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    rot = np.array([[c, -s], [s, c]])
    return (points @ rot.T + np.asarray(center)).round().astype(np.int32)


def _draw_shape(canvas: np.ndarray, label: int, rng: np.random.Generator, color: Tuple[int, ...]) -> None:
    size = canvas.shape[0]
    r = rng.uniform(0.22, 0.36) * size
    cx, cy = (size / 2 + rng.uniform(-0.12, 0.12, 2) * size)
    angle = rng.uniform(-0.35, 0.35)  # small rotations: 'plus' and 'cross' stay distinct
    thick = max(2, int(round(r * 0.35)))
    name = TOY_CLASSES[label]
    if name == 'disk':
        cv2.circle(canvas, (int(cx), int(cy)), int(r), color, -1, cv2.LINE_AA)
    elif name == 'ring':
        cv2.circle(canvas, (int(cx), int(cy)), int(r), color, max(2, thick // 2 + 1), cv2.LINE_AA)
    elif name in ('square', 'triangle', 'diamond'):
        unit = {
            'square': [(-1, -1), (1, -1), (1, 1), (-1, 1)],
            'triangle': [(0, -1.15), (1.1, 0.85), (-1.1, 0.85)],
            'diamond': [(0, -1.25), (0.8, 0), (0, 1.25), (-0.8, 0)],
        }[name]
        scale = r * (0.8 if name == 'square' else 1.0)
        cv2.fillPoly(canvas, [_rotated(np.array(unit) * scale, angle, (cx, cy))], color, cv2.LINE_AA)
    elif name in ('plus', 'cross'):
        base = angle + (np.pi / 4 if name == 'cross' else 0.0)
        for a in (base, base + np.pi / 2):
            pts = _rotated(np.array([(-r, 0.0), (r, 0.0)]), a, (cx, cy))
            cv2.line(canvas, tuple(map(int, pts[0])), tuple(map(int, pts[1])), color, thick, cv2.LINE_AA)
    elif name in ('hbars', 'vbars'):
        for off in (-0.7, 0.0, 0.7):
            seg = np.array([(-r, off * r), (r, off * r)])
            pts = _rotated(seg, angle + (np.pi / 2 if name == 'vbars' else 0.0), (cx, cy))
            cv2.line(canvas, tuple(map(int, pts[0])), tuple(map(int, pts[1])), color,
                     max(2, thick // 2), cv2.LINE_AA)
    elif name == 'checker':
        cell = r / 1.5
        for i in range(3):
            for j in range(3):
                if (i + j) % 2 == 0:
                    x0, y0 = cx + (i - 1.5) * cell, cy + (j - 1.5) * cell
                    cv2.rectangle(canvas, (int(x0), int(y0)), (int(x0 + cell), int(y0 + cell)), color, -1)
    else:  # pragma: no cover - TOY_CLASSES and this function change together
        raise ValueError(name)


def render_toy_image(label: int, rng: np.random.Generator, size: int = 32) -> np.ndarray:
    """Render one RGB uint8 ``(size, size, 3)`` image of class ``label``."""
    background = np.array(BG_PALETTE[rng.integers(len(BG_PALETTE))]) + rng.integers(-10, 11, 3)
    canvas = np.empty((size, size, 3), np.uint8)
    canvas[:] = np.clip(background, 0, 255)
    fg = np.array(FG_PALETTE[rng.integers(len(FG_PALETTE))]) + rng.integers(-15, 16, 3)
    _draw_shape(canvas, label, rng, tuple(int(v) for v in np.clip(fg, 0, 255)))
    noise = rng.normal(0, 8, canvas.shape)
    return np.clip(canvas + noise, 0, 255).astype(np.uint8)


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
        str: The ``cifar-10-batches-py`` folder.
    """
    folder = osp.join(out, 'cifar-10-batches-py')
    os.makedirs(folder, exist_ok=True)
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
    return folder


def ensure_toy_cls(root: str = 'data/toy_cls', **kwargs) -> str:
    """Generate the toy set under ``root`` unless it is complete already.

    Args:
        root (str): Root folder. Defaults to ``'data/toy_cls'``.
        **kwargs: Passed to :func:`make_toy_cls` when generating.

    Returns:
        str: ``root``.
    """
    folder = osp.join(root, 'cifar-10-batches-py')
    needed = [f'data_batch_{i}' for i in range(1, 6)] + ['test_batch', 'batches.meta']
    if not all(osp.isfile(osp.join(folder, n)) for n in needed):
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
