"""Validation of a UDA detector logs per-class AP50 for the teacher and for the student, each table labelled."""
import logging
import os.path as osp
import re

import pytest
import torch
from mmengine.config import Config
from mmengine.logging import MMLogger
from mmengine.runner import Runner

from mmcontrast.datasets.toy_uda import ensure_toy_uda

REPO = osp.abspath(osp.join(osp.dirname(__file__), '..', '..', '..'))
CONFIG = osp.join(REPO, 'configs', 'uda_det', 'mean-teacher_faster-rcnn_r18-narrow-fpn_1k_toy-src2tgt.py')


@pytest.fixture(scope='module')
def toy_root(tmp_path_factory):
    return ensure_toy_uda(str(tmp_path_factory.mktemp('toy') / 'toy_uda'), num_train=2, num_val=2)


class _Records(logging.Handler):

    def __init__(self):
        super().__init__()
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


def test_teacher_and_student_per_class_tables(tmp_path, toy_root):
    torch.set_num_threads(1)
    cfg = Config.fromfile(CONFIG)
    cfg.val_dataloader.dataset.data_root = toy_root + '/'
    cfg.val_dataloader.update(num_workers=0, persistent_workers=False, batch_size=2)
    cfg.val_evaluator.ann_file = osp.join(toy_root, 'annotations', 'target_val.json')
    cfg.train_dataloader = cfg.train_cfg = cfg.optim_wrapper = cfg.param_scheduler = None
    cfg.test_dataloader = cfg.test_cfg = cfg.test_evaluator = None
    cfg.work_dir = str(tmp_path)
    cfg.default_hooks.checkpoint = None  # validation only: nothing to save
    # An untrained detector scores about 1/3 per class: let it output boxes so the tables have numbers.
    cfg.model.detector.test_cfg.rcnn.score_thr = 0.0
    runner = Runner.from_cfg(cfg)
    records = _Records()
    MMLogger.get_current_instance().addHandler(records)
    try:
        runner.val()  # mmdet's TeacherStudentValLoop logs its metrics and returns None
    finally:
        MMLogger.get_current_instance().removeHandler(records)
    text = '\n'.join(records.messages)
    teacher = text.index('per-class results of the teacher (EMA of the student) on ToyUDACocoDataset')
    student = text.index('per-class results of the student (the trained network) on ToyUDACocoDataset')
    assert teacher < student
    for start, end in ((teacher, student), (student, len(text))):
        table = text[start:end]
        # CocoMetric(classwise=True): a row per class with its AP50 column
        assert re.search(r'\|\s*category\s*\|\s*mAP\s*\|\s*mAP_50\s*\|', table), table
        assert re.search(r'\|\s*person\s*\|', table) and re.search(r'\|\s*car\s*\|', table), table
    for model in ('teacher', 'student'):
        for key in ('bbox_mAP_50', 'person_precision', 'car_precision'):
            assert f'{model}/coco/{key}:' in text
