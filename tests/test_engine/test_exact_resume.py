"""Exact resume of the shipped toy configs (issue 12): a run resumed at iteration N ends
bit for bit where the uninterrupted 2N run ends, for DACS (segmentation), the domain-adaptive
mean teacher (detection), MoCo v2 and PAUC: weights, teachers, queues and prototypes.

Each runs the real config, shrunk to tiny sizes, through mmengine's Runner in-process: the
2N run saves a checkpoint at N, and a second runner resumes from it in another work dir.
"""
import os.path as osp
import uuid

import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner

import mmcontrast  # noqa: F401
from mmcontrast.datasets import make_toy_cls

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOY_UDA = osp.join(ROOT, 'data', 'toy_uda')


def _set_scale(node, scale):
    if isinstance(node, dict):
        if node.get('type') in ('Resize', 'RandomResize'):
            node['scale'] = scale
        for value in node.values():
            _set_scale(value, scale)
    elif isinstance(node, list):
        for value in node:
            _set_scale(value, scale)


def _common(cfg, work_dir):
    cfg.work_dir = str(work_dir)
    cfg.experiment_name = f'resume_{uuid.uuid4().hex}'
    cfg.log_level = 'WARNING'
    cfg.default_hooks.logger = dict(type='LoggerHook', interval=1)
    cfg.pop('visualizer', None)
    cfg.default_hooks.pop('visualization', None)
    return cfg


def _iter_based(cfg, iters, n, work_dir):
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=iters, val_interval=1000)
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    cfg.test_cfg = cfg.test_dataloader = cfg.test_evaluator = None
    cfg.default_hooks.checkpoint.update(interval=n, by_epoch=False, save_best=None)
    return _common(cfg, work_dir)


def dacs(work_dir, iters, n):
    cfg = Config.fromfile(osp.join(ROOT, 'configs/uda_seg/dacs_deeplabv3-r18-narrow_2k_toy-src2tgt.py'))
    cfg.model.segmentor.data_preprocessor.size = (32, 32)
    source, target = cfg.train_dataloader.dataset.source, cfg.train_dataloader.dataset.target
    source.pipeline[3].crop_size = target.pipeline[2].crop_size = (32, 32)
    source.data_root = target.data_root = TOY_UDA
    # num_workers=0: the pipeline draws from the main process's generators, the hard case
    cfg.train_dataloader.update(batch_size=2, num_workers=0, persistent_workers=False)
    cfg.custom_hooks = []
    return _iter_based(cfg, iters, n, work_dir)


def mean_teacher(work_dir, iters, n):
    config = 'configs/uda_det/mean-teacher-pcl_faster-rcnn_r18-narrow-fpn_1k_toy-src2tgt.py'
    cfg = Config.fromfile(osp.join(ROOT, config))
    _set_scale(cfg._cfg_dict, (64, 32))
    for dataset in cfg.train_dataloader.dataset.datasets:
        dataset.data_root = TOY_UDA + '/'
    cfg.train_dataloader.update(batch_size=2, num_workers=0, persistent_workers=False)
    cfg.train_dataloader.sampler.batch_size = 2
    cfg.model.semi_train_cfg.cls_pseudo_thr = 0.3  # pseudo-boxes from an untrained teacher
    cfg.custom_hooks = [dict(type='MeanTeacherHook', momentum=0.25, skip_buffer=False)]
    return _iter_based(cfg, iters, n, work_dir)


def _selfsup(path, data_root, work_dir, epochs, n):
    cfg = Config.fromfile(osp.join(ROOT, path))
    cfg.model.backbone.base_channels = 4
    cfg.model.neck.in_channels = 32
    cfg.model.queue_len = 16
    cfg.train_dataloader.batch_size = 4
    for loader in (cfg.train_dataloader, cfg.knn_bank_dataloader, cfg.knn_query_dataloader):
        loader.dataset.data_root = data_root
    for hook in cfg.custom_hooks:
        for key in ('bank_dataloader', 'query_dataloader', 'dataloader'):
            if key in hook:
                hook[key].dataset.data_root = data_root
                hook[key].batch_size = 10
        if hook['type'] == 'KNNMonitorHook':
            hook['k'] = 3
        if hook['type'] == 'PrototypeClusteringHook':
            hook.update(num_clusters=(3, 4), warmup_epochs=n - 1)
    cfg.train_cfg.max_epochs = epochs
    cfg.param_scheduler[0].update(T_max=2 * n, end=2 * n)  # the same schedule for both runs
    cfg.default_hooks.checkpoint.update(interval=n, max_keep_ckpts=-1)
    return _common(cfg, work_dir)


@pytest.fixture(scope='module')
def toy_cls(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('toy_cls'))
    make_toy_cls(root, num_train_per_class=2, num_test_per_class=1, seed=0)  # 20 images: 5 batches
    return root


def _state(runner):
    model = runner.model.module if hasattr(runner.model, 'module') else runner.model
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    for name in ('prototypes', 'assignments', 'concentrations'):  # PAUC/ProtoNCE clusters
        for i, value in enumerate(getattr(model, name, None) or []):
            state[f'{name}.{i}'] = value.detach().clone()
    return state


def _straight_and_resumed(build, tmp_path, n, ckpt_name):
    straight = Runner.from_cfg(build(tmp_path / 'straight', 2 * n))
    straight.train()
    cfg = build(tmp_path / 'resumed', 2 * n)
    cfg.resume, cfg.load_from = True, str(tmp_path / 'straight' / ckpt_name)
    resumed = Runner.from_cfg(cfg)
    resumed.train()
    assert resumed.iter == straight.iter
    return _state(straight), _state(resumed)


def _assert_bit_exact(straight, resumed, must_have):
    assert set(straight) == set(resumed)
    for key in must_have:
        assert any(k.startswith(key) for k in straight), f'no {key} in the state'
    for key, value in straight.items():
        diff = (value.double() - resumed[key].double()).abs().max()
        assert torch.equal(value, resumed[key]), f'{key}: max diff {diff}'


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # reproducible reductions, and the machine is shared
    yield
    torch.set_num_threads(threads)


@pytest.mark.slow
def test_dacs_segmentor(tmp_path):
    straight, resumed = _straight_and_resumed(lambda w, i: dacs(w, i, 2), tmp_path, 2, 'iter_2.pth')
    _assert_bit_exact(straight, resumed, ['student.', 'teacher.module.', 'teacher.steps'])


@pytest.mark.slow
def test_domain_adaptive_teacher(tmp_path):
    straight, resumed = _straight_and_resumed(lambda w, i: mean_teacher(w, i, 2), tmp_path, 2, 'iter_2.pth')
    _assert_bit_exact(straight, resumed, ['student.', 'teacher.'])


@pytest.mark.slow
def test_mocov2(tmp_path, toy_cls):
    path = 'configs/selfsup/mocov2/mocov2_resnet18-w16_1xb64-coslr-6e_toycls.py'
    straight, resumed = _straight_and_resumed(lambda w, e: _selfsup(path, toy_cls, w, e, 1), tmp_path, 1, 'epoch_1.pth')
    _assert_bit_exact(straight, resumed, ['queue', 'queue_ptr', 'backbone.', 'momentum_encoder.'])


@pytest.mark.slow
def test_pauc(tmp_path, toy_cls):
    path = 'configs/selfsup/pauc/pauc_resnet18-w16_1xb64-coslr-6e_toycls.py'
    straight, resumed = _straight_and_resumed(lambda w, e: _selfsup(path, toy_cls, w, e, 1), tmp_path, 1, 'epoch_1.pth')
    _assert_bit_exact(straight, resumed, ['queue', 'prototypes.1', 'assignments.1', 'concentrations.0'])
