"""Training the toy mean teacher + PCL config end to end: resume restores the teacher, and a
2-process gloo run (tools/train.py --launcher pytorch) works on CPU."""
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
    # eval-mode teacher, BN buffers averaged too: every floating tensor of the teacher follows the EMA,
    # which test_resume_restores_teacher checks (the toy default's target-BN teacher keeps its own buffers)
    cfg.model.semi_train_cfg.teacher_bn_stats = 'running'
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
    """2 gloo ranks through tools/train.py keep identical students and teachers, and tools/test.py
    on 2 ranks predicts exactly what 1 process predicts for the checkpoint."""
    import pickle
    import socket
    sys.path.insert(0, osp.join(REPO, 'tests', 'test_engine'))
    try:
        import rank_state_dump
    finally:
        sys.path.pop(0)

    def port():
        with socket.socket() as sock:
            sock.bind(('127.0.0.1', 0))
            return str(sock.getsockname()[1])

    work = tmp_path / 'work'
    cfg = tiny_config(str(work), max_iters=2)
    rank_state_dump.use_in(cfg)
    full = Config.fromfile(CONFIG)
    _set_scale(full._cfg_dict, (128, 64))
    cfg.test_dataloader = full.test_dataloader
    cfg.test_dataloader.update(num_workers=0, persistent_workers=False)
    cfg.test_dataloader.dataset.update(data_root=osp.join(REPO, 'data', 'toy_uda') + '/', indices=8)
    cfg.test_evaluator = dict(type='CocoMetric', ann_file=osp.join(REPO, 'data/toy_uda/annotations/target_val.json'),
                              metric='bbox')
    cfg.test_cfg = dict(type='TestLoop')
    cfg_path = tmp_path / 'config.py'
    cfg.dump(str(cfg_path))
    env = dict(os.environ, OMP_NUM_THREADS='1',
               PYTHONPATH=os.pathsep.join([REPO, osp.join(REPO, 'tests', 'test_engine')]))

    def run(cmd):
        # the working directory is tmp_path: distributed evaluation writes .dist_test/ there
        proc = subprocess.run(cmd, cwd=str(tmp_path), env=env, capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        return proc.stdout + proc.stderr

    torchrun = [sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node', '2']
    log = run(torchrun + ['--master_port', port(), osp.join(REPO, 'tools', 'train.py'), str(cfg_path), '--launcher',
                          'pytorch', '--work-dir', str(work)])
    assert 'unsup_loss_pcl' in log
    ckpt = torch.load(work / 'iter_2.pth', map_location='cpu', weights_only=True)
    assert ckpt['rng_state']['world_size'] == 2

    # DDP: both ranks end with the same student parameters, so the EMA teachers agree too
    ranks = rank_state_dump.load_ranks(str(work))
    params = ranks[0]['params']
    assert any(p.startswith('student.') for p in params) and any(p.startswith('teacher.') for p in params)
    for name in params:
        assert torch.equal(ranks[0]['state'][name], ranks[1]['state'][name]), name
        assert torch.equal(ranks[0]['state'][name], ckpt['state_dict'][name]), name
    moved = [n for n in params if n.startswith('student.') and not torch.equal(
        ckpt['state_dict'][n], ckpt['state_dict']['teacher.' + n[len('student.'):]])]
    assert moved, 'the teacher equals the student: no EMA step or no training step happened'

    # 2 ranks (each predicts half the images, gathered in dataset order) = 1 process
    outs = {}
    for name, launcher in (('one', [sys.executable]), ('two', torchrun + ['--master_port', port()])):
        outs[name] = str(tmp_path / f'{name}.pkl')
        run(launcher + [osp.join(REPO, 'tools', 'test.py'), str(cfg_path), str(work / 'iter_2.pth'), '--out',
                        outs[name], '--work-dir', str(tmp_path / f'test_{name}')] +
            (['--launcher', 'pytorch'] if name == 'two' else []))
    with open(outs['one'], 'rb') as f:
        one = pickle.load(f)
    with open(outs['two'], 'rb') as f:
        two = pickle.load(f)
    assert len(one) == len(two) == 8
    assert sum(len(r['pred_instances']['scores']) for r in one) > 0
    for a, b in zip(one, two):
        assert a['img_id'] == b['img_id']
        for key in ('bboxes', 'scores', 'labels'):
            torch.testing.assert_close(b['pred_instances'][key], a['pred_instances'][key], rtol=1e-5, atol=1e-4)
