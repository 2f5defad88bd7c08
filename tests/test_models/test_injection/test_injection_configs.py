"""The injection configs: stock mmdet/mmseg models, untouched, train with the injected terms.

Each config is trained for 2 iterations on the toy benchmark with a dataset override
(small images) and, to stay fast on CPU, the overrides a user would pass as
--cfg-options: no pretrained download, a ResNet-18 in place of the ResNet-50.
"""
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.hub import get_config
from mmengine.runner import Runner

from mmcontrast.datasets.toy_uda import ensure_toy_uda

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))


def _runtime(cfg: Config, work_dir: str, iters: int = 2) -> Config:
    cfg.work_dir = work_dir
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=iters, val_interval=iters + 1)
    cfg.val_dataloader = cfg.val_evaluator = cfg.val_cfg = None
    cfg.test_dataloader = cfg.test_evaluator = cfg.test_cfg = None
    cfg.param_scheduler = []
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=iters + 1, save_last=False)
    cfg.default_hooks.logger = dict(type='LoggerHook', interval=1)
    cfg.default_hooks.pop('visualization', None)
    cfg.log_level = 'WARNING'
    cfg.randomness = dict(seed=0)
    return cfg


@pytest.fixture(scope='module')
def toy_root(tmp_path_factory) -> str:
    """A private, tiny copy of the toy benchmark (4 train images per domain)."""
    return ensure_toy_uda(str(tmp_path_factory.mktemp('toy') / 'toy_uda'), num_train=4, num_val=2)


def _toy_loader(dataset_cfg: str, pipeline: list, root: str) -> dict:
    toy = Config.fromfile(osp.join(ROOT, 'configs/_base_/datasets', dataset_cfg))
    dataset = dict(toy.source_train, data_root=root, pipeline=pipeline)
    return dict(batch_size=2, num_workers=0, persistent_workers=False,
                sampler=dict(type='InfiniteSampler', shuffle=True), dataset=dataset)


def _stock(model_cfg) -> dict:
    model_cfg = model_cfg.to_dict()
    model_cfg.pop('_scope_', None)
    return model_cfg


def _train(cfg: Config) -> Runner:
    torch.manual_seed(0)
    runner = Runner.from_cfg(cfg)
    runner.train()
    return runner


@pytest.mark.slow
def test_faster_rcnn_r50_coco_config_trains_with_supcon(tmp_path, toy_root):
    cfg = Config.fromfile(osp.join(ROOT, 'configs/injection/supcon-injected_faster-rcnn_r50_fpn_1x_coco.py'))
    stock = get_config('mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py')
    # The wrapped model is exactly the stock one (mmengine tags configs from mmdet:: with _scope_).
    assert _stock(cfg.model.model) == _stock(stock.model)
    cfg.merge_from_dict({
        'model.model.backbone.init_cfg': None,
        'model.model.backbone.depth': 18,
        'model.model.neck.in_channels': [64, 128, 256, 512],
    })
    pipeline = [
        dict(type='LoadImageFromFile'),
        dict(type='LoadAnnotations', with_bbox=True),
        dict(type='Resize', scale=(256, 128), keep_ratio=True),
        dict(type='PackDetInputs'),
    ]
    cfg.train_dataloader = _toy_loader('toy_uda_det.py', pipeline, toy_root)
    cfg.custom_hooks[0].warmup_iters = 4
    runner = _train(_runtime(cfg, str(tmp_path)))
    hub = runner.message_hub
    assert torch.isfinite(torch.tensor(hub.get_scalar('train/loss_supcon').current()))
    assert hub.get_scalar('train/loss').current() > 0
    # linear warm-up over 4 iterations: the second iteration ran at 1/4 of 0.1
    assert hub.get_scalar('train/terms_supcon_loss_loss_weight').current() == pytest.approx(0.025)
    # after training the configured weight is back in place
    assert runner.model.terms.supcon.loss.loss_weight == pytest.approx(0.1)


@pytest.mark.slow
def test_deeplabv3_cityscapes_config_trains_with_supcon_and_pcl(tmp_path, toy_root):
    cfg = Config.fromfile(
        osp.join(ROOT, 'configs/injection/supcon-pcl-injected_deeplabv3_r18-d8_4xb2-80k_cityscapes-512x1024.py'))
    stock = get_config('mmseg::deeplabv3/deeplabv3_r18-d8_4xb2-80k_cityscapes-512x1024.py')
    assert _stock(cfg.model.model) == _stock(stock.model)
    # Small padded input for CPU; the toy labels (8 classes) fit the 19-class Cityscapes head.
    cfg.merge_from_dict({'model.model.data_preprocessor.size': (64, 128), 'model.model.pretrained': None})
    pipeline = [
        dict(type='LoadImageFromFile'),
        dict(type='LoadAnnotations'),
        dict(type='Resize', scale=(128, 64), keep_ratio=True),
        dict(type='PackSegInputs'),
    ]
    cfg.train_dataloader = _toy_loader('toy_uda_seg.py', pipeline, toy_root)
    runner = _train(_runtime(cfg, str(tmp_path)))
    hub = runner.message_hub
    for key in ('train/loss_supcon', 'train/loss_pcl', 'train/decode.loss_ce'):
        assert torch.isfinite(torch.tensor(hub.get_scalar(key).current())), key
    assert hub.get_scalar('train/loss_pcl').current() > 0
