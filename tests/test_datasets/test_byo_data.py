"""Bring your own data: the configs of docs/byo_data.md load, build and train on fabricated folders.

The configs are read from the doc itself; only the fragment path (relative in the doc) and the
data folders are pointed at this checkout and a temporary directory. For CPU speed the test
then shrinks the stock networks and crops (widths, depths, image sizes), as a user would not.
"""
import json
import os
import os.path as osp
import re

import cv2
import numpy as np
import pytest
from mmengine.config import Config
from mmengine.runner import Runner

from mmcontrast.datasets import mean_teacher_pipelines, unlabelled_pipeline

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DOC = osp.join(ROOT, 'docs', 'byo_data.md')


def _doc_config(marker: str) -> str:
    text = open(DOC).read()
    match = re.search(rf'<!-- {marker}[^>]*-->\s*```python\n(.*?)```', text, re.S)
    assert match, f'no config block after <!-- {marker} --> in {DOC}'
    return match.group(1)


def _write_config(tmp_path, marker: str, folders: dict) -> str:
    text = _doc_config(marker).replace("'../_base_/uda/byo/", f"'{ROOT}/configs/_base_/uda/byo/")
    for name, path in folders.items():
        text = text.replace(f"'data/{name}", f"'{path}")
    path = str(tmp_path / f'{marker}.py')
    with open(path, 'w') as f:
        f.write(text)
    return path


def _image(rng, h=64, w=128):
    return rng.integers(0, 255, (h, w, 3), dtype=np.uint8)


def _seg_folders(root):
    rng = np.random.default_rng(0)
    layout = {'my_synthetic/images': 3, 'my_real/images/train': 3, 'my_real/images/val': 2}
    for folder, n in layout.items():
        os.makedirs(osp.join(root, folder), exist_ok=True)
        for i in range(n):
            cv2.imwrite(osp.join(root, folder, f'{i:04d}.png'), _image(rng))
            label_dir = {'my_synthetic/images': 'my_synthetic/labels', 'my_real/images/val': 'my_real/labels/val'}
            if folder in label_dir:
                os.makedirs(osp.join(root, label_dir[folder]), exist_ok=True)
                label = np.repeat(np.repeat(rng.integers(0, 19, (8, 16), dtype=np.uint8), 8, 0), 8, 1)
                cv2.imwrite(osp.join(root, label_dir[folder], f'{i:04d}_labelTrainIds.png'), label)


def _coco(path, n, rng, with_boxes=True):
    images, annotations = [], []
    os.makedirs(osp.join(osp.dirname(path), 'images'), exist_ok=True)
    for i in range(n):
        name = f'{osp.basename(path)[:-5]}_{i}.jpg'
        cv2.imwrite(osp.join(osp.dirname(path), 'images', name), _image(rng))
        images.append(dict(id=i + 1, file_name=name, height=64, width=128))
        if with_boxes:
            for k in range(2):
                x, y = int(rng.integers(0, 80)), int(rng.integers(0, 30))
                annotations.append(dict(id=len(annotations) + 1, image_id=i + 1, category_id=1, bbox=[x, y, 40, 30],
                                        area=1200, iscrowd=0))
    with open(path, 'w') as f:
        json.dump(dict(images=images, annotations=annotations, categories=[dict(id=1, name='car')]), f)


def _det_folders(root):
    rng = np.random.default_rng(1)
    for sub in ('my_source', 'my_target'):
        os.makedirs(osp.join(root, sub), exist_ok=True)
    _coco(osp.join(root, 'my_source', 'train.json'), 4, rng)
    _coco(osp.join(root, 'my_target', 'train.json'), 4, rng, with_boxes=False)  # unlabelled
    _coco(osp.join(root, 'my_target', 'val.json'), 2, rng)


def _runtime_for_test(cfg, work_dir):
    cfg.work_dir = work_dir
    cfg.train_cfg.max_iters = 1
    cfg.train_cfg.val_interval = 1
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[loader].num_workers = 0
        cfg[loader].persistent_workers = False
    cfg.default_hooks.logger.interval = 1


def _set(pipeline, name, **kwargs):
    for t in pipeline:
        if t['type'] == name:
            t.update(kwargs)


def _count_lines(marker):
    return len([line for line in _doc_config(marker).splitlines() if line.strip()])


def test_documented_configs_are_short():
    assert _count_lines('byo-seg-config') <= 10
    assert _count_lines('byo-det-config') <= 10


def test_target_pipeline_drops_what_reads_labels():
    stock = [dict(type='LoadImageFromFile'), dict(type='LoadAnnotations'),
             dict(type='RandomCrop', crop_size=(8, 8), cat_max_ratio=0.75), dict(type='PackSegInputs')]
    pipeline, changes = unlabelled_pipeline(stock)
    assert [t['type'] for t in pipeline] == ['LoadImageFromFile', 'RandomCrop', 'PackSegInputs']
    assert pipeline[1]['cat_max_ratio'] == 1. and len(changes) == 2
    assert stock[2]['cat_max_ratio'] == 0.75  # the stock config is not modified


def test_mean_teacher_pipelines_from_a_stock_pipeline():
    stock = [dict(type='LoadImageFromFile'), dict(type='LoadAnnotations', with_bbox=True),
             dict(type='Resize', scale=(1333, 800), keep_ratio=True), dict(type='RandomFlip', prob=0.5),
             dict(type='PackDetInputs')]
    source, target = mean_teacher_pipelines(stock)
    assert [t['type'] for t in source] == ['LoadImageFromFile', 'LoadAnnotations', 'Resize', 'RandomFlip',
                                           'MultiBranch']
    assert source[-1]['sup'] == dict(type='PackDetInputs')
    assert [t['type'] for t in target] == ['LoadImageFromFile', 'LoadEmptyAnnotations', 'MultiBranch']
    weak, strong = target[-1]['unsup_teacher'], target[-1]['unsup_student']
    assert [t['type'] for t in weak] == ['Resize', 'RandomFlip', 'PackDetInputs']
    assert [t['type'] for t in strong] == ['Resize', 'RandomFlip', 'RandAugment', 'RandomErasing',
                                           'FilterAnnotations', 'PackDetInputs']
    assert 'homography_matrix' in weak[-1]['meta_keys']
    with pytest.raises(ValueError, match='must end with PackDetInputs'):
        mean_teacher_pipelines(stock[:-1])


@pytest.mark.slow
def test_byo_segmentation_config_trains_and_exports(tmp_path):
    data = str(tmp_path / 'data')
    _seg_folders(data)
    path = _write_config(tmp_path, 'byo-seg-config',
                         {'my_synthetic': f'{data}/my_synthetic', 'my_real': f'{data}/my_real'})
    cfg = Config.fromfile(path)
    assert cfg.model.type == 'mmcontrast.DACSSegmentor' and cfg.model.segmentor.type == 'EncoderDecoder'
    assert cfg.train_dataloader.dataset.type == 'mmcontrast.UDADataset'
    # Shrink the stock MiT-B5 and its 1024 crops for the CPU.
    seg = cfg.model.segmentor
    seg.backbone.update(init_cfg=None, embed_dims=8, num_layers=[1, 1, 1, 1])
    seg.decode_head.update(in_channels=[8, 16, 40, 64], channels=16)
    seg.data_preprocessor.size = (64, 64)
    seg.test_cfg.update(crop_size=(64, 64), stride=(48, 48))
    _set(cfg.train_dataloader.dataset.pipeline, 'RandomResize', scale=(128, 64))
    _set(cfg.train_dataloader.dataset.pipeline, 'RandomCrop', crop_size=(64, 64))
    _set(cfg.val_dataloader.dataset.pipeline, 'Resize', scale=(128, 64))
    cfg.test_dataloader = cfg.val_dataloader
    _runtime_for_test(cfg, str(tmp_path / 'work'))
    runner = Runner.from_cfg(cfg)
    uda = runner.train_dataloader.dataset
    assert 'LoadAnnotations' in [type(t).__name__ for t in uda.source.pipeline.transforms]
    assert 'LoadAnnotations' not in [type(t).__name__ for t in uda.target.pipeline.transforms]
    runner.train()
    assert 'val/mIoU' in runner.message_hub.log_scalars, sorted(runner.message_hub.log_scalars)
    # The trained checkpoint goes to stock mmseg inference.
    from mmseg.apis import inference_model, init_model

    from mmcontrast.apis import export_uda_model
    cfg.dump(str(tmp_path / 'trained.py'))
    out = export_uda_model(str(tmp_path / 'trained.py'), str(tmp_path / 'work' / 'iter_1.pth'), str(tmp_path / 'out'))
    model = init_model(out.config, out.checkpoint, device='cpu')
    result = inference_model(model, osp.join(data, 'my_real/images/val/0000.png'))
    assert result.pred_sem_seg.data.shape == (1, 64, 128)
    assert len(model.dataset_meta['classes']) == 19


@pytest.mark.slow
def test_byo_detection_config_trains(tmp_path):
    data = str(tmp_path / 'data')
    _det_folders(data)
    path = _write_config(tmp_path, 'byo-det-config',
                         {'my_source': f'{data}/my_source', 'my_target': f'{data}/my_target'})
    cfg = Config.fromfile(path)
    assert cfg.model.type == 'mmcontrast.DomainAdaptiveTeacher'
    assert cfg.model.detector.roi_head.bbox_head.num_classes == 1
    assert cfg.train_cfg.type == 'IterBasedTrainLoop' and cfg.val_cfg.type == 'mmcontrast.LabelledTeacherStudentValLoop'
    assert cfg.train_dataloader.batch_sampler is None
    cfg.model.detector.backbone.init_cfg = None  # no ImageNet download
    cfg.model.semi_train_cfg.burn_in_iters = 0  # the target branch runs in the one iteration
    _set(cfg.train_dataloader.dataset.pipeline, 'Resize', scale=(128, 64))
    _set(cfg.val_dataloader.dataset.pipeline, 'Resize', scale=(128, 64))
    cfg.test_dataloader = cfg.val_dataloader
    _runtime_for_test(cfg, str(tmp_path / 'work'))
    runner = Runner.from_cfg(cfg)
    dataset = runner.train_dataloader.dataset
    assert type(dataset).__name__ == 'UDADetDataset' and dataset.cumulative_sizes == [4, 8]
    runner.train()
    hub = runner.message_hub
    assert 'train/sup_loss_cls' in hub.log_scalars and 'train/unsup_loss_cls' in hub.log_scalars
    assert any(k.startswith('val/teacher/') for k in hub.log_scalars)
