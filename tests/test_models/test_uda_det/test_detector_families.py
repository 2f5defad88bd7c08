"""DomainAdaptiveTeacher around shrunk *stock* mmdet configs, one detector family at a time.

Each family loads a config mmdet ships (``mmdet::``), shrinks it (uda_det_families.py), wraps it
with and without PCL, trains two iterations through ``train_step`` (data preprocessor, losses,
backward, SGD step, as the runner does) and predicts. The table of docs/uda_det.md lists these
families. Refused families fail at construction with a TypeError that says why.
"""
import sys
from contextlib import nullcontext
from pathlib import Path
from unittest import mock

import numpy as np
import pytest
import torch
from mmdet.models.dense_heads import FCOSHead
from mmengine.config import ConfigDict
from mmengine.optim import OptimWrapper
from mmengine.structures import InstanceData

sys.path.insert(0, str(Path(__file__).parent))
import uda_det_families as fam  # noqa: E402

from mmcontrast.registry import MODELS  # noqa: E402

PCL = dict(losses=dict(pcl=dict(type='mmcontrast.PCLLoss', scale=20.0, loss_weight=0.5)))
TEACHER_BOXES = torch.tensor([[4., 6., 30., 40.], [34., 20., 60., 50.], [10., 40., 24., 60.]])


def build(detector: ConfigDict, contrast: dict = None, **train_cfg):
    torch.manual_seed(0)
    two_stage = 'rpn_head' in detector
    # Untrained two-stage heads score about 1/3 per class; untrained dense heads about their 0.01 prior.
    train_cfg.setdefault('cls_pseudo_thr', 0.3 if two_stage else 0.005)
    model = MODELS.build(
        dict(
            type='mmcontrast.DomainAdaptiveTeacher',
            detector=detector,
            data_preprocessor=dict(type='MultiBranchDataPreprocessor', data_preprocessor=detector.data_preprocessor),
            semi_train_cfg=train_cfg,
            contrast=contrast))
    model.init_weights()
    return model.train()


def fixed_dense_teacher(model):
    """An untrained dense head predicts degenerate boxes (its regression starts at 0); let the teacher
    predict three fixed boxes instead, so that the pseudo-label and contrastive paths run on real boxes."""

    def predict(feats, batch_data_samples, rescale=False):
        return [
            InstanceData(
                bboxes=TEACHER_BOXES.clone(), scores=torch.tensor([0.9, 0.8, 0.7]), labels=torch.tensor([0, 1, 0]))
            for _ in batch_data_samples
        ]

    return mock.patch.object(model.teacher.bbox_head, 'predict', side_effect=predict)


def train_two_steps(model, masks: bool = False, **batch):
    optim_wrapper = OptimWrapper(torch.optim.SGD(model.student.parameters(), lr=0.01, momentum=0.9))
    before = {k: v.detach().clone() for k, v in model.student.named_parameters()}
    logs = [model.train_step(fam.raw_batch(seed=seed, masks=masks, **batch), optim_wrapper) for seed in range(2)]
    after = dict(model.student.named_parameters())
    changed = {k for k, v in before.items() if not torch.equal(v, after[k].detach())}
    return logs, changed


def predict(model, on: str = 'teacher'):
    model.eval()
    model.semi_test_cfg['predict_on'] = on
    with torch.no_grad():
        return model.test_step(fam.predict_input())[0].pred_instances


# (id, factory, detector type, head whose parameters must change, supervised keys, pseudo-label keys)
FAMILIES = [
    ('faster-rcnn', fam.faster_rcnn, 'FasterRCNN', 'roi_head.bbox_head.',
     {'loss_rpn_cls', 'loss_rpn_bbox', 'loss_cls', 'loss_bbox'}, {'loss_rpn_cls', 'loss_cls'}),
    ('cascade-rcnn', fam.cascade_rcnn, 'CascadeRCNN', 'roi_head.bbox_head.2.',
     {'loss_rpn_cls', 'loss_rpn_bbox'} | {f's{i}.loss_{t}'
                                          for i in range(3)
                                          for t in ('cls', 'bbox')},
     {'loss_rpn_cls'} | {f's{i}.loss_cls'
                         for i in range(3)}),
    ('mask-rcnn', fam.mask_rcnn, 'MaskRCNN', 'roi_head.mask_head.',
     {'loss_rpn_cls', 'loss_rpn_bbox', 'loss_cls', 'loss_bbox', 'loss_mask'}, {'loss_rpn_cls', 'loss_cls'}),
    ('retinanet', fam.retinanet, 'RetinaNet', 'bbox_head.retina_cls.', {'loss_cls', 'loss_bbox'}, {'loss_cls'}),
    ('fcos', fam.fcos, 'FCOS', 'bbox_head.conv_cls.', {'loss_cls', 'loss_bbox', 'loss_centerness'}, {'loss_cls'}),
    ('atss', fam.atss, 'ATSS', 'bbox_head.atss_cls.', {'loss_cls', 'loss_bbox', 'loss_centerness'}, {'loss_cls'}),
    ('rtmdet', fam.rtmdet, 'RTMDet', 'bbox_head.rtm_cls.', {'loss_cls', 'loss_bbox'}, {'loss_cls'}),
]


@pytest.mark.parametrize('with_pcl', [False, True], ids=['mean-teacher', 'pcl'])
@pytest.mark.parametrize(
    'factory,det_type,head,sup_keys,unsup_keys', [f[1:] for f in FAMILIES], ids=[f[0] for f in FAMILIES])
def test_family_trains_and_predicts(factory, det_type, head, sup_keys, unsup_keys, with_pcl):
    detector = factory()
    model = build(detector, contrast=PCL if with_pcl else None)
    assert type(model.student).__name__ == det_type
    masks = det_type == 'MaskRCNN'
    patch = fixed_dense_teacher(model) if model.family == 'single_stage' else nullcontext()
    with patch:
        logs, changed = train_two_steps(model, masks=masks)
    expected = {f'sup_{k}' for k in sup_keys} | {f'unsup_{k}' for k in unsup_keys} | {'unsup_num_pseudo_boxes'}
    if with_pcl:
        expected |= {'unsup_loss_pcl', 'unsup_num_contrast_boxes'}
    for log in logs:
        loss_keys = {k for k in log if k != 'loss' and 'acc' not in k}
        # pseudo_box_reg=False: no stage, and no dense head, regresses to pseudo-boxes (nor trains a mask on them)
        assert loss_keys == expected, sorted(loss_keys ^ expected)
        assert all(np.isfinite(float(v)) for v in log.values()), log
        assert log['unsup_num_pseudo_boxes'] > 0
        if with_pcl:
            assert log['unsup_num_contrast_boxes'] > 0 and log['unsup_loss_pcl'] > 0
    assert any(k.startswith('backbone.') for k in changed)
    assert any(k.startswith(head) for k in changed), f'no parameter of {head} changed'

    for on in ('teacher', 'student'):
        pred = predict(model, on)
        assert len(pred) > 0 and pred.bboxes.shape[1] == 4
        assert int(pred.labels.max()) < fam.NUM_CLASSES
        if masks:
            assert pred.masks.shape[-2:] == (fam.IMG, fam.IMG)


# ------------------------------------------------------------------ cascade
@pytest.mark.parametrize('stages,expected', [('last', [2]), ('every', [0, 1, 2])])
def test_cascade_pcl_contrasts_the_last_or_every_stage(stages, expected):
    model = build(fam.cascade_rcnn(), contrast=dict(views=dict(stages=stages), **PCL))
    views = model.contrast_views
    seen, real = [], views.roi_outputs

    def spy(roi_head, feats, boxes, stage=0):
        out = real(roi_head, feats, boxes, stage)
        seen.append((stage, out.shape))
        return out

    with mock.patch.object(views, 'roi_outputs', side_effect=spy):
        logs, _ = train_two_steps(model)
    per_step = [s for s, _ in seen][:2 * len(expected)]
    assert sorted(set(per_step)) == expected  # weak and strong view of each contrasted stage
    assert all(shape[1] == fam.NUM_CLASSES + 1 for _, shape in seen)  # C+1 logits of the stage's classifier
    assert all(log['unsup_loss_pcl'] > 0 for log in logs)


def test_cascade_fcl_reads_the_stage_classifier_input():
    contrast = dict(views=dict(target='roi_feat'), losses=dict(fcl=dict(type='mmcontrast.InfoNCELoss')))
    model = build(fam.cascade_rcnn(), contrast=contrast)
    stage2 = model.student.roi_head.bbox_head[2]
    recorded = []
    hook = stage2.fc_cls.register_forward_hook(lambda m, args, out: recorded.append(args[0].detach()))
    seen = []
    fcl = model.contrast_losses['fcl']
    real = fcl.forward
    with mock.patch.object(
            fcl, 'forward', side_effect=lambda a, b: (seen.append((a.detach(), b.detach())), real(a, b))[1]):
        train_two_steps(model)
    hook.remove()
    rows = torch.cat([a for a, _ in seen])
    assert rows.shape[1] == 32  # fc_out_channels of the shared fcs
    pool = torch.cat(recorded)
    dist = torch.cdist(rows, pool, compute_mode='donot_use_mm_for_euclid_dist').min(dim=1).values
    assert dist.max() < 1e-5  # every row is an input of stage 2's fc_cls


def test_pseudo_boxes_never_regress_in_any_stage():
    """Every stage's box loss on pseudo-boxes is off: its regression layers get no gradient from them."""
    model = build(fam.cascade_rcnn())
    losses = model.loss(*_preprocessed(model))
    assert not [k for k in losses if k.startswith('unsup_') and ('bbox' in k or 'mask' in k)]
    assert {'sup_s0.loss_bbox', 'sup_s1.loss_bbox', 'sup_s2.loss_bbox'} <= set(losses)
    unsup = sum(
        sum(v) if isinstance(v, list) else v for k, v in losses.items() if k.startswith('unsup') and 'loss' in k)
    unsup.backward()
    for stage in model.student.roi_head.bbox_head:
        grad = stage.fc_reg.weight.grad
        assert grad is None or grad.abs().sum() == 0
    assert model.student.roi_head.bbox_head[2].fc_cls.weight.grad.abs().sum() > 0


def _preprocessed(model, **batch):
    data = model.data_preprocessor(fam.raw_batch(**batch), True)
    return data['inputs'], data['data_samples']


# ------------------------------------------------------------------ dense heads: the assigner's locations
@pytest.mark.parametrize('factory', [fam.retinanet, fam.atss, fam.rtmdet], ids=['retinanet', 'atss', 'rtmdet'])
def test_dense_views_read_the_locations_of_the_heads_own_assignment(factory):
    """Per box, the mean logits over exactly the priors the head's get_targets makes positive for it."""
    model = build(factory(), contrast=PCL)
    head, views = model.student.bbox_head, model.contrast_views
    inputs, samples = _preprocessed(model)
    feats = model.student.extract_feat(inputs['unsup_teacher'])
    metas = [s.metainfo for s in samples['unsup_teacher']]
    boxes = [InstanceData(bboxes=TEACHER_BOXES, labels=torch.tensor([0, 1, 0])) for _ in metas]
    logits, has = views._box_logits(head, feats, boxes, samples['unsup_teacher'])

    outs = head(feats)
    featmap_sizes = [s.shape[-2:] for s in outs[0]]
    anchors, valid = head.get_anchors(featmap_sizes, metas, device='cpu')
    flat = torch.cat([s.permute(0, 2, 3, 1).reshape(2, -1, head.cls_out_channels) for s in outs[0]], dim=1)
    if type(head).__name__.startswith('RTMDet'):
        from mmdet.structures.bbox import distance2bbox
        decoded = torch.cat([
            distance2bbox(a.reshape(-1, 4),
                          p.permute(0, 2, 3, 1).reshape(2, -1, 4)) for a, p in zip(anchors[0], outs[1])
        ],
                            dim=1)
        targets = head.get_targets(flat.detach(), decoded.detach(), anchors, valid, [b for b in boxes], metas)
        labels = torch.cat([t.reshape(2, -1) for t in targets[1]], dim=1)
        sampling = targets[-1]
    elif type(head).__name__ == 'ATSSHead':  # (anchors, labels, ...): no sampling results handed back
        targets = head.get_targets(anchors, valid, boxes, metas)
        labels = torch.cat([t.reshape(2, -1) for t in targets[1]], dim=1)
        sampling = None
    else:  # AnchorHead: (labels, ..., sampling results)
        targets = head.get_targets(anchors, valid, boxes, metas, return_sampling_results=True)
        labels = torch.cat([t.reshape(2, -1) for t in targets[0]], dim=1)
        sampling = targets[-1]
    row = 0
    for i in range(2):
        positives = (labels[i] < head.num_classes).nonzero().squeeze(1)
        assert len(positives) > 0
        # the head's own labels at its positive priors are the boxes' labels
        assert set(labels[i][positives].tolist()) <= {0, 1}
        for k in range(len(TEACHER_BOXES)):
            if sampling is not None:  # the gt index of each positive prior
                mine = sampling[i].pos_inds[sampling[i].pos_assigned_gt_inds == k]
                torch.testing.assert_close(logits[row], flat[i, mine].mean(0))
            assert has[row]
            row += 1
    # every positive prior of the head belongs to one of the boxes: the per-box rows average over all of them
    total = sum(int((labels[i] < head.num_classes).sum()) for i in range(2))
    gt_inds = views._assign(head, outs, flat.detach(), boxes, samples['unsup_teacher'])
    assert sum(int((g > 0).sum()) for g in gt_inds) == total
    for i in range(2):
        torch.testing.assert_close((gt_inds[i] > 0), labels[i] < head.num_classes)


def test_fcos_views_follow_fcos_targets():
    model = build(fam.fcos(), contrast=PCL)
    head, views = model.student.bbox_head, model.contrast_views
    assert isinstance(head, FCOSHead)
    inputs, samples = _preprocessed(model)
    feats = model.student.extract_feat(inputs['unsup_teacher'])
    boxes = [InstanceData(bboxes=TEACHER_BOXES, labels=torch.tensor([0, 1, 0])) for _ in range(2)]
    outs = head(feats)
    gt_inds = views._assign(head, outs, None, boxes, samples['unsup_teacher'])
    points = head.prior_generator.grid_priors([s.shape[-2:] for s in outs[0]], dtype=torch.float32, device='cpu')
    labels, _ = head.get_targets(points, boxes)
    num_points = [len(p) for p in points]
    # get_targets concatenates the images of each level
    per_image = [torch.cat([lvl.view(2, n)[i] for lvl, n in zip(labels, num_points)]) for i in range(2)]
    for i in range(2):
        positive = per_image[i] < head.num_classes
        torch.testing.assert_close(gt_inds[i] > 0, positive)
        # the box a point is given carries the label FCOS gives that point
        torch.testing.assert_close(torch.tensor([0, 1, 0])[gt_inds[i][positive] - 1], per_image[i][positive])


def test_dense_boxes_without_location_are_dropped_and_sigmoid_gets_a_background_logit():
    model = build(fam.fcos(), contrast=PCL)
    views = model.contrast_views
    inputs, samples = _preprocessed(model)
    feats = model.student.extract_feat(inputs['unsup_teacher'])
    # FCOS points sit at stride * (i + 0.5): a 2-pixel box between them contains none and has no location
    boxes = [
        InstanceData(bboxes=torch.tensor([[4., 6., 30., 40.], [5., 5., 7., 7.]]), labels=torch.tensor([0, 1]))
        for _ in range(2)
    ]
    (weak, strong), = views.pair_outputs(model.student, feats, boxes, samples['unsup_teacher'], feats, boxes,
                                         samples['unsup_teacher'])
    assert weak.shape == strong.shape == (2, fam.NUM_CLASSES + 1)  # one kept box per image: C logits + background
    assert torch.all(weak[:, -1] == 0)
    torch.testing.assert_close(weak, strong)


# ------------------------------------------------------------------ refusals
def _detr() -> ConfigDict:
    model = fam.load('mmdet::detr/detr_r50_8xb2-150e_coco.py')
    model.backbone.update(depth=18, base_channels=8)
    model.neck.update(in_channels=[64], out_channels=16)
    model.encoder.update(num_layers=1)
    model.encoder.layer_cfg.self_attn_cfg.update(embed_dims=16, num_heads=2)
    model.encoder.layer_cfg.ffn_cfg.update(embed_dims=16, feedforward_channels=32)
    model.decoder.update(num_layers=1)
    for attn in ('self_attn_cfg', 'cross_attn_cfg'):
        model.decoder.layer_cfg[attn].update(embed_dims=16, num_heads=2)
    model.decoder.layer_cfg.ffn_cfg.update(embed_dims=16, feedforward_channels=32)
    model.positional_encoding.num_feats = 8
    model.bbox_head.update(num_classes=fam.NUM_CLASSES, embed_dims=16)
    model.num_queries = 4
    return model


def _sparse_rcnn() -> ConfigDict:
    model = fam.load('mmdet::sparse_rcnn/sparse-rcnn_r50_fpn_1x_coco.py')
    model.backbone.update(depth=18, base_channels=8)
    model.neck.update(in_channels=fam.WIDTHS)
    return model


def _fast_rcnn() -> ConfigDict:
    return fam._tiny_resnet_fpn(fam.load('mmdet::fast_rcnn/fast-rcnn_r50_fpn_1x_coco.py'))


REFUSED = [
    ('detr-set-prediction', _detr, r'DETR-style detector .*Hungarian'),
    ('sparse-rcnn-query-proposals', _sparse_rcnn, r'EmbeddingRPNHead'),
    ('fast-rcnn-without-rpn', _fast_rcnn, r'without an RPN'),
]


@pytest.mark.parametrize('factory,match', [r[1:] for r in REFUSED], ids=[r[0] for r in REFUSED])
def test_refused_families_raise_type_error(factory, match):
    with pytest.raises(TypeError, match=match):
        build(factory())


def test_pcl_refused_for_a_dense_head_with_its_own_target_code():
    """YOLOX trains as a mean teacher, but its head's assignment (SimOTA in its own _get_targets_single)
    is not one this wrapper reads: PCL is refused at construction."""
    model = fam.load('mmdet::yolox/yolox_tiny_8xb8-300e_coco.py')
    model.backbone.update(widen_factor=0.0625, deepen_factor=0.33)
    model.neck.update(in_channels=[16, 32, 64], out_channels=16)
    model.bbox_head.update(in_channels=16, feat_channels=16, num_classes=fam.NUM_CLASSES)
    model.data_preprocessor.batch_augments = None
    assert build(model).family == 'single_stage'
    with pytest.raises(TypeError, match=r'cannot read the assignment of YOLOXHead.*_get_targets_single'):
        build(model, contrast=PCL)


def test_views_of_the_wrong_family_are_refused():
    with pytest.raises(TypeError, match=r'RoIBoxPairViews reads RoI-head outputs.*DenseBoxPairViews'):
        build(fam.retinanet(), contrast=dict(views=dict(type='mmcontrast.RoIBoxPairViews'), **PCL))
    with pytest.raises(TypeError, match=r'DenseBoxPairViews reads the dense head.*RoIBoxPairViews'):
        build(fam.faster_rcnn(), contrast=dict(views=dict(type='mmcontrast.DenseBoxPairViews'), **PCL))
    with pytest.raises(ValueError, match=r"DenseBoxPairViews must be \('pseudo',\)"):
        build(fam.retinanet(), contrast=dict(views=dict(boxes=('pseudo', 'proposals')), **PCL))
