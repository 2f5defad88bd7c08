"""ContrastiveInjector on single-stage detectors (heads that run once per FPN level).

The stock mmdet RetinaNet and FCOS configs are wrapped as they ship (shrunk: ResNet-18, narrow
FPN/head, no download). ``per_level=True`` concatenates the tapped levels; the rows it gives
are checked against mmdet's own flattening of the same forward (``AnchorHead.loss_by_feat`` and
``FCOSHead.loss_by_feat``: per level ``permute(0, 2, 3, 1).reshape(-1, C)``, then ``torch.cat``).
"""
import copy
import os.path as osp

import pytest
import torch
import torch.nn as nn
from mmdet.structures import DetDataSample
from mmengine.config import Config
from mmengine.hub import get_config
from mmengine.registry import DefaultScope
from mmengine.runner import Runner
from mmengine.structures import InstanceData

from mmcontrast.datasets.toy_uda import ensure_toy_uda
from mmcontrast.models.injection import InjectionConfigError
from mmcontrast.registry import MODELS

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))


class RecordRows(nn.Module):
    """A loss that keeps what it was given (for the alignment checks)."""

    def forward(self, features: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        self.features, self.labels = features.detach(), labels.detach()
        return features.sum() * 0


def _stock(name: str, head_in: int = 32) -> dict:
    cfg = get_config(f'mmdet::{name}').model.to_dict()
    cfg.pop('_scope_', None)
    cfg['backbone'].update(depth=18, init_cfg=None)
    cfg['neck'].update(in_channels=[64, 128, 256, 512], out_channels=head_in)
    cfg['bbox_head'].update(in_channels=head_in, feat_channels=head_in)
    return cfg


def _batch(num_classes: int = 80):
    gen = torch.Generator().manual_seed(0)
    inputs, samples = [], []
    for i in range(2):
        inputs.append(torch.randint(0, 255, (3, 96, 128), generator=gen, dtype=torch.uint8))
        sample = DetDataSample(metainfo=dict(img_shape=(96, 128), ori_shape=(96, 128), pad_shape=(96, 128),
                                             scale_factor=(1., 1.), batch_input_shape=(96, 128)))
        sample.gt_instances = InstanceData(bboxes=torch.tensor([[10., 12., 70., 80.], [60., 20., 120., 90.]]),
                                           labels=torch.tensor([3, 7 + i]))
        samples.append(sample)
    return dict(inputs=inputs, data_samples=samples)


def _injector(model_cfg: dict, **term):
    cfg = dict(type='mmcontrast.ContrastiveInjector', model=model_cfg,
               terms=[dict(name='rows', loss=RecordRows(), ignore_index=[], **term)])
    with DefaultScope.overwrite_default_scope('mmdet'):
        return MODELS.build(cfg)


def _forward(injector):
    torch.manual_seed(0)
    data = injector.data_preprocessor(_batch(), True)
    losses = injector(**data, mode='loss')
    return data, losses


def test_a_head_run_per_level_is_refused_with_the_route():
    injector = _injector(_stock('fcos/fcos_r50-caffe_fpn_gn-head_1x_coco.py'),
                         inputs=dict(features='bbox_head.conv_cls:input', labels='bbox_head.get_targets:return[0]'))
    with pytest.raises(InjectionConfigError, match='ran 5 times.*per_level=True'):
        _forward(injector)


def test_fcos_per_level_rows_are_mmdets():
    injector = _injector(_stock('fcos/fcos_r50-caffe_fpn_gn-head_1x_coco.py'), per_level=True,
                         inputs=dict(features='bbox_head.conv_cls:output', labels='bbox_head.get_targets:return[0]'))
    data, losses = _forward(injector)
    rec = injector.terms.rows.loss
    detector = injector.model
    with torch.no_grad():
        cls_scores, _, _ = detector.bbox_head(detector.extract_feat(data['inputs']))
        sizes = [c.shape[-2:] for c in cls_scores]
        points = detector.bbox_head.prior_generator.grid_priors(sizes, dtype=cls_scores[0].dtype,
                                                                 device=cls_scores[0].device)
        labels, _ = detector.bbox_head.get_targets(points, [s.gt_instances for s in data['data_samples']])
    flat_scores = torch.cat([c.permute(0, 2, 3, 1).reshape(-1, 80) for c in cls_scores])
    assert torch.allclose(rec.features, flat_scores, atol=1e-5)
    assert torch.equal(rec.labels, torch.cat(labels))
    assert ((rec.labels >= 0) & (rec.labels < 80)).sum() > 0  # foreground points
    assert 'loss_rows' in losses and 'loss_cls' in losses


def test_retinanet_anchor_rows_with_row_channels():
    cfg = _stock('retinanet/retinanet_r50_fpn_1x_coco.py')
    injector = _injector(cfg, per_level=True, row_channels=80,
                         inputs=dict(features='bbox_head.retina_cls:output', labels='bbox_head.get_targets:return[0]'))
    data, _ = _forward(injector)
    rec = injector.terms.rows.loss
    head = injector.model.bbox_head
    with torch.no_grad():
        cls_scores, _ = head(injector.model.extract_feat(data['inputs']))
        metas = [s.metainfo for s in data['data_samples']]
        anchors, valid = head.get_anchors([c.shape[-2:] for c in cls_scores], metas, device='cpu')
        targets = head.get_targets(anchors, valid, [s.gt_instances for s in data['data_samples']], metas)
    num_anchors = head.num_base_priors  # 9 per location
    flat_scores = torch.cat([c.permute(0, 2, 3, 1).reshape(-1, 80) for c in cls_scores])
    assert rec.features.shape == flat_scores.shape and flat_scores.shape[0] % num_anchors == 0
    assert torch.allclose(rec.features, flat_scores, atol=1e-5)
    assert torch.equal(rec.labels, torch.cat([t.reshape(-1) for t in targets[0]]))


def test_fcos_supcon_trains_on_positive_points():
    cfg = _stock('fcos/fcos_r50-caffe_fpn_gn-head_1x_coco.py')
    with DefaultScope.overwrite_default_scope('mmdet'):
        injector = MODELS.build(dict(
            type='mmcontrast.ContrastiveInjector', model=cfg,
            terms=[dict(name='supcon', loss=dict(type='mmcontrast.SupConLoss', temperature=0.2, loss_weight=0.1),
                        inputs=dict(features='bbox_head.conv_cls:input', labels='bbox_head.get_targets:return[0]'),
                        projectors=dict(features=dict(out_channels=16)), ignore_index=80, per_level=True)]))
    _, losses = _forward(injector)
    assert torch.isfinite(losses['loss_supcon']) and losses['loss_supcon'] > 0
    losses['loss_supcon'].backward()
    assert injector.terms.supcon.projectors.features.layers[0].weight.grad is not None
    assert injector.model.bbox_head.cls_convs[0].conv.weight.grad is not None


def test_row_channels_must_divide():
    cfg = copy.deepcopy(_stock('retinanet/retinanet_r50_fpn_1x_coco.py'))
    injector = _injector(cfg, per_level=True, row_channels=7,
                         inputs=dict(features='bbox_head.retina_cls:output', labels='bbox_head.get_targets:return[0]'))
    with pytest.raises(InjectionConfigError, match='not a multiple of row_channels=7'):
        _forward(injector)


@pytest.mark.slow
def test_shipped_fcos_config_trains_with_supcon(tmp_path):
    """configs/injection/supcon-injected_fcos_...: the stock FCOS, 2 iterations on toy detection data."""
    cfg = Config.fromfile(osp.join(ROOT, 'configs/injection/supcon-injected_fcos_r50-caffe_fpn_gn-head_1x_coco.py'))
    stock = get_config('mmdet::fcos/fcos_r50-caffe_fpn_gn-head_1x_coco.py').model.to_dict()
    wrapped = cfg.model.model.to_dict()
    stock.pop('_scope_', None)
    wrapped.pop('_scope_', None)
    assert wrapped == stock and cfg.model.terms[0].per_level
    cfg.model.model = _stock('fcos/fcos_r50-caffe_fpn_gn-head_1x_coco.py')  # R-18, narrow, no download
    root = ensure_toy_uda(str(tmp_path / 'toy_uda'), num_train=4, num_val=2)
    toy = Config.fromfile(osp.join(ROOT, 'configs/_base_/datasets/toy_uda_det.py'))
    pipeline = [dict(type='LoadImageFromFile'), dict(type='LoadAnnotations', with_bbox=True),
                dict(type='Resize', scale=(256, 128), keep_ratio=True), dict(type='PackDetInputs')]
    cfg.train_dataloader = dict(batch_size=2, num_workers=0, persistent_workers=False,
                                sampler=dict(type='InfiniteSampler', shuffle=True),
                                dataset=dict(toy.source_train, data_root=root, pipeline=pipeline))
    cfg.merge_from_dict(dict(work_dir=str(tmp_path / 'work'), param_scheduler=[], log_level='WARNING'))
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=2, val_interval=3)
    cfg.val_dataloader = cfg.val_evaluator = cfg.val_cfg = None
    cfg.test_dataloader = cfg.test_evaluator = cfg.test_cfg = None
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=3, save_last=False)
    cfg.default_hooks.logger = dict(type='LoggerHook', interval=1)
    cfg.default_hooks.pop('visualization', None)
    cfg.custom_hooks[0].warmup_iters = 4
    torch.manual_seed(0)
    runner = Runner.from_cfg(cfg)
    runner.train()
    assert torch.isfinite(torch.tensor(runner.message_hub.get_scalar('train/loss_supcon').current()))
