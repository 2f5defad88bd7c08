"""GTA / SYNTHIA converters and datasets on fabricated files in the real on-disk formats,
RCS sampling probabilities, UDADataset pairing and the SYNTHIA mIoU16/mIoU13 metric."""
import importlib.util
import json
import re
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from mmengine.registry import DefaultScope
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample
from PIL import Image

from mmcontrast.datasets import GTADataset, SynthiaDataset, UDADataset, rcs_class_probs
from mmcontrast.datasets.gta import GTA_ID_TO_TRAINID
from mmcontrast.datasets.synthia import SYNTHIA_ID_TO_TRAINID
from mmcontrast.datasets.uda_dataset import map_label_ids
from mmcontrast.evaluation.metrics import SubsetIoUMetric

ROOT = Path(__file__).parents[2]


@pytest.fixture(autouse=True)
def mmseg_scope():
    """Pipelines name stock mmseg transforms, as seg configs (default_scope='mmseg') do."""
    with DefaultScope.overwrite_default_scope('mmseg'):
        yield


CITYSCAPES_PALETTE = [(128, 64, 128), (244, 35, 232), (70, 70, 70)]


def load_tool(name: str):
    spec = importlib.util.spec_from_file_location(f'_{name}_converter',
                                                  ROOT / 'tools/dataset_converters' / f'{name}.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_gta(root: Path, ids: list) -> None:
    """GTA5 layout: RGB images, palette PNG labels whose indices are Cityscapes label ids."""
    (root / 'images').mkdir(parents=True)
    (root / 'labels').mkdir()
    for i, label in enumerate(ids):
        Image.fromarray(np.full((*label.shape, 3), 100, np.uint8)).save(root / 'images' / f'{i:05d}.png')
        img = Image.fromarray(label.astype(np.uint8), mode='P')
        img.putpalette(([v for rgb in CITYSCAPES_PALETTE for v in rgb] * 86)[:768])
        img.save(root / 'labels' / f'{i:05d}.png')


def write_synthia(root: Path, ids: list) -> None:
    """SYNTHIA-RAND-CITYSCAPES layout: 16-bit 3-channel label PNGs, class id in R, instance id in G."""
    (root / 'RGB').mkdir(parents=True)
    (root / 'GT' / 'LABELS').mkdir(parents=True)
    for i, label in enumerate(ids):
        cv2.imwrite(str(root / 'RGB' / f'{i:07d}.png'), np.full((*label.shape, 3), 90, np.uint8))
        rgb16 = np.zeros((*label.shape, 3), np.uint16)
        rgb16[..., 0] = label  # R: class id
        rgb16[..., 1] = 1000 + label  # G: instance id, must not leak into the class
        cv2.imwrite(str(root / 'GT' / 'LABELS' / f'{i:07d}.png'), rgb16[..., ::-1])  # cv2 writes BGR


def test_gta_converter_and_dataset(tmp_path, monkeypatch):
    # Cityscapes ids: 7 road, 26 car, 11 building, 0 unlabeled, 34 license plate (-> ignore)
    ids = [np.array([[7, 7, 26, 0], [11, 11, 26, 34]]), np.array([[7, 24, 24, 24], [7, 7, 7, 7]])]
    write_gta(tmp_path, ids)
    tool = load_tool('gta')
    assert Image.open(tmp_path / 'labels' / '00000.png').mode == 'P'
    monkeypatch.setattr(sys, 'argv', ['gta.py', str(tmp_path), '--nproc', '1'])
    tool.main()
    with open(tmp_path / 'sample_class_stats.json') as f:
        stats = json.load(f)
    train = np.asarray(Image.open(tmp_path / 'labels' / '00000_labelTrainIds.png'))
    assert train.tolist() == [[0, 0, 13, 255], [2, 2, 13, 255]]
    assert stats[0] == {'file': 'labels/00000_labelTrainIds.png', '0': 2, '2': 2, '13': 2}
    with open(tmp_path / 'samples_with_class.json') as f:
        assert json.load(f)['11'] == [['labels/00001_labelTrainIds.png', 3]]  # person (24 -> 11)
    ds = GTADataset(
        data_root=str(tmp_path),
        data_prefix=dict(img_path='images', seg_map_path='labels'),
        pipeline=[dict(type='LoadImageFromFile'),
                  dict(type='LoadAnnotations'),
                  dict(type='PackSegInputs')])
    assert len(ds) == 2 and len(ds.metainfo['classes']) == 19
    assert ds[0]['data_samples'].gt_sem_seg.data[0].tolist() == train.tolist()
    with pytest.raises(ValueError, match='palette'):
        Image.fromarray(np.zeros((2, 2, 3), np.uint8)).save(tmp_path / 'rgb.png')
        tool.gta_train_ids(str(tmp_path / 'rgb.png'))


def test_gta_mapping_covers_the_19_train_ids():
    assert sorted(GTA_ID_TO_TRAINID.values()) == list(range(19))
    assert map_label_ids(np.array([[33, 1, 300]], np.int64), GTA_ID_TO_TRAINID).tolist() == [[18, 255, 255]]


def test_synthia_converter_and_dataset(tmp_path, monkeypatch):
    # SYNTHIA ids: 3 road, 8 car, 10 pedestrian, 1 sky, 0 void, 13 (no Cityscapes class)
    ids = [np.array([[3, 3, 8, 0], [10, 1, 13, 8]]), np.array([[1, 1, 1, 1], [3, 3, 3, 3]])]
    write_synthia(tmp_path, ids)
    raw = cv2.imread(str(tmp_path / 'GT/LABELS/0000000.png'), cv2.IMREAD_UNCHANGED)
    assert raw.dtype == np.uint16 and raw.shape == (2, 4, 3)
    tool = load_tool('synthia')
    monkeypatch.setattr(sys, 'argv', ['synthia.py', str(tmp_path), '--nproc', '1'])
    tool.main()
    with open(tmp_path / 'sample_class_stats.json') as f:
        stats = json.load(f)
    train = np.asarray(Image.open(tmp_path / 'GT/LABELS/0000000_labelTrainIds.png'))
    assert train.dtype == np.uint8
    assert train.tolist() == [[0, 0, 13, 255], [11, 10, 255, 13]]
    assert stats[1] == {'file': 'GT/LABELS/0000001_labelTrainIds.png', '0': 4, '10': 4}
    ds = SynthiaDataset(
        data_root=str(tmp_path),
        data_prefix=dict(img_path='RGB', seg_map_path='GT/LABELS'),
        pipeline=[dict(type='LoadImageFromFile'),
                  dict(type='LoadAnnotations'),
                  dict(type='PackSegInputs')])
    assert len(ds) == 2 and ds[0]['data_samples'].gt_sem_seg.data[0].tolist() == train.tolist()
    assert sorted(SYNTHIA_ID_TO_TRAINID.values()) == sorted(set(range(19)) - {9, 14, 16})
    with pytest.raises(ValueError, match='multi-channel'):
        cv2.imwrite(str(tmp_path / 'grey.png'), np.zeros((2, 2), np.uint16))
        tool.read_synthia_class_ids(str(tmp_path / 'grey.png'))


def test_rcs_class_probs_formula():
    classes, probs = rcs_class_probs({0: 900, 1: 90, 2: 10, 3: 0}, temperature=0.01)
    assert classes == [0, 1, 2]
    freq = np.array([0.9, 0.09, 0.01])
    expected = np.exp((1 - freq) / 0.01) / np.exp((1 - freq) / 0.01).sum()
    np.testing.assert_allclose(probs, expected)
    assert probs[2] > probs[1] > probs[0]
    # a high temperature flattens the distribution
    assert np.ptp(rcs_class_probs({0: 900, 1: 90, 2: 10}, temperature=100.)[1]) < 1e-2
    with pytest.raises(ValueError, match='temperature'):
        rcs_class_probs({0: 1}, temperature=0)


def _toy_seg_dataset(root: Path, labels: list, with_labels: bool = True) -> dict:
    (root / 'img').mkdir(parents=True, exist_ok=True)
    (root / 'ann').mkdir(exist_ok=True)
    for i, label in enumerate(labels):
        Image.fromarray(np.full((*label.shape, 3), 50 + i, np.uint8)).save(root / 'img' / f'{i}.png')
        Image.fromarray(label.astype(np.uint8)).save(root / 'ann' / f'{i}.png')
    prefix = dict(img_path='img', seg_map_path='ann') if with_labels else dict(img_path='img')
    pipeline = [dict(type='LoadImageFromFile')] + ([dict(type='LoadAnnotations')] if with_labels else [])
    return dict(
        type='BaseSegDataset',
        data_root=str(root),
        data_prefix=prefix,
        img_suffix='.png',
        seg_map_suffix='.png',
        metainfo=dict(classes=('a', 'b', 'c')),
        pipeline=pipeline + [dict(type='PackSegInputs')])


def test_uda_dataset_pairs_and_rare_class_sampling(tmp_path):
    common = np.zeros((8, 8), np.int64)
    rare = np.zeros((8, 8), np.int64)
    rare[:4] = 2  # class 2 only here (32 px); class 1 in two images (16 px)
    mid = np.zeros((8, 8), np.int64)
    mid[:, :2] = 1
    source = _toy_seg_dataset(tmp_path / 'src', [common, mid, rare, mid])
    target = _toy_seg_dataset(tmp_path / 'tgt', [common, common], with_labels=False)
    ds = UDADataset(source, target)
    item = ds[1]
    assert len(ds) == 4 and set(item['inputs']) == {'source', 'target'}
    assert 'gt_sem_seg' in item['data_samples']['source'] and 'gt_sem_seg' not in item['data_samples']['target']

    ds = UDADataset(source, target, rare_class_sampling=dict(class_temp=0.1, min_pixels=10))
    totals = {0: 64 + 48 + 32 + 48, 1: 32, 2: 32}
    classes, probs = rcs_class_probs(totals, 0.1)
    assert ds.class_sampling_probs() == pytest.approx(dict(zip(classes, probs)))
    assert ds.rcs_samples[2] == [2] and ds.rcs_samples[1] == [1, 3]
    np.random.seed(0)
    draws = [ds[0]['data_samples']['source'].img_path.split('/')[-1] for _ in range(300)]
    assert draws.count('2.png') / 300 == pytest.approx(probs[classes.index(2)], abs=0.08)
    # the stats file of the converters is used when present (here: claims class 1 is everywhere)
    fake = [dict(file=f'ann/{i}.png', **{'1': 64}) for i in range(4)]
    with open(tmp_path / 'src' / 'sample_class_stats.json', 'w') as f:
        json.dump(fake, f)
    ds = UDADataset(source, target, rare_class_sampling=dict(min_pixels=10))
    assert ds.class_sampling_probs() == {1: 1.0}
    with pytest.raises(ValueError, match='unknown rare_class_sampling'):
        UDADataset(source, target, rare_class_sampling=dict(temp=0.1))


def _sample(pred: np.ndarray, gt: np.ndarray) -> dict:
    sample = SegDataSample()
    sample.pred_sem_seg = PixelData(data=torch.from_numpy(pred)[None])
    sample.gt_sem_seg = PixelData(data=torch.from_numpy(gt)[None])
    return sample.to_dict()


def test_synthia_miou16_miou13():
    metric = SubsetIoUMetric(subsets='synthia')
    metric.dataset_meta = dict(classes=GTADataset.METAINFO['classes'])
    # 19 columns, one per class; classes 0..18 appear once in gt.
    gt = np.arange(19).reshape(1, 19)
    pred = gt.copy()
    pred[0, 3] = 0  # wall predicted as road: IoU(wall)=0, IoU(road)=1/2
    pred[0, 9] = 9  # terrain right (outside both subsets)
    pred[0, 14] = 0  # truck as road: IoU(road)=1/3, truck 0 (outside the subsets)
    metric.process([], [_sample(pred, gt)])
    out = metric.compute_metrics(metric.results)
    iou = np.ones(19)
    iou[[3, 14]] = 0
    iou[0] = 1 / 3
    sixteen = [c for c in range(19) if c not in (9, 14, 16)]
    thirteen = [c for c in sixteen if c not in (3, 4, 5)]
    assert out['mIoU'] == pytest.approx(round(iou.mean() * 100, 2))
    assert out['mIoU16'] == pytest.approx(round(iou[sixteen].mean() * 100, 2))
    assert out['mIoU13'] == pytest.approx(round(iou[thirteen].mean() * 100, 2))
    with pytest.raises(ValueError, match='preset'):
        SubsetIoUMetric(subsets='cityscapes')


# ---- bad inputs (issue 12 item 4): refused naming the file; a failed run changes nothing ----


def _snapshot(root: Path) -> dict:
    """Bytes of every converter output (train-id maps and class statistics)."""
    files = [p for p in root.rglob('*') if p.name.endswith('_labelTrainIds.png') or p.suffix == '.json']
    return {str(p.relative_to(root)): p.read_bytes() for p in files}


def _no_temp_files(root: Path) -> bool:
    return not list(root.rglob('.*.tmp'))


def _run(tool, monkeypatch, *argv):
    monkeypatch.setattr(sys, 'argv', [f'{tool.__name__}.py', *argv, '--nproc', '1'])
    tool.main()


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2])


@pytest.mark.parametrize('case', ['rgb8', 'ids_above_22', 'truncated'])
def test_synthia_bad_label_fails_and_keeps_the_statistics(tmp_path, monkeypatch, case):
    """The old converter read an 8-bit RGB image's blue channel as class ids and exited 0,
    overwriting good sample_class_stats.json; a truncated PNG raised FileNotFoundError."""
    ids = [np.array([[3, 3, 8, 0], [10, 1, 13, 8]]), np.array([[1, 1, 1, 1], [3, 3, 3, 3]])]
    write_synthia(tmp_path, ids)
    tool = load_tool('synthia')
    _run(tool, monkeypatch, str(tmp_path))
    before = _snapshot(tmp_path)
    assert 'sample_class_stats.json' in before and 'GT/LABELS/0000001_labelTrainIds.png' in before
    bad = tmp_path / 'GT/LABELS/0000001.png'
    if case == 'rgb8':  # an RGB photo in place of a label: 8-bit, colours would pass for class ids
        cv2.imwrite(str(bad), np.random.default_rng(0).integers(0, 256, (2, 4, 3), dtype=np.uint8))
    elif case == 'ids_above_22':
        label = np.zeros((2, 4, 3), np.uint16)
        label[..., 2] = 200  # R (class id) channel, in cv2's BGR order
        cv2.imwrite(str(bad), label)
    else:
        _truncate(bad)
    with pytest.raises((SystemExit, ValueError), match=re.escape(str(bad))):
        _run(tool, monkeypatch, str(tmp_path))
    assert _snapshot(tmp_path) == before
    assert _no_temp_files(tmp_path)


@pytest.mark.parametrize('case', ['grey_photo', 'truncated'])
def test_gta_bad_label_names_the_file(tmp_path, monkeypatch, case):
    write_gta(tmp_path, [np.array([[7, 7, 26, 0], [11, 11, 26, 34]])])
    bad = tmp_path / 'labels' / '00000.png'
    if case == 'grey_photo':  # a single-channel image passes the mode check; its values do not
        Image.fromarray(np.arange(8, dtype=np.uint8).reshape(2, 4) * 30, mode='L').save(bad)
    else:
        _truncate(bad)
    with pytest.raises((SystemExit, ValueError), match=re.escape(str(bad))):
        _run(load_tool('gta'), monkeypatch, str(tmp_path))
    assert _snapshot(tmp_path) == {}
    assert _no_temp_files(tmp_path)


def test_gta_failed_run_keeps_earlier_outputs(tmp_path, monkeypatch):
    """The old converter rewrote 00000_labelTrainIds.png and then failed on 00001."""
    write_gta(tmp_path, [np.array([[7, 7, 26, 0], [11, 11, 26, 34]]), np.array([[7, 24, 24, 24], [7, 7, 7, 7]])])
    tool = load_tool('gta')
    _run(tool, monkeypatch, str(tmp_path))
    before = _snapshot(tmp_path)
    # a changed first label, and an RGB image as the second
    img = Image.fromarray(np.full((2, 4), 26, np.uint8), mode='P')
    img.putpalette(([v for rgb in CITYSCAPES_PALETTE for v in rgb] * 86)[:768])
    img.save(tmp_path / 'labels' / '00000.png')
    Image.fromarray(np.zeros((2, 4, 3), np.uint8)).save(tmp_path / 'labels' / '00001.png')
    with pytest.raises((SystemExit, ValueError), match=re.escape(str(tmp_path / 'labels' / '00001.png'))):
        _run(tool, monkeypatch, str(tmp_path))
    assert _snapshot(tmp_path) == before
    assert _no_temp_files(tmp_path)
    # once the second label is fixed, the run goes through and replaces them
    img.save(tmp_path / 'labels' / '00001.png')
    _run(tool, monkeypatch, str(tmp_path))
    stats = json.loads((tmp_path / 'sample_class_stats.json').read_text())
    assert stats == [{
        'file': 'labels/00000_labelTrainIds.png',
        '13': 8
    }, {
        'file': 'labels/00001_labelTrainIds.png',
        '13': 8
    }]
