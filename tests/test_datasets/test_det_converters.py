"""Cityscapes/Foggy Cityscapes and Sim10k converters on tiny files in the real on-disk formats.

References cited below (file:line):
  mmdet 3.3   tools/dataset_converters/cityscapes.py (shipped in mmdet/.mim/)
  DA-Faster   krumo/Detectron-DA-Faster-RCNN tools/convert_cityscapes_to_coco.py,
              tools/convert_sim10k_to_coco.py, detectron/utils/boxes.py
  AT          facebookresearch/adaptive_teacher adapteacher/data/datasets/{cityscapes_foggy,builtin}.py
"""
import importlib.util
import json
import os.path as osp
import re
import subprocess
import sys
from glob import glob

import cv2
import numpy as np
import pycocotools.mask as mask_util
import pytest
from mmdet.datasets import CityscapesDataset, CocoDataset
from mmengine.config import Config

ROOT = osp.join(osp.dirname(__file__), '..', '..')
TOOLS = osp.join(ROOT, 'tools', 'dataset_converters')


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f'_converter_{name}', osp.join(TOOLS, f'{name}.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


H, W = 64, 128
STEM = 'aachen_000000_000019'
BETAS = ('0.005', '0.01', '0.02')
# (label, instance id, x0, y0, x1, y1): inclusive pixel rectangles in the JSON's drawing order.
# cityscapesScripts draws later polygons over earlier ones, so *_gtFine_instanceIds.png holds
# what is visible; ids are label_id * 1000 + index, or the bare label id for stuff and crowd.
OBJECTS = [
    ('road', 7, 0, 50, 127, 63),
    ('car', 26000, 10, 20, 69, 39),  # occluded: x 40..69 is hidden behind the next car
    ('car', 26001, 40, 15, 79, 44),  # in front, covering x 40..69 of the car behind at every row
    ('car', 26002, 100, 5, 140, 20),  # cut by the right image border: the polygon leaves the image
    ('cargroup', 26, 80, 45, 95, 60),  # crowd region, id < 1000
    ('person', 24000, 60, 0, 65, 9),
    ('caravan', 29000, 0, 0, 5, 5),  # an instance class outside the 8 (ignoreInEval)
]
# Visible boxes [x, y, w, h] with w = xmax - xmin + 1 (category, iscrowd) -> box.
VISIBLE = {
    (26, 0, 10): [10, 20, 30, 20],  # only x 10..39 of the occluded car shows
    (26, 0, 40): [40, 15, 40, 30],
    (26, 0, 100): [100, 5, 28, 16],  # ends at the border, x = 127
    (26, 1, 80): [80, 45, 16, 16],
    (24, 0, 60): [60, 0, 6, 10],
}


def _instance_ids(objects=OBJECTS) -> np.ndarray:
    ids = np.zeros((H, W), np.uint16)
    for _, inst_id, x0, y0, x1, y1 in objects:
        ids[y0:y1 + 1, x0:x1 + 1] = inst_id  # numpy clips at the border as the rasteriser does
    return ids


def _polygons(objects=OBJECTS) -> dict:
    return dict(
        imgHeight=H,
        imgWidth=W,
        objects=[
            dict(label=label, polygon=[[x0, y0], [x1, y0], [x1, y1], [x0, y1]]) for label, _, x0, y0, x1, y1 in objects
        ])


def write_city(root, split: str, stem: str = STEM, objects=OBJECTS, city: str = 'aachen') -> None:
    """One Cityscapes image in the real layout: polygons JSON, 16-bit instanceIds PNG, images."""
    gt = root / 'gtFine' / split / city
    gt.mkdir(parents=True, exist_ok=True)
    (gt / f'{stem}_gtFine_polygons.json').write_text(json.dumps(_polygons(objects)))
    cv2.imwrite(str(gt / f'{stem}_gtFine_instanceIds.png'), _instance_ids(objects))
    for folder, suffixes in (('leftImg8bit', ['_leftImg8bit.png']),
                             ('leftImg8bit_foggy', [f'_leftImg8bit_foggy_beta_{b}.png' for b in BETAS])):
        img_dir = root / folder / split / city
        img_dir.mkdir(parents=True, exist_ok=True)
        for suffix in suffixes:
            cv2.imwrite(str(img_dir / f'{stem}{suffix}'), np.zeros((H, W, 3), np.uint8))


@pytest.fixture
def cityscapes_root(tmp_path):
    root = tmp_path / 'cityscapes'
    for split in ('train', 'val'):
        write_city(root, split)
    return root


def _boxes(coco: dict) -> dict:
    return {(a['category_id'], a['iscrowd'], a['bbox'][0]): a['bbox'] for a in coco['annotations']}


def test_visible_boxes_occlusion_crowd_border(cityscapes_root):
    converter = _load('cityscapes_foggy')
    written = converter.convert(str(cityscapes_root))
    assert sorted(osp.basename(p) for p in written) == sorted([
        'cityscapes_train_8cls.json', 'foggy_cityscapes_beta_0.02_train_8cls.json', 'cityscapes_val_8cls.json',
        'foggy_cityscapes_beta_0.02_val_8cls.json'
    ])
    ann_dir = cityscapes_root / 'annotations'
    clear = json.loads((ann_dir / 'cityscapes_train_8cls.json').read_text())
    foggy = json.loads((ann_dir / 'foggy_cityscapes_beta_0.02_train_8cls.json').read_text())
    # the 8 classes with their Cityscapes label ids (mmdet cityscapes.py:52-56, 99-102; DA-Faster
    # convert_cityscapes_to_coco.py:127-136); caravan (29) is not one of them
    assert [c['name'] for c in clear['categories']] == list(CityscapesDataset.METAINFO['classes'])
    assert [c['id'] for c in clear['categories']] == [24, 25, 26, 27, 28, 31, 32, 33]
    # <city>/<name> as mmdet's converter writes it (cityscapes.py:75-78); DA-Faster's beta 0.02
    # (da-faster-rcnn prepare_data/prepare_data.m:38-39) for the foggy file
    assert clear['images'] == [dict(id=0, file_name=f'aachen/{STEM}_leftImg8bit.png', height=H, width=W)]
    assert foggy['images'][0]['file_name'] == f'aachen/{STEM}_leftImg8bit_foggy_beta_0.02.png'
    assert foggy['annotations'] == clear['annotations']

    # The box is the visible extent from instanceIds, with w = xmax - xmin + 1: mmdet
    # cityscapes.py:58-63 (pycocotools toBbox of the instance mask), DA-Faster
    # convert_cityscapes_to_coco.py:165-196 + boxes.py:98, AT cityscapes_foggy.py:261-266 (pixel
    # min/max). The occluded car is 30 px wide (its polygon says 60); crowd ids < 1000 are
    # iscrowd=1 as in mmdet cityscapes.py:57 and AT cityscapes_foggy.py:258.
    assert _boxes(clear) == VISIBLE
    ids = _instance_ids()
    for ann in clear['annotations']:
        inst_id = {
            (26, 0, 10): 26000,
            (26, 0, 40): 26001,
            (26, 0, 100): 26002,
            (26, 1, 80): 26,
            (24, 0, 60): 24000
        }[(ann['category_id'], ann['iscrowd'], ann['bbox'][0])]
        mask = mask_util.decode(ann['segmentation'])
        np.testing.assert_array_equal(mask, ids == inst_id)  # the visible mask, as RLE
        assert ann['area'] == int((ids == inst_id).sum())
        assert mask_util.toBbox(ann['segmentation']).tolist() == ann['bbox']  # mmdet's own box of it

    # mmdet's CityscapesDataset reads the foggy file: 4 boxes + 1 crowd region (ignore_flag)
    dataset = CityscapesDataset(
        data_root=str(cityscapes_root),
        ann_file='annotations/foggy_cityscapes_beta_0.02_val_8cls.json',
        data_prefix=dict(img='leftImg8bit_foggy/val/'),
        pipeline=[])
    info = dataset.get_data_info(0)
    assert osp.exists(info['img_path'])
    assert sorted((i['bbox_label'], i['ignore_flag']) for i in info['instances']) == [(0, 0), (2, 0), (2, 0), (2, 0),
                                                                                      (2, 1)]
    occluded = [i for i in info['instances'] if i['bbox'][0] == 10][0]
    assert occluded['bbox'] == [10, 20, 40, 40]  # x2 = 40: the car ends where the one in front begins


def test_all_densities_split(cityscapes_root):
    # AT lists every foggy image of the folder (cityscapes_foggy.py:26 load_only_002 = False, :36-46),
    # for the target train and the val set (builtin.py:118-119): each image at the three betas.
    write_city(cityscapes_root, 'val', stem='aachen_000001_000019')
    converter = _load('cityscapes_foggy')
    converter.convert(str(cityscapes_root), splits=('val', ), foggy_betas=('0.02', 'all'))
    ann_dir = cityscapes_root / 'annotations'
    single = json.loads((ann_dir / 'foggy_cityscapes_beta_0.02_val_8cls.json').read_text())
    every = json.loads((ann_dir / 'foggy_cityscapes_all-densities_val_8cls.json').read_text())
    assert [i['file_name'] for i in every['images']] == [
        f'aachen/{stem}_leftImg8bit_foggy_beta_{b}.png' for stem in ('aachen_000000_000019', 'aachen_000001_000019')
        for b in BETAS
    ]
    assert [i['id'] for i in every['images']] == list(range(6))
    assert len(every['annotations']) == 3 * len(single['annotations']) == 30
    assert len({a['id'] for a in every['annotations']}) == 30
    per_image = {}
    for ann in every['annotations']:
        per_image.setdefault(ann['image_id'], []).append(ann['bbox'])
    assert all(sorted(boxes) == sorted(VISIBLE.values()) for boxes in per_image.values())
    assert len(per_image) == 6

    (cityscapes_root / 'leftImg8bit_foggy' / 'val' / 'aachen' / f'{STEM}_leftImg8bit_foggy_beta_0.005.png').unlink()
    with pytest.raises(FileNotFoundError, match='beta_0.005'):
        converter.convert_split(str(cityscapes_root), 'val', foggy_betas=('all', ))
    converter.convert_split(str(cityscapes_root), 'val')  # the 0.02 split does not need it
    with pytest.raises(ValueError, match='unknown Foggy Cityscapes beta'):
        converter.convert_split(str(cityscapes_root), 'val', foggy_betas=('0.03', ))


def test_all_densities_data_config(tmp_path):
    base = osp.abspath(osp.join(ROOT, 'configs', '_base_', 'uda_det'))
    cfg = Config.fromfile(osp.join(base, 'city2foggy_all-densities.py'))
    assert cfg.target_dataset.ann_file == 'annotations/foggy_cityscapes_all-densities_train_8cls.json'
    assert cfg.target_val_dataset.ann_file == 'annotations/foggy_cityscapes_all-densities_val_8cls.json'
    assert cfg.val_ann_file == 'data/cityscapes/annotations/foggy_cityscapes_all-densities_val_8cls.json'
    assert cfg.target_val_dataset.data_prefix == dict(img='leftImg8bit_foggy/val/') and cfg.num_classes == 8
    assert cfg.source_dataset == Config.fromfile(osp.join(base, 'city2foggy.py')).source_dataset
    # a model config composes it as the city2foggy ones do
    model_cfg = tmp_path / 'model.py'
    model_cfg.write_text(f"_base_ = [{osp.join(base, 'city2foggy_all-densities.py')!r}]\n"
                         'train_datasets = [{{_base_.source_dataset}}, {{_base_.target_dataset}}]\n'
                         'val_dataset = {{_base_.target_val_dataset}}\n')
    composed = Config.fromfile(str(model_cfg))
    assert composed.train_datasets[1].ann_file.endswith('all-densities_train_8cls.json')
    assert composed.train_datasets[1].pipeline[-1].type == 'MultiBranch'
    assert composed.val_dataset.ann_file.endswith('all-densities_val_8cls.json')


def test_car_only_and_crowd_skip(cityscapes_root, tmp_path):
    converter = _load('cityscapes_foggy')
    converter.convert(
        str(cityscapes_root),
        str(tmp_path / 'out'),
        splits=('val', ),
        classes=('car', ),
        foggy_betas=(),
        crowd='skip',
        with_masks=False)
    car = json.loads((tmp_path / 'out' / 'cityscapes_val_car.json').read_text())
    assert car['categories'] == [{'id': 26, 'name': 'car'}]
    # crowd='skip' is DA-Faster's instances2dict_with_polygons (ids < 1000 skipped)
    assert _boxes(car) == {k: v for k, v in VISIBLE.items() if k[0] == 26 and k[1] == 0}
    assert all('segmentation' not in a for a in car['annotations'])
    assert sorted(osp.basename(p) for p in glob(str(tmp_path / 'out' / '*'))) == ['cityscapes_val_car.json']
    with pytest.raises(ValueError, match='unknown Cityscapes classes'):
        converter.convert_split(str(cityscapes_root), 'val', classes=('cars', ))
    with pytest.raises(FileNotFoundError, match='gtFine_polygons'):
        converter.convert_split(str(cityscapes_root), 'test')


def _gt(root, split='val', suffix='_gtFine_instanceIds.png'):
    return root / 'gtFine' / split / 'aachen' / f'{STEM}{suffix}'


def _no_temp_files(root) -> bool:
    return not glob(osp.join(str(root), '**', '.*.tmp'), recursive=True)


@pytest.mark.parametrize('case', ['no_img_height', 'truncated_png', 'rgb_png', 'labelids_png', 'bad_ids', 'size'])
def test_cityscapes_bad_inputs_name_the_file(cityscapes_root, case):
    """Every bad input fails naming its file (the old converter read no PNG at all and
    raised a bare KeyError('imgHeight'))."""
    converter = _load('cityscapes_foggy')
    if case == 'no_img_height':
        bad = _gt(cityscapes_root, suffix='_gtFine_polygons.json')
        record = _polygons()
        del record['imgHeight']
        bad.write_text(json.dumps(record))
    elif case == 'truncated_png':
        bad = _gt(cityscapes_root)
        data = bad.read_bytes()
        bad.write_bytes(data[:len(data) // 2])
    elif case == 'rgb_png':  # e.g. *_gtFine_color.png given as the instance map
        bad = _gt(cityscapes_root)
        cv2.imwrite(str(bad), np.full((H, W, 3), 128, np.uint8))
    elif case == 'labelids_png':  # 8-bit *_gtFine_labelIds.png: cars would all become crowd regions
        bad = _gt(cityscapes_root)
        cv2.imwrite(str(bad), (_instance_ids() // 1000).astype(np.uint8))
    elif case == 'bad_ids':
        bad = _gt(cityscapes_root)
        ids = _instance_ids()
        ids[0, 0] = 500  # neither a label id (<= 33) nor label_id * 1000 + index
        cv2.imwrite(str(bad), ids)
    else:
        bad = cityscapes_root / 'leftImg8bit' / 'val' / 'aachen' / f'{STEM}_leftImg8bit.png'
        cv2.imwrite(str(bad), np.zeros((H, W + 2, 3), np.uint8))
    with pytest.raises(ValueError, match=re.escape(str(bad))):
        converter.convert(str(cityscapes_root), None, ('val', ))
    assert not (cityscapes_root / 'annotations').exists() or not list((cityscapes_root / 'annotations').iterdir())
    assert _no_temp_files(cityscapes_root)


def test_cityscapes_failed_run_keeps_earlier_outputs(cityscapes_root):
    """A run that fails on the val split must not have replaced the train files (the old
    converter wrote train, then failed on val)."""
    converter = _load('cityscapes_foggy')
    converter.convert(str(cityscapes_root))
    ann_dir = cityscapes_root / 'annotations'
    before = {p.name: p.read_bytes() for p in ann_dir.iterdir()}
    # new train content (one car fewer), and a val image gone
    write_city(cityscapes_root, 'train', objects=[o for o in OBJECTS if o[1] != 26001])
    (cityscapes_root / 'leftImg8bit_foggy' / 'val' / 'aachen' / f'{STEM}_leftImg8bit_foggy_beta_0.02.png').unlink()
    with pytest.raises(FileNotFoundError, match='beta_0.02'):
        converter.convert(str(cityscapes_root))
    assert {p.name: p.read_bytes() for p in ann_dir.iterdir()} == before
    assert _no_temp_files(cityscapes_root)


SIM10K_XML = """<annotation>
  <folder>VOC2012</folder><filename>{filename}</filename>
  <size><width>{width}</width><height>48</height><depth>3</depth></size>
  <object><name>car</name><difficult>0</difficult>
    <bndbox><xmin>{xmin}</xmin><ymin>6</ymin><xmax>{xmax}</xmax><ymax>30</ymax></bndbox></object>
  <object><name>person</name><bndbox><xmin>50</xmin><ymin>5</ymin><xmax>55</xmax><ymax>20</ymax></bndbox></object>
  <object><name>motorbike</name><bndbox><xmin>60</xmin><ymin>5</ymin><xmax>70</xmax><ymax>20</ymax></bndbox></object>
  <object><name>car</name><difficult>1</difficult>
    {difficult_box}</object>
</annotation>"""
DIFFICULT_BOX = '<bndbox><xmin>70</xmin><ymin>20</ymin><xmax>120</xmax><ymax>47</ymax></bndbox>'


def write_sim10k(root, stem: str = '3384645', **fields) -> str:
    values = {**dict(filename=f'{stem}.jpg', width=96, xmin=11, xmax=40, difficult_box=DIFFICULT_BOX), **fields}
    (root / 'VOC2012' / 'Annotations').mkdir(parents=True, exist_ok=True)
    (root / 'VOC2012' / 'JPEGImages').mkdir(parents=True, exist_ok=True)
    xml = root / 'VOC2012' / 'Annotations' / f'{stem}.xml'
    xml.write_text(SIM10K_XML.format(**values))
    cv2.imwrite(str(root / 'VOC2012' / 'JPEGImages' / f'{stem}.jpg'), np.zeros((48, 96, 3), np.uint8))
    return str(xml)


def test_sim10k_to_coco_and_cityscapes_car(tmp_path, cityscapes_root):
    sim10k = tmp_path / 'sim10k'
    # the <filename> tag is not what DA-Faster uses: the name is the XML's stem
    # (convert_sim10k_to_coco.py:127-128)
    write_sim10k(sim10k, filename='3384645.png')
    _load('sim10k').main([str(sim10k), '--cityscapes-root', str(cityscapes_root)])
    coco = json.loads((sim10k / 'annotations' / 'sim10k_car.json').read_text())
    assert coco['images'] == [dict(id=0, file_name='3384645.jpg', width=96, height=48)]
    # DA-Faster: [xmin, ymin, xmax - xmin, ymax - ymin] from the XML, no -1 (convert_sim10k_to_coco.py:169-176),
    # iscrowd=0 for every box, difficult or not (:85-86); the second box is clipped to the 96 px image.
    assert [(a['bbox'], a['iscrowd']) for a in coco['annotations']] == [([11, 6, 29, 24], 0), ([70, 20, 26, 27], 0)]
    for split in ('train', 'val'):
        car = json.loads((cityscapes_root / 'annotations' / f'cityscapes_{split}_car.json').read_text())
        assert _boxes(car) == {k: v for k, v in VISIBLE.items() if k[0] == 26}  # visible boxes there too

    dataset = CocoDataset(
        metainfo=dict(classes=('car', )),
        data_root=str(sim10k),
        ann_file='annotations/sim10k_car.json',
        data_prefix=dict(img='VOC2012/JPEGImages/'),
        pipeline=[])
    info = dataset.get_data_info(0)
    assert osp.exists(info['img_path'])
    assert [i['bbox'] for i in info['instances']] == [[11, 6, 40, 30], [70, 20, 96, 47]]

    converter = _load('sim10k')
    ignore = converter.convert_sim10k(str(sim10k), difficult='ignore')
    assert [a['iscrowd'] for a in ignore['annotations']] == [0, 1]
    assert len(converter.convert_sim10k(str(sim10k), difficult='drop')['annotations']) == 1


@pytest.mark.parametrize('case,fields,message', [
    ('nan', dict(xmin='nan'), 'not finite'),
    ('negative_width', dict(xmin=40, xmax=11), 'negative box size'),
    ('empty', dict(xmin=40, xmax=40), 'empty box'),
    ('outside', dict(xmin=200, xmax=300), 'outside'),
    ('negative_image_width', dict(width=-96), 'positive integer'),
    ('dotdot_filename', dict(filename='../../etc/passwd'), 'unsafe file name'),
    ('no_bndbox', dict(difficult_box=''), 'no <bndbox>'),
    ('not_a_number', dict(xmax='4O'), 'not a number'),
])
def test_sim10k_bad_boxes_fail_naming_the_file(tmp_path, case, fields, message):
    """The old converter accepted NaN boxes, a negative image width and ../ names, dropped
    negative/empty boxes silently, and raised a bare AttributeError without <bndbox>."""
    xml = write_sim10k(tmp_path, **fields)
    with pytest.raises(ValueError, match=re.escape(xml) + '.*' + re.escape(message)):
        _load('sim10k').convert_sim10k(str(tmp_path))


def test_sim10k_image_set_names(tmp_path):
    write_sim10k(tmp_path)
    image_set = tmp_path / 'trainval.txt'
    converter = _load('sim10k')
    image_set.write_text('3384645\n')
    assert len(converter.convert_sim10k(str(tmp_path), str(image_set))['images']) == 1
    for line in ('../../etc/passwd', '/etc/passwd', 'sub/3384645', '3384645\n3384645'):
        image_set.write_text(f'{line}\n')
        with pytest.raises(ValueError, match=re.escape(str(image_set)) + r':\d'):
            converter.convert_sim10k(str(tmp_path), str(image_set))
    image_set.write_text('3384645\n')
    (tmp_path / 'VOC2012' / 'JPEGImages' / '3384645.jpg').unlink()
    with pytest.raises(FileNotFoundError, match='3384645.jpg'):
        converter.convert_sim10k(str(tmp_path), str(image_set))


def test_sim10k_cli_exit_status_atomic_and_inputs_protected(tmp_path):
    """A NaN box: exit status 1, the XML named on stderr, the earlier output untouched; an
    output path that is an input is refused (the old converter exited 0 and overwrote it)."""
    script = osp.join(TOOLS, 'sim10k.py')
    xml = write_sim10k(tmp_path)
    out = tmp_path / 'annotations' / 'sim10k_car.json'
    ok = subprocess.run([sys.executable, script, str(tmp_path)], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    before = out.read_bytes()
    write_sim10k(tmp_path, xmin='nan')
    bad = subprocess.run([sys.executable, script, str(tmp_path)], capture_output=True, text=True)
    assert bad.returncode == 1 and xml in bad.stderr and 'Traceback' not in bad.stderr
    assert out.read_bytes() == before

    write_sim10k(tmp_path)
    xml_before = open(xml, 'rb').read()
    with pytest.raises((SystemExit, ValueError), match='input'):
        _load('sim10k').main([str(tmp_path), '-o', xml])
    assert open(xml, 'rb').read() == xml_before
    assert _no_temp_files(tmp_path)
