"""The toy world's ImageNet: unlabelled, domain-randomised scenes for self-supervised pretraining.

Real UDA benchmarks start from ImageNet weights: features learned on a large, diverse image set
that is neither the source (GTA5) nor the target (Cityscapes). This set plays that part for the
embedded toy UDA benchmark (:mod:`mmcontrast.datasets.toy_uda`). Its scenes come from the same
world distribution (roads, facades, poles, trees, people, cars under the same camera), seeded
apart from every source and target image, and are rendered with a *random palette per image*
and weather of random strength between none and the target's fog, texture and noise
(:func:`~mmcontrast.datasets.toy_uda.render_randomised`). Colour therefore carries no class
information, so pretraining on it learns shape, while neither domain's look is privileged.
No labels are written: the set is only for self-supervised methods.

Layout: ``images/NNNNN.png`` and ``meta.json``.
"""
import json
import multiprocessing
import os
import os.path as osp
from typing import List, Optional

import cv2
import numpy as np
from mmengine.dataset import BaseDataset

from mmcontrast.registry import DATASETS
from mmcontrast.utils.file_lock import generate_once
from .toy_uda import render_randomised, render_scene

# Bump whenever the rendering changes: ensure_toy_world regenerates data of another version.
TOY_WORLD_VERSION = '1.0'
DEFAULT_TOY_WORLD_ROOT = 'data/toy_world'
# Third entry of each image's SeedSequence: apart from toy_uda's domains (0 source, 1 target).
_SEED_DOMAIN = 2


def _render_one(job: tuple) -> None:
    out_dir, seed, idx, height, width = job
    scene_ss, look_ss = np.random.SeedSequence([seed, _SEED_DOMAIN, 0, idx]).spawn(2)
    canvas, _ = render_scene(height, width, np.random.default_rng(scene_ss))
    img = render_randomised(canvas, np.random.default_rng(look_ss))
    cv2.imwrite(osp.join(out_dir, 'images', f'{idx:05d}.png'), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))


def generate_toy_world(out_dir: str, seed: int = 0, num_images: int = 2000, height: int = 128,
                       width: int = 256, workers: int = 1) -> dict:
    """Writes the toy world set into ``out_dir`` and returns its meta.

    Args:
        out_dir (str): Output directory.
        seed (int): Global seed; each image is seeded by (seed, 2, 0, index). Defaults to 0.
        num_images (int): Number of images. Defaults to 2000 (5x the toy source train split).
        height (int): Image height. Defaults to 128.
        width (int): Image width. Defaults to 256.
        workers (int): Worker processes (forked); the output does not depend on it. Defaults to 1.

    Returns:
        dict: The content of ``meta.json``.
    """
    if num_images < 1:
        raise ValueError(f'num_images must be >= 1, got {num_images}')
    if height < 32 or width < 32:
        raise ValueError(f'image size must be at least 32x32, got {height}x{width}')
    os.makedirs(osp.join(out_dir, 'images'), exist_ok=True)
    jobs = [(out_dir, seed, idx, height, width) for idx in range(num_images)]
    if workers > 1:
        with multiprocessing.get_context('fork').Pool(min(workers, num_images)) as pool:
            pool.map(_render_one, jobs, chunksize=32)
    else:
        for job in jobs:
            _render_one(job)
    meta = dict(generator_version=TOY_WORLD_VERSION, seed=seed, num_images=num_images, height=height,
                width=width)
    with open(osp.join(out_dir, 'meta.json'), 'w') as f:
        json.dump(meta, f, indent=2)
    return meta


def ensure_toy_world(root: str = DEFAULT_TOY_WORLD_ROOT, force: bool = False, seed: int = 0,
                     num_images: int = 2000, height: int = 128, width: int = 256,
                     workers: int = 1) -> str:
    """Generates the toy world set at ``root`` unless it is there with the same parameters.

    Safe to call from several processes at once (``<root>.lock``, atomic rename). Data of
    another generator version or other parameters is regenerated in place: nothing but this
    generator writes there.

    Args:
        root (str): Data root. Defaults to ``'data/toy_world'``.
        force (bool): Regenerate even if up to date. Defaults to False.
        seed, num_images, height, width, workers: See :func:`generate_toy_world`.

    Returns:
        str: ``root``.

    Raises:
        FileExistsError: If ``root`` is a non-empty directory without ``meta.json`` (and no ``force``).
    """
    requested = dict(generator_version=TOY_WORLD_VERSION, seed=seed, num_images=num_images, height=height,
                     width=width)

    def up_to_date() -> bool:
        path = osp.join(root, 'meta.json')
        if force or not osp.isfile(path):
            return False
        with open(path) as f:
            return json.load(f) == requested

    generate_once(root, up_to_date,
                  lambda tmp: generate_toy_world(tmp, seed=seed, num_images=num_images, height=height, width=width,
                                                 workers=workers), force=force)
    return root


@DATASETS.register_module()
class ToyWorldImages(BaseDataset):
    """The unlabelled toy world images (items ``dict(img_path=...)``), generated on first use.

    Start the pipeline with ``dict(type='LoadImageFromFile')``.

    Args:
        data_root (str): Data root. Defaults to ``'data/toy_world'``.
        auto_generate (bool | dict): Generate the set if missing or stale: ``True`` with the
            defaults, or :func:`ensure_toy_world` arguments. Defaults to True.
        **kwargs: Passed to :class:`mmengine.dataset.BaseDataset`.
    """

    def __init__(self, data_root: str = DEFAULT_TOY_WORLD_ROOT, auto_generate: Optional[dict] = True,
                 **kwargs) -> None:
        if auto_generate:
            ensure_toy_world(data_root, **(auto_generate if isinstance(auto_generate, dict) else {}))
        super().__init__(data_root=data_root, **kwargs)

    def load_data_list(self) -> List[dict]:
        folder = osp.join(self.data_root, 'images')
        if not osp.isdir(folder):
            raise FileNotFoundError(f'toy world images not found at {folder} (generate them with '
                                    'auto_generate=True or mmcontrast.datasets.ensure_toy_world)')
        names = sorted(n for n in os.listdir(folder) if n.endswith('.png'))
        if not names:
            raise FileNotFoundError(f'{folder} has no .png images')
        return [dict(img_path=osp.join(folder, n)) for n in names]
