"""ContrastiveRoIHead: FSCE-style contrastive proposal encoding on a stock bbox head."""
import os.path as osp

import pytest
import torch
import torch.nn as nn
from mmdet.structures.bbox import bbox_overlaps
from mmdet.testing import demo_mm_inputs
from mmengine.config import Config
from mmengine.registry import init_default_scope

from mmcontrast.models.heads import ContrastiveRoIHead
from mmcontrast.registry import MODELS

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))


@MODELS.register_module(name='_NoWeightLoss', force=True)
class _NoWeightLoss(nn.Module):

    def forward(self, features, labels):
        return features.sum() * 0


@MODELS.register_module(name='_WeightRecordingLoss', force=True)
class _WeightRecordingLoss(nn.Module):
    """Test double: a loss that takes per-sample weights and records its inputs."""

    def __init__(self, loss_weight=1.0):
        super().__init__()
        self.loss_weight = loss_weight
        self.calls = []

    def forward(self, features, labels, weight=None):
        self.calls.append((features, labels, weight))
        return self.loss_weight * features.sum() * 0


def _detector(**roi_overrides):
    init_default_scope('mmdet')
    cfg = Config.fromfile(osp.join(ROOT, 'configs/_base_/models/faster-rcnn_r18-narrow-fpn.py'))
    cfg.model.roi_head.type = 'mmcontrast.ContrastiveRoIHead'
    cfg.model.roi_head.update(roi_overrides)
    return MODELS.build(cfg.model)


def _batch(model, seed=0):
    torch.manual_seed(seed)
    packed = demo_mm_inputs(2, [[3, 64, 64]] * 2, num_items=[4, 4], num_classes=2)
    for sample in packed['data_samples']:
        sample.gt_instances.labels = torch.tensor([0, 1, 0, 1])  # both classes in every image
    return model.data_preprocessor(packed, True)


def test_loss_contrast_is_added_and_trains_the_projection_and_shared_fcs():
    model = _detector(contrast_head=dict(out_channels=32), iou_threshold=0.5)
    assert isinstance(model.roi_head, ContrastiveRoIHead)
    assert model.roi_head.contrast_head.in_channels == 256  # read from bbox_head.fc_cls
    data = _batch(model)
    losses = model.loss(data['inputs'], data['data_samples'])
    assert {'loss_cls', 'loss_bbox', 'loss_contrast'} <= set(losses)
    assert torch.isfinite(losses['loss_contrast']) and losses['loss_contrast'] > 0
    losses['loss_contrast'].backward()
    assert model.roi_head.contrast_head.layers[0].weight.grad.abs().sum() > 0
    assert model.roi_head.bbox_head.shared_fcs[0].weight.grad.abs().sum() > 0
    assert model.roi_head.bbox_head.fc_cls.weight.grad is None  # the loss reads the classifier's input only


def test_rows_labels_and_iou_weights():
    model = _detector(
        loss_contrast=dict(type='mmcontrast._WeightRecordingLoss'), iou_threshold=0.6, iou_reweight='linear')
    data = _batch(model)
    head = model.roi_head
    x = model.extract_feat(data['inputs'])
    rpn = model.rpn_head.predict(x, data['data_samples'], rescale=False)
    from mmdet.models.utils import unpack_gt_instances
    gts, gts_ignore, _ = unpack_gt_instances(data['data_samples'])
    results = []
    for i, proposals in enumerate(rpn):
        proposals.priors = proposals.pop('bboxes')
        assign = head.bbox_assigner.assign(proposals, gts[i], gts_ignore[i])
        results.append(head.bbox_sampler.sample(assign, proposals, gts[i]))
    rows, labels, weights = head.contrast_targets(results)
    # expected: per image the positives (first rows of each image block) with IoU >= 0.6
    exp_rows, exp_labels, exp_ious, offset = [], [], [], 0
    for res in results:
        ious = bbox_overlaps(res.pos_priors, res.pos_gt_bboxes, is_aligned=True)
        keep = ious >= 0.6
        exp_rows.append(torch.arange(offset, offset + len(ious))[keep])
        exp_labels.append(res.pos_gt_labels[keep])
        exp_ious.append(ious[keep])
        offset += res.priors.shape[0]
    assert torch.equal(rows, torch.cat(exp_rows))
    assert torch.equal(labels, torch.cat(exp_labels))
    assert torch.allclose(weights, torch.cat(exp_ious))
    assert rows.numel() > 0 and (weights >= 0.6).all()
    # the loss sees exactly those rows, projected, with their weights
    head.bbox_loss(x, results)
    feats, seen_labels, seen_weights = head.loss_contrast.calls[-1]
    assert feats.shape == (rows.numel(), 128)
    assert torch.equal(seen_labels, labels) and torch.allclose(seen_weights, weights)


def test_exp_reweight_and_threshold_one_keeps_only_exact_boxes():
    model = _detector(loss_contrast=dict(type='mmcontrast._WeightRecordingLoss'), iou_threshold=1.0, iou_reweight='exp')
    data = _batch(model)
    model.loss(data['inputs'], data['data_samples'])
    feats, labels, weights = model.roi_head.loss_contrast.calls[-1]
    # gt boxes are added as proposals: IoU 1 each, weight (e^1 - 1) / (e - 1) = 1
    assert labels.numel() == 8 and torch.allclose(weights, torch.ones_like(weights))


def test_predict_is_untouched():
    model = _detector().eval()
    data = _batch(model)
    with torch.no_grad():
        preds = model.predict(data['inputs'], data['data_samples'])
    assert len(preds) == 2 and 'bboxes' in preds[0].pred_instances
    assert model.roi_head._roi_feats is None


def test_supcon_with_iou_reweighting():
    from mmcontrast.models.losses import supcon_loss
    model = _detector(iou_reweight='linear', iou_threshold=0.5)
    data = _batch(model)
    seen = {}

    def record(module, args, kwargs, output):
        seen.update(features=args[0].detach(), labels=args[1], weight=kwargs.get('weight'))

    loss_module = model.roi_head.loss_contrast
    handle = loss_module.register_forward_hook(record, with_kwargs=True)
    losses = model.loss(data['inputs'], data['data_samples'])
    handle.remove()
    # the default SupCon got one IoU weight per row: in [threshold, 1], not all 1
    weight, labels = seen['weight'], seen['labels']
    assert weight is not None and weight.shape == labels.shape and labels.numel() > 1
    assert (weight >= 0.5).all() and (weight <= 1).all() and (weight < 1).any()
    expected = loss_module.loss_weight * supcon_loss(
        seen['features'], labels, temperature=loss_module.temperature, weight=weight)
    torch.testing.assert_close(losses['loss_contrast'], expected)
    unweighted = loss_module.loss_weight * supcon_loss(seen['features'], labels, temperature=loss_module.temperature)
    assert not torch.allclose(expected, unweighted)  # the weights change the loss


def test_ranked_supcon_with_the_toy_det_ranking():
    ranking = osp.join(ROOT, 'configs/_base_/class_rankings/toy_uda_det.yaml')
    model = _detector(loss_contrast=dict(type='mmcontrast.RankedSupConLoss', class_ranking=ranking),
                      iou_threshold=0.5)
    loss_module = model.roi_head.loss_contrast
    # the file's two classes, each ranking the other second (warmer temperature)
    assert loss_module.classes == ['person', 'car'] and loss_module.ranking == {0: [[0], [1]], 1: [[1], [0]]}
    assert loss_module.taus == pytest.approx([0.1, 0.6])
    data = _batch(model)
    seen = {}
    handle = loss_module.register_forward_hook(lambda m, args, out: seen.update(features=args[0].detach(),
                                                                                  labels=args[1]))
    losses = model.loss(data['inputs'], data['data_samples'])
    handle.remove()
    features, labels = seen['features'], seen['labels']
    assert set(labels.tolist()) == {0, 1}  # both classes among the kept proposals
    assert torch.isfinite(losses['loss_contrast']) and losses['loss_contrast'] > 0
    # Independent reference. With two classes that rank each other second, the rank-1 term of
    # every anchor is log(x / x) = 0 (its positives are all its candidates at rank >= 1), so the
    # loss is the rank-0 RINCE term: -log(sum_{same class} e^{s/0.1} / sum_{others} e^{s/0.1}).
    z = torch.nn.functional.normalize(features.double(), dim=1)
    logits = z @ z.t() / 0.1
    others = ~torch.eye(len(labels), dtype=torch.bool)
    same = (labels[:, None] == labels[None, :]) & others
    terms = [torch.logsumexp(logits[a][others[a]], 0) - torch.logsumexp(logits[a][same[a]], 0)
             for a in range(len(labels)) if same[a].any()]
    torch.testing.assert_close(losses['loss_contrast'].double(), torch.stack(terms).mean(), rtol=1e-5, atol=1e-6)
    # not the head's default SupCon (mean over positives outside the log, tau 0.2)
    from mmcontrast.models.losses import supcon_loss
    assert not torch.allclose(losses['loss_contrast'], 0.5 * supcon_loss(features, labels, temperature=0.2))


def test_misconfiguration_fails_at_construction():
    with pytest.raises(ValueError, match="needs a loss that takes per-sample 'weight'; _NoWeightLoss"):
        _detector(iou_reweight='linear', loss_contrast=dict(type='mmcontrast._NoWeightLoss'))
    with pytest.raises(ValueError, match='iou_reweight must be one of'):
        _detector(iou_reweight='sqrt')
    with pytest.raises(ValueError, match='iou_threshold'):
        _detector(iou_threshold=1.5)
    with pytest.raises(ValueError, match=r'contrast_head.in_channels=1024 but bbox_head.fc_cls takes 256'):
        _detector(contrast_head=dict(in_channels=1024))
