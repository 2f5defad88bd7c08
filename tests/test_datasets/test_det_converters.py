"""Cityscapes/Foggy Cityscapes and Sim10k converters on tiny files in the real formats."""
import importlib.util
import json
import os.path as osp

import cv2
import numpy as np
import pytest
from mmdet.datasets import CityscapesDataset, CocoDataset

TOOLS = osp.join(osp.dirname(__file__), '..', '..', 'tools', 'dataset_converters')


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f'_converter_{name}', osp.join(TOOLS, f'{name}.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


STEM = 'aachen_000000_000019'
POLYGONS = {
    'imgHeight': 64,
    'imgWidth': 128,
    'objects': [
        {'label': 'road', 'polygon': [[0, 40], [128, 40], [128, 64], [0, 64]]},
        {'label': 'car', 'polygon': [[10, 20], [40, 20], [40, 44], [10, 44]]},
        {'label': 'person', 'polygon': [[60, 10], [66, 10], [63, 30]]},
        {'label': 'cargroup', 'polygon': [[80, 30], [130, 30], [130, 50], [80, 50]]},
        {'label': 'bicycle', 'polygon': [[5, 5], [5, 5], [5, 5]]},  # degenerate: dropped
    ]
}


@pytest.fixture
def cityscapes_root(tmp_path):
    root = tmp_path / 'cityscapes'
    for split in ('train', 'val'):
        gt = root / 'gtFine' / split / 'aachen'
        gt.mkdir(parents=True)
        (gt / f'{STEM}_gtFine_polygons.json').write_text(json.dumps(POLYGONS))
        for folder, suffix in (('leftImg8bit', '_leftImg8bit.png'),
                               ('leftImg8bit_foggy', '_leftImg8bit_foggy_beta_0.02.png')):
            img_dir = root / folder / split / 'aachen'
            img_dir.mkdir(parents=True)
            cv2.imwrite(str(img_dir / f'{STEM}{suffix}'), np.zeros((64, 128, 3), np.uint8))
        # other betas are not part of the standard split
        cv2.imwrite(str(root / 'leftImg8bit_foggy' / split / 'aachen' / f'{STEM}_leftImg8bit_foggy_beta_0.01.png'),
                    np.zeros((64, 128, 3), np.uint8))
    return root


def test_cityscapes_foggy_8_classes(cityscapes_root):
    converter = _load('cityscapes_foggy')
    written = converter.convert(str(cityscapes_root))
    ann_dir = cityscapes_root / 'annotations'
    assert sorted(osp.basename(p) for p in written) == sorted([
        'cityscapes_train_8cls.json', 'foggy_cityscapes_beta_0.02_train_8cls.json', 'cityscapes_val_8cls.json',
        'foggy_cityscapes_beta_0.02_val_8cls.json'
    ])
    clear = json.loads((ann_dir / 'cityscapes_train_8cls.json').read_text())
    foggy = json.loads((ann_dir / 'foggy_cityscapes_beta_0.02_train_8cls.json').read_text())
    assert [c['name'] for c in clear['categories']] == list(CityscapesDataset.METAINFO['classes'])
    assert clear['images'][0]['file_name'] == f'aachen/{STEM}_leftImg8bit.png'
    assert foggy['images'][0]['file_name'] == f'aachen/{STEM}_leftImg8bit_foggy_beta_0.02.png'
    assert foggy['annotations'] == clear['annotations']
    boxes = {(a['category_id'], a['iscrowd']): a['bbox'] for a in clear['annotations']}
    assert boxes == {(26, 0): [10, 20, 30, 24], (24, 0): [60, 10, 6, 20], (26, 1): [80, 30, 48, 20]}
    car = [a for a in clear['annotations'] if a['category_id'] == 26 and not a['iscrowd']][0]
    assert car['area'] == 30 * 24

    # mmdet's CityscapesDataset reads the foggy file: 2 boxes + 1 ignored crowd box
    dataset = CityscapesDataset(
        data_root=str(cityscapes_root),
        ann_file='annotations/foggy_cityscapes_beta_0.02_val_8cls.json',
        data_prefix=dict(img='leftImg8bit_foggy/val/'),
        pipeline=[])
    info = dataset.get_data_info(0)
    assert osp.exists(info['img_path'])
    assert sorted((i['bbox_label'], i['ignore_flag']) for i in info['instances']) == [(0, 0), (2, 0), (2, 1)]


def test_cityscapes_car_only_and_errors(cityscapes_root, tmp_path):
    converter = _load('cityscapes_foggy')
    converter.convert(str(cityscapes_root), str(tmp_path / 'out'), splits=('val', ), classes=('car', ),
                      foggy_beta=None)
    car = json.loads((tmp_path / 'out' / 'cityscapes_val_car.json').read_text())
    assert car['categories'] == [{'id': 26, 'name': 'car'}]
    assert {a['category_id'] for a in car['annotations']} == {26}
    with pytest.raises(ValueError, match='unknown Cityscapes classes'):
        converter.convert_split(str(cityscapes_root), 'val', classes=('cars', ))
    (cityscapes_root / 'leftImg8bit_foggy' / 'val' / 'aachen' / f'{STEM}_leftImg8bit_foggy_beta_0.02.png').unlink()
    with pytest.raises(FileNotFoundError, match='foggy_beta_0.02'):
        converter.convert_split(str(cityscapes_root), 'val')
    with pytest.raises(FileNotFoundError, match='gtFine_polygons'):
        converter.convert_split(str(cityscapes_root), 'test')


SIM10K_XML = """<annotation>
  <folder>VOC2012</folder><filename>3384645.jpg</filename>
  <size><width>96</width><height>48</height><depth>3</depth></size>
  <object><name>car</name><bndbox><xmin>11</xmin><ymin>6</ymin><xmax>40</xmax><ymax>30</ymax></bndbox></object>
  <object><name>person</name><bndbox><xmin>50</xmin><ymin>5</ymin><xmax>55</xmax><ymax>20</ymax></bndbox></object>
  <object><name>motorbike</name><bndbox><xmin>60</xmin><ymin>5</ymin><xmax>70</xmax><ymax>20</ymax></bndbox></object>
  <object><name>car</name><difficult>1</difficult>
    <bndbox><xmin>70</xmin><ymin>20</ymin><xmax>120</xmax><ymax>47</ymax></bndbox></object>
</annotation>"""


def test_sim10k_to_coco_and_cityscapes_car(tmp_path, cityscapes_root):
    sim10k = tmp_path / 'sim10k'
    (sim10k / 'VOC2012' / 'Annotations').mkdir(parents=True)
    (sim10k / 'VOC2012' / 'JPEGImages').mkdir(parents=True)
    (sim10k / 'VOC2012' / 'Annotations' / '3384645.xml').write_text(SIM10K_XML)
    cv2.imwrite(str(sim10k / 'VOC2012' / 'JPEGImages' / '3384645.jpg'), np.zeros((48, 96, 3), np.uint8))

    _load('sim10k').main([str(sim10k), '--cityscapes-root', str(cityscapes_root)])
    coco = json.loads((sim10k / 'annotations' / 'sim10k_car.json').read_text())
    assert coco['images'] == [dict(id=0, file_name='3384645.jpg', width=96, height=48)]
    assert [(a['bbox'], a['iscrowd']) for a in coco['annotations']] == [([10, 5, 30, 25], 0), ([69, 19, 27, 28], 1)]
    for split in ('train', 'val'):
        assert (cityscapes_root / 'annotations' / f'cityscapes_{split}_car.json').exists()

    dataset = CocoDataset(
        metainfo=dict(classes=('car', )),
        data_root=str(sim10k),
        ann_file='annotations/sim10k_car.json',
        data_prefix=dict(img='VOC2012/JPEGImages/'),
        pipeline=[])
    info = dataset.get_data_info(0)
    assert osp.exists(info['img_path'])
    assert [i['bbox'] for i in info['instances']] == [[10, 5, 40, 30], [69, 19, 96, 47]]
