"""Fixtures of the UDA detection tests: a tiny Faster R-CNN and fabricated batches."""
import numpy as np
import pytest
import torch
from mmdet.structures import DetDataSample
from mmengine.hub import get_config
from mmengine.registry import init_default_scope
from mmengine.structures import InstanceData

NUM_CLASSES = 2
IMG = 64


@pytest.fixture(autouse=True)
def _mmdet_scope():
    init_default_scope('mmdet')


@pytest.fixture(scope='session')
def tiny_detector() -> dict:
    """mmdet's faster-rcnn_r50_fpn with a ResNet-18 of width 8 and 2 classes, no pretrained weights."""
    cfg = get_config('mmdet::_base_/models/faster-rcnn_r50_fpn.py').model.to_dict()
    cfg['backbone'].update(depth=18, base_channels=8, frozen_stages=-1, norm_eval=False, init_cfg=None)
    cfg['neck'].update(in_channels=[8, 16, 32, 64], out_channels=16)
    cfg['rpn_head'].update(in_channels=16, feat_channels=16)
    cfg['roi_head']['bbox_roi_extractor']['out_channels'] = 16
    cfg['roi_head']['bbox_head'].update(in_channels=16, fc_out_channels=32, num_classes=NUM_CLASSES)
    cfg['train_cfg']['rpn_proposal'].update(nms_pre=200, max_per_img=100)
    cfg['train_cfg']['rcnn']['sampler']['num'] = 64
    cfg['test_cfg']['rpn'].update(nms_pre=200, max_per_img=100)
    return cfg


def _sample(homography: np.ndarray, with_boxes: bool) -> DetDataSample:
    sample = DetDataSample(
        metainfo=dict(
            img_shape=(IMG, IMG),
            ori_shape=(IMG, IMG),
            pad_shape=(IMG, IMG),
            batch_input_shape=(IMG, IMG),
            scale_factor=(1.0, 1.0),
            homography_matrix=homography.astype(np.float32)))
    instances = InstanceData()
    if with_boxes:
        instances.bboxes = torch.tensor([[4., 6., 30., 40.], [34., 20., 60., 50.]])
        instances.labels = torch.tensor([0, 1])
    else:
        instances.bboxes = torch.zeros(0, 4)
        instances.labels = torch.zeros(0, dtype=torch.long)
    sample.gt_instances = instances
    return sample


@pytest.fixture
def make_batch():
    """Factory of a multi-branch batch: 2 source and 2 target images of 64x64.

    ``strong_homography`` is the strong view's homography (the weak view is the
    identity), so tests control how boxes move between the views.
    """

    def factory(strong_homography: np.ndarray = None, seed: int = 0):
        strong_homography = np.eye(3) if strong_homography is None else strong_homography
        gen = torch.Generator().manual_seed(seed)
        inputs = {k: torch.randn(2, 3, IMG, IMG, generator=gen) for k in ('sup', 'unsup_teacher')}
        inputs['unsup_student'] = inputs['unsup_teacher'] + 0.1 * torch.randn(2, 3, IMG, IMG, generator=gen)
        samples = dict(
            sup=[_sample(np.eye(3), True) for _ in range(2)],
            unsup_teacher=[_sample(np.eye(3), False) for _ in range(2)],
            unsup_student=[_sample(strong_homography, False) for _ in range(2)])
        return inputs, samples

    return factory
