"""Stock mmdet detector configs (``mmdet::``) shrunk for CPU tests, and fabricated multi-branch batches.

Each factory loads a config mmdet ships in its installed ``.mim/configs``, drops pretrained weights,
turns SyncBN into BN and shrinks the network to a ResNet-18 of width 8 (or a CSPNeXt of width 1/16),
16-channel necks and heads and 2 classes.
"""
import copy
from pathlib import Path
from typing import Dict, List, Tuple

import numpy as np
import torch
from mmdet.structures import DetDataSample
from mmdet.structures.mask import BitmapMasks
from mmengine.config import Config, ConfigDict
from mmengine.structures import InstanceData
from mmengine.utils import get_installed_path

NUM_CLASSES = 2
IMG = 64
WIDTHS = [8, 16, 32, 64]  # ResNet-18 with base_channels 8


def fromfile(path: str) -> Config:
    """``Config.fromfile`` that also takes ``mmdet::<config>`` (mmengine 0.10.7 resolves that prefix in
    ``_base_`` only): the configs mmdet ships in its installed ``.mim/configs``."""
    if path.startswith('mmdet::'):
        path = str(Path(get_installed_path('mmdet')) / '.mim' / 'configs' / path[len('mmdet::'):])
    return Config.fromfile(path)


def _sync_bn_to_bn(cfg):
    if isinstance(cfg, dict):
        if cfg.get('type') == 'SyncBN':
            cfg['type'] = 'BN'
        for value in cfg.values():
            _sync_bn_to_bn(value)
    elif isinstance(cfg, (list, tuple)):
        for value in cfg:
            _sync_bn_to_bn(value)
    return cfg


def load(path: str) -> ConfigDict:
    model = copy.deepcopy(fromfile(path).model)
    model.backbone.init_cfg = None
    return _sync_bn_to_bn(model)


def _tiny_resnet_fpn(model: ConfigDict, **neck) -> ConfigDict:
    model.backbone.update(depth=18, base_channels=8, frozen_stages=-1, norm_eval=False)
    model.neck.update(in_channels=WIDTHS, out_channels=16, **neck)
    return model


def _tiny_two_stage(model: ConfigDict) -> ConfigDict:
    model = _tiny_resnet_fpn(model)
    model.rpn_head.update(in_channels=16, feat_channels=16)
    roi = model.roi_head
    roi.bbox_roi_extractor.out_channels = 16
    heads = roi.bbox_head if isinstance(roi.bbox_head, list) else [roi.bbox_head]
    for head in heads:
        head.update(in_channels=16, fc_out_channels=32, num_classes=NUM_CLASSES)
    if roi.get('mask_head'):
        roi.mask_roi_extractor.out_channels = 16
        roi.mask_head.update(in_channels=16, conv_out_channels=16, num_classes=NUM_CLASSES)
    model.train_cfg.rpn_proposal.update(nms_pre=200, max_per_img=100)
    rcnn = model.train_cfg.rcnn if isinstance(model.train_cfg.rcnn, list) else [model.train_cfg.rcnn]
    for stage in rcnn:
        stage.sampler.num = 64
    model.test_cfg.rpn.update(nms_pre=200, max_per_img=100)
    model.test_cfg.rcnn.max_per_img = 20
    return model


def _dense_test_cfg(model: ConfigDict) -> ConfigDict:
    # An untrained dense head scores about 0.01 (prior bias): keep a few such boxes as predictions.
    model.test_cfg.update(score_thr=0.0, nms_pre=200, max_per_img=10)
    return model


def faster_rcnn() -> ConfigDict:
    return _tiny_two_stage(load('mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py'))


def cascade_rcnn() -> ConfigDict:
    return _tiny_two_stage(load('mmdet::cascade_rcnn/cascade-rcnn_r50_fpn_1x_coco.py'))


def mask_rcnn() -> ConfigDict:
    return _tiny_two_stage(load('mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py'))


def retinanet() -> ConfigDict:
    model = _tiny_resnet_fpn(load('mmdet::retinanet/retinanet_r50_fpn_1x_coco.py'))
    model.bbox_head.update(in_channels=16, feat_channels=16, stacked_convs=1, num_classes=NUM_CLASSES)
    return _dense_test_cfg(model)


def fcos() -> ConfigDict:
    model = _tiny_resnet_fpn(load('mmdet::fcos/fcos_r50-caffe_fpn_gn-head_1x_coco.py'))
    model.bbox_head.update(
        in_channels=16,
        feat_channels=16,
        stacked_convs=1,
        num_classes=NUM_CLASSES,
        norm_cfg=dict(type='GN', num_groups=4, requires_grad=True))
    return _dense_test_cfg(model)


def atss() -> ConfigDict:
    model = _tiny_resnet_fpn(load('mmdet::atss/atss_r50_fpn_1x_coco.py'))
    model.bbox_head.update(
        in_channels=16,
        feat_channels=16,
        stacked_convs=1,
        num_classes=NUM_CLASSES,
        norm_cfg=dict(type='GN', num_groups=4, requires_grad=True))
    return _dense_test_cfg(model)


def rtmdet() -> ConfigDict:
    model = load('mmdet::rtmdet/rtmdet_tiny_8xb32-300e_coco.py')
    model.backbone.update(widen_factor=0.0625)  # stage outputs 16/32/64
    model.neck.update(in_channels=[16, 32, 64], out_channels=16)
    model.bbox_head.update(in_channels=16, feat_channels=16, stacked_convs=1, num_classes=NUM_CLASSES)
    return _dense_test_cfg(model)


# ------------------------------------------------------------------ batches
def _sample(homography: np.ndarray, boxes: bool, masks: bool) -> DetDataSample:
    sample = DetDataSample(
        metainfo=dict(
            img_shape=(IMG, IMG),
            ori_shape=(IMG, IMG),
            scale_factor=(1.0, 1.0),
            flip=False,
            flip_direction=None,
            homography_matrix=homography.astype(np.float32)))
    instances = InstanceData()
    if boxes:
        instances.bboxes = torch.tensor([[4., 6., 30., 40.], [34., 20., 60., 50.]])
        instances.labels = torch.tensor([0, 1])
        if masks:
            bitmap = np.zeros((2, IMG, IMG), dtype=np.uint8)
            bitmap[0, 6:40, 4:30] = 1
            bitmap[1, 20:50, 34:60] = 1
            instances.masks = BitmapMasks(bitmap, IMG, IMG)
    else:
        instances.bboxes = torch.zeros(0, 4)
        instances.labels = torch.zeros(0, dtype=torch.long)
    sample.gt_instances = instances
    return sample


def raw_batch(seed: int = 0,
              masks: bool = False,
              strong_homography: np.ndarray = None,
              source_branches: Tuple[str, ...] = ('sup', )) -> Dict[str, dict]:
    """A dataloader-style multi-branch batch (uint8 images): 2 source and 2 target images of 64x64.

    The strong target view is the weak one with noise; ``strong_homography`` (default: the
    identity) says how boxes move from the weak view (identity) to it.
    """
    strong_homography = np.eye(3) if strong_homography is None else strong_homography
    gen = torch.Generator().manual_seed(seed)

    def images() -> List[torch.Tensor]:
        return [torch.randint(0, 256, (3, IMG, IMG), dtype=torch.uint8, generator=gen) for _ in range(2)]

    inputs = {branch: images() for branch in source_branches}
    inputs['unsup_teacher'] = images()
    inputs['unsup_student'] = [(x.int() + torch.randint(-8, 9, x.shape, generator=gen)).clamp(0, 255).byte()
                               for x in inputs['unsup_teacher']]
    samples = {branch: [_sample(np.eye(3), True, masks) for _ in range(2)] for branch in source_branches}
    samples['unsup_teacher'] = [_sample(np.eye(3), False, False) for _ in range(2)]
    samples['unsup_student'] = [_sample(strong_homography, False, False) for _ in range(2)]
    return dict(inputs=inputs, data_samples=samples)


def predict_input(seed: int = 7) -> dict:
    img = torch.randint(0, 256, (3, IMG, IMG), dtype=torch.uint8, generator=torch.Generator().manual_seed(seed))
    sample = DetDataSample(metainfo=dict(img_shape=(IMG, IMG), ori_shape=(IMG, IMG), scale_factor=(1.0, 1.0)))
    return dict(inputs=[img], data_samples=[sample])
