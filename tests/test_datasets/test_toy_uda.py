"""Tests of the embedded toy UDA benchmark: generator, ensure_toy_uda, datasets, base configs."""
import json
import os
import os.path as osp
import runpy
import sys
import threading
from pathlib import Path

import cv2
import numpy as np
import pytest
from mmengine.config import Config
from mmengine.registry import init_default_scope

from mmcontrast.datasets.toy_uda import (
    DOMAINS,
    SPLITS,
    TOY_DET_CLASSES,
    TOY_SEG_CLASSES,
    TOY_TRAIN_IDS,
    ensure_toy_uda,
    generate_toy_uda,
    koschmieder_fog,
)

REPO = Path(__file__).resolve().parents[2]
TINY = dict(num_train=3, num_val=2, height=64, width=128)


def _files(root):
    return sorted(str(p.relative_to(root)) for p in Path(root).rglob('*') if p.is_file())


@pytest.fixture(scope='module')
def tiny_root(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('toy') / 'toy_uda')
    ensure_toy_uda(root, seed=0, **TINY)
    return root


def test_layout_and_meta(tiny_root):
    for domain in DOMAINS:
        for split in SPLITS:
            n = TINY[f'num_{split}']
            for kind in ('images', 'labels'):
                names = sorted(os.listdir(osp.join(tiny_root, domain, kind, split)))
                assert names == [f'{i:05d}.png' for i in range(n)]
            assert osp.isfile(osp.join(tiny_root, 'annotations', f'{domain}_{split}.json'))
    img = cv2.imread(osp.join(tiny_root, 'target/images/train/00000.png'), cv2.IMREAD_UNCHANGED)
    assert img.shape == (64, 128, 3) and img.dtype == np.uint8
    meta = json.load(open(osp.join(tiny_root, 'meta.json')))
    assert meta['seed'] == 0 and meta['num_train'] == 3 and meta['height'] == 64
    assert meta['classes'] == dict(zip(TOY_SEG_CLASSES, TOY_TRAIN_IDS))


def test_determinism_by_seed(tmp_path, tiny_root):
    again = str(tmp_path / 'again')
    generate_toy_uda(again, seed=0, **TINY)
    assert _files(again) == _files(tiny_root)
    for name in _files(tiny_root):
        assert Path(again, name).read_bytes() == Path(tiny_root, name).read_bytes(), name
    other = str(tmp_path / 'other')
    generate_toy_uda(other, seed=1, **TINY)
    for name in ('source/images/train/00000.png', 'target/labels/val/00001.png',
                 'annotations/source_train.json'):
        assert Path(other, name).read_bytes() != Path(tiny_root, name).read_bytes(), name


def test_worker_processes_do_not_change_output(tmp_path, tiny_root):
    forked = str(tmp_path / 'forked')
    generate_toy_uda(forked, seed=0, workers=2, **TINY)
    for name in _files(tiny_root):
        assert Path(forked, name).read_bytes() == Path(tiny_root, name).read_bytes(), name


def test_domains_share_world_but_not_appearance(tiny_root):
    src = cv2.imread(osp.join(tiny_root, 'source/images/val/00000.png')).astype(float)
    tgt = cv2.imread(osp.join(tiny_root, 'target/images/val/00000.png')).astype(float)
    # Target images are foggy: lower contrast than the flat, saturated source palette.
    assert tgt.std() < src.std()


def test_label_values(tiny_root):
    allowed = set(TOY_TRAIN_IDS) | {255}
    seen = set()
    for domain in DOMAINS:
        for split in SPLITS:
            folder = osp.join(tiny_root, domain, 'labels', split)
            for name in os.listdir(folder):
                lbl = cv2.imread(osp.join(folder, name), cv2.IMREAD_UNCHANGED)
                assert lbl.ndim == 2 and lbl.dtype == np.uint8
                values = set(np.unique(lbl).tolist())
                assert values <= allowed, values - allowed
                seen |= values
    # Stuff classes appear in every scene; the world is not degenerate.
    assert {0, 1, 2, 10} <= seen


def test_boxes_match_labels(tiny_root):
    total = 0
    for domain in DOMAINS:
        for split in SPLITS:
            coco = json.load(open(osp.join(tiny_root, 'annotations', f'{domain}_{split}.json')))
            assert [c['name'] for c in coco['categories']] == list(TOY_DET_CLASSES)
            cat_to_id = {c['id']: TOY_TRAIN_IDS[TOY_SEG_CLASSES.index(c['name'])]
                         for c in coco['categories']}
            images = {im['id']: im for im in coco['images']}
            assert len(images) == TINY[f'num_{split}']
            for ann in coco['annotations']:
                im = images[ann['image_id']]
                x, y, w, h = ann['bbox']
                assert w > 0 and h > 0 and x >= 0 and y >= 0
                assert x + w <= im['width'] and y + h <= im['height']
                assert ann['iscrowd'] == 0 and 0 < ann['area'] <= w * h
                lbl = cv2.imread(
                    osp.join(tiny_root, domain, 'labels', split, im['file_name']),
                    cv2.IMREAD_UNCHANGED)
                region = lbl[int(y):int(y + h), int(x):int(x + w)]
                # The box is tight around visible pixels of its class.
                hit = region == cat_to_id[ann['category_id']]
                assert hit.any() and hit.any(0)[[0, -1]].all() and hit.any(1)[[0, -1]].all()
                assert (hit.sum() >= ann['area'])
                total += 1
    assert total > 0


def test_koschmieder_fog_monotone_in_depth():
    clear = np.full((1, 50, 3), (30.0, 120.0, 200.0), np.float32)
    depth = np.linspace(0.0, 200.0, 50, dtype=np.float32)[None]
    airlight = np.array([210.0, 215.0, 220.0], np.float32)
    foggy = koschmieder_fog(clear, depth, beta=0.03, airlight=airlight)
    np.testing.assert_allclose(foggy[0, 0], clear[0, 0], rtol=1e-6)  # depth 0: no fog
    dist = np.abs(foggy[0] - airlight).sum(-1)
    assert np.all(np.diff(dist) < 0)  # farther -> closer to the airlight
    np.testing.assert_allclose(koschmieder_fog(clear, depth, 0.0, airlight), clear)
    with pytest.raises(ValueError, match='beta'):
        koschmieder_fog(clear, depth, -0.1, airlight)


def test_ensure_is_idempotent_and_checks_parameters(tmp_path, tiny_root):
    meta = osp.join(tiny_root, 'meta.json')
    before = os.stat(meta).st_mtime_ns, os.stat(osp.join(tiny_root, 'source')).st_ino
    assert ensure_toy_uda(tiny_root, seed=0, **TINY) == tiny_root
    assert (os.stat(meta).st_mtime_ns, os.stat(osp.join(tiny_root, 'source')).st_ino) == before
    with pytest.raises(ValueError, match='other parameters'):
        ensure_toy_uda(tiny_root, seed=5, **TINY)
    with pytest.raises(TypeError, match='unknown arguments'):
        ensure_toy_uda(tiny_root, num_trian=3)
    foreign = tmp_path / 'foreign'
    foreign.mkdir()
    (foreign / 'keep.txt').write_text('user data')
    with pytest.raises(FileExistsError, match='meta.json'):
        ensure_toy_uda(str(foreign), **TINY)
    assert (foreign / 'keep.txt').read_text() == 'user data'


def test_ensure_force_and_concurrent_calls(tmp_path):
    root = str(tmp_path / 'toy')
    errors = []

    def call():
        try:
            ensure_toy_uda(root, seed=3, **TINY)
        except Exception as e:  # noqa: BLE001 (reported below)
            errors.append(e)

    threads = [threading.Thread(target=call) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sorted(os.listdir(tmp_path)) == ['toy', 'toy.lock']  # no temp dirs left behind
    assert os.stat(root).st_mode & 0o755 == 0o755  # readable by other users
    first = Path(root, 'source/images/train/00000.png').read_bytes()
    ensure_toy_uda(root, force=True, seed=4, **TINY)
    assert json.load(open(osp.join(root, 'meta.json')))['seed'] == 4
    assert Path(root, 'source/images/train/00000.png').read_bytes() != first
    assert sorted(os.listdir(tmp_path)) == ['toy', 'toy.lock']


def test_make_toy_uda_cli(tmp_path, monkeypatch, capsys):
    out = str(tmp_path / 'cli')
    monkeypatch.setattr(sys, 'argv', [
        'make_toy_uda.py', '--out', out, '--num-train', '2', '--num-val', '1', '--height', '48',
        '--width', '96', '--seed', '7', '--fog-beta', '0.01', '0.02'
    ])
    runpy.run_path(str(REPO / 'tools/dataset_converters/make_toy_uda.py'), run_name='__main__')
    assert 'target_train' in capsys.readouterr().out
    meta = json.load(open(osp.join(out, 'meta.json')))
    assert meta['seed'] == 7 and meta['target_style']['fog_beta'] == [0.01, 0.02]


def _base_cfg(name, data_root):
    cfg = Config.fromfile(str(REPO / 'configs/_base_/datasets' / name))
    for key in ('source_train', 'target_train', 'target_train_labelled', 'source_val',
                'target_val'):
        cfg[key].data_root = data_root
    return cfg


def test_seg_dataset_through_mmseg_pipeline(tiny_root):
    init_default_scope('mmseg')
    from mmseg.registry import DATASETS
    cfg = _base_cfg('toy_uda_seg.py', tiny_root)
    ds = DATASETS.build(cfg.target_val)
    assert len(ds) == TINY['num_val']
    assert ds.metainfo['classes'] == TOY_SEG_CLASSES and len(ds.metainfo['palette']) == 8
    sample = ds[0]
    # Test images are resized to the benchmark scale; labels stay at their original size.
    assert tuple(sample['inputs'].shape) == (3, 128, 256)
    seg = sample['data_samples'].gt_sem_seg.data.numpy()[0]
    assert seg.shape == (64, 128)
    raw = cv2.imread(osp.join(tiny_root, 'target/labels/val/00000.png'), cv2.IMREAD_UNCHANGED)
    lut = np.full(256, 255, np.uint8)
    lut[list(TOY_TRAIN_IDS)] = np.arange(8)
    np.testing.assert_array_equal(seg, lut[raw])  # train ids remapped to 0..7 by label_map
    train = DATASETS.build(cfg.source_train)
    assert len(train) == TINY['num_train']
    out = train[1]
    assert set(np.unique(out['data_samples'].gt_sem_seg.data.numpy())) <= set(range(8)) | {255}
    unlabelled = DATASETS.build(cfg.target_train)
    assert 'seg_map_path' not in unlabelled.get_data_info(0)
    assert 'gt_sem_seg' not in unlabelled[0]['data_samples']


def test_det_dataset_through_mmdet_pipeline(tiny_root):
    init_default_scope('mmdet')
    from mmdet.registry import DATASETS
    cfg = _base_cfg('toy_uda_det.py', tiny_root)
    ds = DATASETS.build(cfg.target_val)
    assert ds.metainfo['classes'] == TOY_DET_CLASSES and len(ds) == TINY['num_val']
    coco = json.load(open(osp.join(tiny_root, 'annotations/target_val.json')))
    for idx in range(len(ds)):
        sample = ds[idx]
        img_id = sample['data_samples'].img_id
        anns = [a for a in coco['annotations'] if a['image_id'] == img_id]
        gt = sample['data_samples'].gt_instances
        assert len(gt) == len(anns)
        expect = np.array([[a['bbox'][0], a['bbox'][1], a['bbox'][0] + a['bbox'][2],
                            a['bbox'][1] + a['bbox'][3]] for a in anns]).reshape(-1, 4)
        # The test pipeline loads boxes after Resize: they stay in original coordinates.
        np.testing.assert_allclose(gt.bboxes.numpy(), expect, rtol=1e-5)
        assert set(gt.labels.tolist()) <= {0, 1}
    unlabelled = DATASETS.build(cfg.target_train)
    assert len(unlabelled) == TINY['num_train']  # no image filtered out
    assert len(unlabelled[0]['data_samples'].gt_instances) == 0


def test_datasets_auto_generate(tmp_path):
    from mmcontrast.datasets import ToyUDACocoDataset, ToyUDASegDataset
    root = str(tmp_path / 'auto')
    ds = ToyUDASegDataset(
        data_root=root, auto_generate=dict(seed=2, **TINY),
        data_prefix=dict(img_path='source/images/val', seg_map_path='source/labels/val'))
    assert len(ds) == TINY['num_val']
    assert json.load(open(osp.join(root, 'meta.json')))['seed'] == 2
    det = ToyUDACocoDataset(
        data_root=root, ann_file='annotations/source_val.json',
        data_prefix=dict(img='source/images/val/'), test_mode=True)
    assert len(det) == TINY['num_val']
    with pytest.raises(FileNotFoundError):
        ToyUDASegDataset(
            data_root=str(tmp_path / 'missing'), auto_generate=False,
            data_prefix=dict(img_path='source/images/val'))


@pytest.mark.parametrize('name', [
    'deeplabv3_r18-narrow_2k_toy-source.py', 'deeplabv3_r18-narrow_2k_toy-target-oracle.py',
    'faster-rcnn_r18-narrow-fpn_2k_toy-source.py',
    'faster-rcnn_r18-narrow-fpn_2k_toy-target-oracle.py'
])
def test_baseline_configs(name):
    cfg = Config.fromfile(str(REPO / 'configs/toy_uda' / name))
    assert cfg.custom_imports.imports == ['mmcontrast']
    train_img = cfg.train_dataloader.dataset.data_prefix.get('img_path',
                                                              cfg.train_dataloader.dataset
                                                              .data_prefix.get('img'))
    assert train_img.startswith('target' if 'oracle' in name else 'source')
    val_img = cfg.val_dataloader.dataset.data_prefix.get('img_path',
                                                         cfg.val_dataloader.dataset.data_prefix
                                                         .get('img'))
    assert val_img.startswith('target/images/val')
    if 'deeplab' in name:
        assert cfg.model.decode_head.num_classes == 8 and cfg.default_scope == 'mmseg'
        assert cfg.train_dataloader.dataset.data_prefix.seg_map_path.startswith(
            'target' if 'oracle' in name else 'source')
    else:
        assert cfg.model.roi_head.bbox_head.num_classes == 2 and cfg.default_scope == 'mmdet'
        assert cfg.train_dataloader.dataset.ann_file.startswith(
            'annotations/target_train' if 'oracle' in name else 'annotations/source_train')
