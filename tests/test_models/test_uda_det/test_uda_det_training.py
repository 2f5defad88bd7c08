"""Training the toy mean teacher + PCL config end to end: resume restores the teacher, and a
2-process gloo run (tools/train.py --launcher pytorch) works on CPU."""
import copy
import os
import os.path as osp
import subprocess
import sys

import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner

REPO = osp.abspath(osp.join(osp.dirname(__file__), '..', '..', '..'))
CONFIG = osp.join(REPO, 'configs', 'uda_det', 'mean-teacher-pcl_faster-rcnn_r18-narrow-fpn_1k_toy-src2tgt.py')
MOMENTUM = 0.25


def _set_scale(node, scale):
    if isinstance(node, dict):
        if node.get('type') in ('Resize', 'RandomResize'):
            node['scale'] = scale
        for value in node.values():
            _set_scale(value, scale)
    elif isinstance(node, list):
        for value in node:
            _set_scale(value, scale)


def tiny_config(work_dir: str, max_iters: int) -> Config:
    """The toy PCL config at 128x64, 1 source + 1 target image per batch, no validation."""
    cfg = Config.fromfile(CONFIG)
    _set_scale(cfg._cfg_dict, (128, 64))
    for dataset in cfg.train_dataloader.dataset.datasets:
        dataset.data_root = osp.join(REPO, 'data', 'toy_uda')
    cfg.train_dataloader.update(batch_size=2, num_workers=0, persistent_workers=False)
    cfg.train_dataloader.sampler.batch_size = 2
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=1000)
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    cfg.test_cfg = cfg.test_dataloader = cfg.test_evaluator = None
    cfg.param_scheduler = []
    # a low threshold gives pseudo-boxes even from an untrained teacher
    cfg.model.semi_train_cfg.cls_pseudo_thr = 0.3
    cfg.custom_hooks = [dict(type='MeanTeacherHook', momentum=MOMENTUM, skip_buffer=False)]
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', by_epoch=False, interval=2)
    cfg.default_hooks.logger = dict(type='LoggerHook', interval=1)
    cfg.default_hooks.visualization = dict(type='DetVisualizationHook')
    cfg.work_dir = work_dir
    return cfg


def _state(module):
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def test_resume_restores_teacher(tmp_path):
    torch.set_num_threads(1)
    runner = Runner.from_cfg(tiny_config(str(tmp_path), max_iters=2))
    runner.train()
    teacher, student = _state(runner.model.teacher), _state(runner.model.student)
    assert any(not torch.equal(teacher[k], student[k]) for k in teacher if teacher[k].is_floating_point())

    cfg = tiny_config(str(tmp_path), max_iters=3)
    cfg.resume, cfg.load_from = True, osp.join(str(tmp_path), 'iter_2.pth')
    resumed = Runner.from_cfg(cfg)
    resumed.train()  # resumes at iter 2 and runs iteration 3
    assert resumed.iter == 3
    # after one more EMA step the teacher is (1 - m) * saved teacher + m * new student:
    # it continued from the checkpointed teacher, not from a fresh copy of the student
    new_student = _state(resumed.model.student)
    for key, value in resumed.model.teacher.state_dict().items():
        if value.is_floating_point():
            expected = (1 - MOMENTUM) * teacher[key] + MOMENTUM * new_student[key]
            torch.testing.assert_close(value, expected, rtol=1e-4, atol=1e-5, msg=key)


@pytest.mark.dist
@pytest.mark.slow
def test_two_process_gloo_training(tmp_path):
    cfg_path = tmp_path / 'config.py'
    tiny_config(str(tmp_path / 'work'), max_iters=2).dump(str(cfg_path))
    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHONPATH=REPO)
    cmd = [
        sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node', '2', '--master_port', '29561',
        osp.join(REPO, 'tools', 'train.py'),
        str(cfg_path), '--launcher', 'pytorch', '--work-dir', str(tmp_path / 'work')
    ]
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert osp.exists(tmp_path / 'work' / 'iter_2.pth')
    log = proc.stdout + proc.stderr
    assert 'Distributed training: True' in log and 'GPU number: 2' in log  # mmengine's env summary
    assert 'unsup_loss_pcl' in log
    state = torch.load(tmp_path / 'work' / 'iter_2.pth', map_location='cpu', weights_only=True)['state_dict']
    assert any(k.startswith('teacher.') for k in state) and any(k.startswith('student.') for k in state)
