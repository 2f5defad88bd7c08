"""Tests of the toy world (the toy UDA benchmark's unlabelled pretraining set) and of the
rendering refactor it needed (source and target images unchanged)."""
import hashlib
import json
import os
import os.path as osp
from pathlib import Path

import numpy as np
import pytest
from mmengine.config import Config
from mmengine.registry import init_default_scope

from mmcontrast.datasets.toy_uda import (
    GENERATOR_VERSION,
    PALETTES,
    ROAD,
    generate_toy_uda,
    render_appearance,
    render_randomised,
    render_scene,
)
from mmcontrast.datasets.toy_world import TOY_WORLD_VERSION, ToyWorldImages, ensure_toy_world, generate_toy_world

REPO = Path(__file__).resolve().parents[2]
TINY = dict(num_images=6, height=64, width=128)


def _sha(path: str) -> str:
    with open(path, 'rb') as f:
        return hashlib.sha256(f.read()).hexdigest()


def test_generated_bytes_are_pinned(tmp_path):
    # The source image is byte-equal to generator 1.1's (the split of render_appearance into
    # _paint/_degrade for the toy world changed nothing); the target image is generator 1.2's
    # (dulled source palette). A rendering change must bump GENERATOR_VERSION and this hash.
    generate_toy_uda(str(tmp_path), seed=0, num_train=3, num_val=2, height=64, width=128)
    assert _sha(str(tmp_path / 'source/images/train/00002.png')) == \
        '565f68730e1a65783b382ccc5e6def154be54d0c95d422a98ef9891e8f830fc0'
    assert _sha(str(tmp_path / 'target/images/val/00001.png')) == \
        '5a20450807d77af3ad9f53a452bc4f704fdc90ae1db5678851d3ef97859f2637'
    assert json.load(open(tmp_path / 'meta.json'))['generator_version'] == GENERATOR_VERSION == '1.2'


def test_target_palette_keeps_the_source_hues():
    src, tgt = PALETTES['source'], PALETTES['target']
    for cls, colour in src['cls'].items():
        s, t = np.asarray(colour, float), np.asarray(tgt['cls'][cls], float)
        assert np.abs(t - t.mean()).max() < np.abs(s - s.mean()).max() + 1e-6  # duller
        if np.ptp(s) > 40:  # a clear hue: the same channel dominates
            assert np.argmax(s) == np.argmax(t), cls


def test_palette_is_random_per_image_and_neither_domain():
    world, source = [], []
    for i in range(12):
        canvas, _ = render_scene(64, 128, np.random.default_rng(i))
        road = canvas.label == ROAD
        world.append(render_randomised(canvas, np.random.default_rng(100 + i))[road].mean(0))
        source.append(render_appearance(canvas, 'source', np.random.default_rng(i))[road].mean(0))
    # Colour carries no class information in the world: the road's mean colour spreads over the
    # RGB cube, where the source palette keeps it nearly fixed.
    assert np.stack(world).std(0).min() > 30, world
    assert np.stack(source).std(0).max() < 10, source


def test_generation_is_deterministic_and_worker_independent(tmp_path):
    a, b = str(tmp_path / 'a'), str(tmp_path / 'b')
    generate_toy_world(a, seed=0, **TINY)
    generate_toy_world(b, seed=0, workers=2, **TINY)
    names = sorted(os.listdir(osp.join(a, 'images')))
    assert names == [f'{i:05d}.png' for i in range(6)]
    for name in names:
        assert _sha(osp.join(a, 'images', name)) == _sha(osp.join(b, 'images', name))
    assert not osp.exists(osp.join(a, 'labels'))  # unlabelled by design
    meta = json.load(open(osp.join(a, 'meta.json')))
    assert meta == dict(generator_version=TOY_WORLD_VERSION, seed=0, **TINY)


def test_ensure_regenerates_on_other_parameters_and_refuses_foreign_folders(tmp_path):
    root = str(tmp_path / 'world')
    ensure_toy_world(root, **TINY)
    stamp = os.path.getmtime(osp.join(root, 'meta.json'))
    ensure_toy_world(root, **TINY)  # up to date: untouched
    assert os.path.getmtime(osp.join(root, 'meta.json')) == stamp
    ensure_toy_world(root, **dict(TINY, num_images=3))
    assert len(os.listdir(osp.join(root, 'images'))) == 3
    foreign = tmp_path / 'foreign'
    foreign.mkdir()
    (foreign / 'mine.txt').write_text('keep me')
    with pytest.raises(FileExistsError, match='no meta.json'):
        ensure_toy_world(str(foreign), **TINY)
    assert (foreign / 'mine.txt').read_text() == 'keep me'
    ensure_toy_world(str(foreign), force=True, **TINY)  # what the error message offers
    assert not (foreign / 'mine.txt').exists() and len(os.listdir(foreign / 'images')) == 6


def test_dataset_through_the_ssl_pipeline(tmp_path):
    init_default_scope('mmcontrast')
    cfg = Config.fromfile(str(REPO / 'configs/_base_/datasets/toy_world_ssl.py'))
    root = str(tmp_path / 'world')
    ds = ToyWorldImages(data_root=root, auto_generate=TINY, pipeline=cfg.train_pipeline)
    assert len(ds) == 6
    item = ds[0]
    views = item['inputs']
    assert len(views) == 2 and all(tuple(v.shape) == (3, 64, 64) for v in views)
    empty = tmp_path / 'empty'
    (empty / 'images').mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match='no .png images'):
        ToyWorldImages(data_root=str(empty), auto_generate=False)
