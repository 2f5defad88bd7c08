import copy
import math
from unittest import mock

import numpy as np
import pytest
import torch
from mmengine.logging import MessageHub
from mmengine.structures import InstanceData

from mmcontrast.models.uda.det import (
    DomainAdaptiveTeacher,
    ImageDomainDiscriminator,
    RoIBoxPairViews,
    gradient_reversal,
)

PCL = dict(type='mmcontrast.PCLLoss', scale=20.0, loss_weight=0.5)
FCL = dict(type='mmcontrast.InfoNCELoss', temperature=0.1, loss_weight=0.5)


def contrast(views: dict = None, **losses) -> dict:
    """``contrast=dict(views=..., losses=...)``; ``views`` without ``type`` (the default is used)."""
    return dict(views=views or {}, losses=losses)


def hflip(width: int = 64) -> np.ndarray:
    return np.array([[-1., 0., width], [0., 1., 0.], [0., 0., 1.]])


def build(detector, **kwargs) -> DomainAdaptiveTeacher:
    torch.manual_seed(0)
    kwargs.setdefault('semi_train_cfg', dict(cls_pseudo_thr=0.3))
    model = DomainAdaptiveTeacher(detector=detector, **kwargs)
    model.teacher.load_state_dict(model.student.state_dict())
    return model


@pytest.fixture(autouse=True)
def _iter_zero():
    MessageHub.get_current_instance().update_info('iter', 0)


def total(model: DomainAdaptiveTeacher, losses: dict) -> torch.Tensor:
    return model.parse_losses(losses)[0]


def test_losses_with_pcl_and_discriminator(tiny_detector, make_batch):
    model = build(
        tiny_detector,
        contrast=contrast(pcl=PCL),
        domain_discriminator=dict(type='mmcontrast.ImageDomainDiscriminator', in_channels=16, feat_channels=(8, )))
    losses = model.loss(*make_batch())
    for key in ('sup_loss_cls', 'sup_loss_bbox', 'sup_loss_rpn_cls', 'unsup_loss_cls', 'unsup_loss_rpn_cls',
                'unsup_loss_pcl', 'loss_adv_source', 'loss_adv_target'):
        assert key in losses, key
    # pseudo-boxes train classification only by default
    assert 'unsup_loss_bbox' not in losses and 'unsup_loss_rpn_bbox' not in losses
    assert losses['unsup_loss_pcl'].item() > 0
    assert losses['unsup_num_pseudo_boxes'] > 0 and losses['unsup_num_contrast_boxes'] > 0
    loss = total(model, losses)
    assert torch.isfinite(loss)
    loss.backward()
    assert model.student.backbone.conv1.weight.grad.abs().sum() > 0
    assert model.student.roi_head.bbox_head.fc_cls.weight.grad.abs().sum() > 0
    assert model.domain_discriminator.layers[0].weight.grad.abs().sum() > 0
    assert all(p.grad is None for p in model.teacher.parameters())


def test_contrast_boxes_are_projected_between_views(tiny_detector, make_batch):
    model = build(tiny_detector, contrast=contrast(dict(boxes=('proposals', ), num_proposals=8), pcl=PCL))
    seen = []
    roi_outputs = model.contrast_views.roi_outputs

    def spy(roi_head, feats, boxes, stage=0):
        seen.append([b.detach().clone() for b in boxes])
        return roi_outputs(roi_head, feats, boxes, stage)

    model.contrast_views.roi_outputs = spy
    model.loss(*make_batch(strong_homography=hflip()))
    weak, strong = seen
    assert sum(len(b) for b in weak) > 0
    for w, s in zip(weak, strong):
        # the same box, mirrored: x1' = 64 - x2, x2' = 64 - x1, y unchanged
        torch.testing.assert_close(s[:, 0], 64 - w[:, 2])
        torch.testing.assert_close(s[:, 2], 64 - w[:, 0])
        torch.testing.assert_close(s[:, 1::2], w[:, 1::2])


def test_pcl_contrasts_class_probabilities_and_fcl_roi_features(tiny_detector, make_batch):
    outputs = {}
    for name, loss, target in (('pcl', PCL, 'cls_score'), ('fcl', FCL, 'roi_feat')):
        model = build(tiny_detector, contrast=contrast(dict(target=target), **{name: loss}))
        module = model.contrast_losses[name]
        module.forward = lambda a, b, _m=module.forward, _n=name: (outputs.setdefault(_n, (a, b)), _m(a, b))[1]
        losses = model.loss(*make_batch())
        assert torch.isfinite(losses[f'unsup_loss_{name}'])
    assert outputs['pcl'][0].shape[1] == 3  # person, car, background
    assert outputs['fcl'][0].shape[1] == 32  # fc_out_channels of the shared fcs
    assert outputs['pcl'][0].shape == outputs['pcl'][1].shape


@pytest.mark.parametrize('loss', [PCL, FCL])
def test_degenerate_target_batch_is_finite(tiny_detector, make_batch, loss):
    # score threshold 1.0: no pseudo-box; boxes=('pseudo',): no proposals either
    name = 'pcl' if loss is PCL else 'fcl'
    model = build(
        tiny_detector,
        semi_train_cfg=dict(cls_pseudo_thr=1.0),
        contrast=contrast(dict(boxes=('pseudo', ), target='cls_score' if loss is PCL else 'roi_feat'), **{name: loss}))
    losses = model.loss(*make_batch())
    assert losses[f'unsup_loss_{name}'].item() == 0
    assert losses['unsup_loss_cls'].item() == 0  # no pseudo-box: target term switched off
    assert losses['unsup_num_pseudo_boxes'] == 0 and losses['unsup_num_contrast_boxes'] == 0
    loss = total(model, losses)
    assert torch.isfinite(loss)
    loss.backward()
    assert all(torch.isfinite(p.grad).all() for p in model.student.parameters() if p.grad is not None)


def test_boxes_moved_out_of_the_strong_view_are_dropped(tiny_detector, make_batch):
    shift_away = np.array([[1., 0., 500.], [0., 1., 0.], [0., 0., 1.]])
    model = build(tiny_detector, contrast=contrast(pcl=PCL))
    losses = model.loss(*make_batch(strong_homography=shift_away))
    assert losses['unsup_loss_pcl'].item() == 0
    assert torch.isfinite(total(model, losses))


def test_burn_in_then_teacher_reset(tiny_detector, make_batch):
    model = build(tiny_detector, semi_train_cfg=dict(burn_in_iters=2, cls_pseudo_thr=0.3), contrast=contrast(pcl=PCL))
    with torch.no_grad():
        model.student.roi_head.bbox_head.fc_cls.weight.add_(1.0)
    hub = MessageHub.get_current_instance()
    hub.update_info('iter', 1)
    assert all(k.startswith('sup_') for k in model.loss(*make_batch()))
    assert not torch.equal(model.teacher.roi_head.bbox_head.fc_cls.weight,
                           model.student.roi_head.bbox_head.fc_cls.weight)
    hub.update_info('iter', 2)
    losses = model.loss(*make_batch())
    assert 'unsup_loss_pcl' in losses
    torch.testing.assert_close(model.teacher.roi_head.bbox_head.fc_cls.weight,
                               model.student.roi_head.bbox_head.fc_cls.weight)


def test_predict_uses_teacher_or_student(tiny_detector, make_batch):
    model = build(tiny_detector)
    model.eval()
    inputs, samples = make_batch()
    predictions = {}
    with torch.no_grad():
        model.student.roi_head.bbox_head.fc_cls.bias.copy_(torch.tensor([20., -20., -20.]))
        for predict_on in ('teacher', 'student'):
            model.semi_test_cfg['predict_on'] = predict_on
            predictions[predict_on] = model.predict(inputs['sup'], samples['sup'])[0].pred_instances
    assert len(predictions['student']) and (predictions['student'].scores > 0.99).all()
    assert not (predictions['teacher'].scores > 0.99).any()


def test_gradient_reversal():
    x = torch.ones(3, requires_grad=True)
    (gradient_reversal(x, 0.5) * torch.tensor([1., 2., 3.])).sum().backward()
    torch.testing.assert_close(x.grad, torch.tensor([-0.5, -1.0, -1.5]))
    disc = ImageDomainDiscriminator(in_channels=4, feat_channels=(4, ), loss_weight=1.0)
    torch.nn.init.zeros_(disc.layers[-1].weight)
    torch.nn.init.zeros_(disc.layers[-1].bias)
    feats = [torch.randn(2, 4, 5, 5)]
    losses = disc.loss(feats, feats)
    assert set(losses) == {'loss_adv_source', 'loss_adv_target'}
    for value in losses.values():  # each domain's BCE at p = 0.5, weighted on its own
        assert math.isclose(value.item(), math.log(2), rel_tol=1e-5)


def test_bad_config_is_rejected(tiny_detector):
    with pytest.raises(ValueError, match='contrast.views.target'):
        build(tiny_detector, contrast=contrast(dict(target='logits'), pcl=PCL))
    with pytest.raises(
            ValueError,
            match=r"unknown contrast.views keys \['num_proposal'\].*valid: \['boxes', "
            r"'fg_fraction', 'fg_score_thr', 'min_box_wh', 'num_proposals', 'pseudo_thr', 'stages', 'target', "
            r"'weak_grad'\]"):
        build(tiny_detector, contrast=contrast(dict(num_proposal=4), pcl=PCL))
    with pytest.raises(ValueError, match='contrast.views.boxes'):
        build(tiny_detector, contrast=contrast(dict(boxes=('gt', )), pcl=PCL))
    with pytest.raises(ValueError, match=r"unknown contrast keys \['loss'\]"):
        build(tiny_detector, contrast=dict(loss=dict(pcl=PCL)))
    with pytest.raises(ValueError, match='contrast.losses must map a name'):
        build(tiny_detector, contrast=dict(losses=[PCL]))
    with pytest.raises(ValueError, match='loss name'):
        build(tiny_detector, contrast=dict(losses={'unsup.pcl': PCL}))
    with pytest.raises(ValueError, match='cls_pseudo_thr'):
        build(tiny_detector, semi_train_cfg=dict(cls_pseudo_thr=1.5))


def test_views_type_defaults_and_options(tiny_detector):
    model = build(tiny_detector, contrast=dict(losses=dict(pcl=PCL)))  # no views at all
    views = model.contrast_views
    assert isinstance(views, RoIBoxPairViews)
    assert (views.target, views.boxes, views.pseudo_thr, views.num_proposals, views.min_box_wh) == \
        ('cls_score', ('pseudo', 'proposals'), None, 64, (4.0, 4.0))
    model = build(
        tiny_detector,
        contrast=contrast(
            dict(type='mmcontrast.RoIBoxPairViews', boxes=['pseudo'], pseudo_thr=0.5, min_box_wh=[2, 3]), pcl=PCL))
    assert (model.contrast_views.boxes, model.contrast_views.pseudo_thr, model.contrast_views.min_box_wh) == \
        (('pseudo', ), 0.5, (2, 3))
    # off: no contrast, no losses, or every loss set to None (as a derived config may do)
    for off in (build(tiny_detector), build(tiny_detector, contrast=dict(views=dict(target='roi_feat'))),
                build(tiny_detector, contrast=contrast(pcl=None))):
        assert isinstance(off.contrast_views, RoIBoxPairViews) and len(off.contrast_losses) == 0
    # unprefixed types resolve in the mmcontrast scope whatever the default scope is (as in the seg wrapper)
    unprefixed = dict(views=dict(type='RoIBoxPairViews'), losses=dict(pcl=dict(PCL, type='PCLLoss')))
    model = build(tiny_detector, contrast=unprefixed)
    assert isinstance(model.contrast_views, RoIBoxPairViews) and type(model.contrast_losses.pcl).__name__ == 'PCLLoss'


def test_no_contrast_loss_logs_no_contrast_keys(tiny_detector, make_batch):
    losses = build(tiny_detector).loss(*make_batch())
    assert not any('contrast' in k or k.startswith('unsup_loss_pcl') for k in losses)


@pytest.mark.parametrize('old', [
    dict(contrast_loss=PCL),
    dict(contrast_cfg=dict(target='roi_feat')),
    dict(contrast_loss=FCL, contrast_cfg=dict(target='roi_feat', boxes=('pseudo', ), num_proposals=32)),
])
def test_old_contrast_arguments_give_a_clear_error(tiny_detector, old):
    with pytest.raises(
            TypeError,
            match=r'no longer takes contrast_loss/contrast_cfg.*\n    contrast=dict\(views=dict'
            r"\(type='mmcontrast.RoIBoxPairViews'") as info:
        build(tiny_detector, **old)
    message = str(info.value)
    if 'contrast_loss' in old:
        name = 'pcl' if old['contrast_loss'] is PCL else 'fcl'
        assert f"losses=dict({name}=dict(type='{old['contrast_loss']['type']}'" in message
    if 'contrast_cfg' in old:
        assert "target='roi_feat'" in message
    if old.get('contrast_cfg', {}).get('boxes'):
        assert "boxes=('pseudo',), num_proposals=32" in message
    # the printed shape is itself a valid config
    snippet = message.split('\n    contrast=', 1)[1]
    model = build(tiny_detector, contrast=eval(snippet, {'dict': dict}))  # noqa: S307 - our own message
    assert model.contrast_losses is not None


def test_two_named_losses_are_both_logged(tiny_detector, make_batch):
    model = build(tiny_detector, contrast=contrast(pcl=PCL, pcl_strong=dict(PCL, scale=40.0)))
    seen = {}
    for name, module in model.contrast_losses.items():
        module.forward = lambda a, b, _m=module.forward, _n=name: (seen.setdefault(_n, (a, b)), _m(a, b))[1]
    losses = model.loss(*make_batch())
    assert losses['unsup_loss_pcl'].item() > 0 and losses['unsup_loss_pcl_strong'].item() > 0
    assert losses['unsup_loss_pcl'].item() != losses['unsup_loss_pcl_strong'].item()
    # both losses see the very same RoI outputs (one RoI forward per view)
    assert seen['pcl'][0] is seen['pcl_strong'][0] and seen['pcl'][1] is seen['pcl_strong'][1]
    assert torch.isfinite(total(model, losses))
    # with no pair left every named loss is a zero connected to the graph
    shift_away = np.array([[1., 0., 500.], [0., 1., 0.], [0., 0., 1.]])
    losses = model.loss(*make_batch(strong_homography=shift_away))
    assert losses['unsup_loss_pcl'].item() == 0 and losses['unsup_loss_pcl_strong'].item() == 0


def test_plain_detector_checkpoint_initialises_teacher_and_student(tiny_detector, tmp_path):
    from mmdet.registry import MODELS as MMDET_MODELS
    from mmengine.config import ConfigDict
    from mmengine.runner import load_checkpoint
    torch.manual_seed(1)
    source_only = MMDET_MODELS.build(ConfigDict(tiny_detector))
    torch.save({'state_dict': source_only.state_dict()}, tmp_path / 'source.pth')
    model = DomainAdaptiveTeacher(detector=tiny_detector)
    load_checkpoint(model, str(tmp_path / 'source.pth'), map_location='cpu', strict=True)
    for branch in (model.teacher, model.student):
        for key, value in source_only.state_dict().items():
            torch.testing.assert_close(branch.state_dict()[key], value)


# ------------------------------------------------------------------ the PCL box pool (issue 14, item 5)
def test_balanced_proposals_sample_foreground_and_as_much_background():
    views = RoIBoxPairViews(boxes=('pseudo', 'balanced_proposals'), num_proposals=8, fg_score_thr=0.5, fg_fraction=0.5)
    assert views.needs_proposal_scores
    result = InstanceData(
        bboxes=torch.tensor([[0., 0., 9., 9.]]), scores=torch.tensor([0.95]), labels=torch.tensor([0]))
    bboxes = torch.arange(40.).view(10, 4)
    # 3 foreground, 7 background proposals: all 3 foreground (cap 4) and 3 background (no more than foreground)
    fg_scores = torch.tensor([0.9, 0.1, 0.2, 0.6, 0.0, 0.3, 0.51, 0.1, 0.2, 0.4])
    torch.manual_seed(0)
    boxes = views.select_boxes(result, InstanceData(bboxes=bboxes, fg_scores=fg_scores), 0.8)
    assert len(boxes) == 1 + 3 + 3 and torch.equal(boxes[0], result.bboxes[0])
    chosen = [int(b[0]) // 4 for b in boxes[1:]]
    assert sorted(chosen[:3]) == [0, 3, 6] and all(fg_scores[i] < 0.5 for i in chosen[3:])
    # many foreground: at most num_proposals * fg_fraction of them, and as many background
    boxes = views.select_boxes(result,
                               InstanceData(bboxes=bboxes, fg_scores=torch.ones(10) - 0.6 * (torch.arange(10) >= 7)),
                               0.8)
    assert len(boxes) == 1 + 4 + 3
    # no foreground proposal: no background either (the pool is the pseudo-boxes)
    boxes = views.select_boxes(result, InstanceData(bboxes=bboxes, fg_scores=torch.zeros(10)), 0.8)
    assert len(boxes) == 1
    with pytest.raises(ValueError, match='pick one'):
        RoIBoxPairViews(boxes=('proposals', 'balanced_proposals'))


def test_teacher_foreground_scores_are_its_roi_probabilities_of_the_proposals(tiny_detector, make_batch):
    model = build(tiny_detector, contrast=contrast(dict(boxes=('balanced_proposals', ), num_proposals=8), pcl=PCL))
    inputs, samples = make_batch()
    model.teacher.eval()
    feats = model.teacher.extract_feat(inputs['unsup_teacher'])
    proposals = model.teacher.rpn_head.predict(feats, samples['unsup_teacher'], rescale=False)
    with torch.no_grad():
        model._predict_boxes(feats, proposals, samples['unsup_teacher'])
        from mmdet.structures.bbox import bbox2roi
        logits = model.teacher.roi_head._bbox_forward(feats, bbox2roi([p.bboxes for p in proposals]))['cls_score']
    expected = (1 - logits.softmax(1)[:, -1]).split([len(p) for p in proposals])
    for proposal, fg in zip(proposals, expected):
        torch.testing.assert_close(proposal.fg_scores, fg)
    losses = model.loss(*make_batch())
    assert losses['unsup_num_contrast_boxes'] > 0 and torch.isfinite(losses['unsup_loss_pcl'])


# ------------------------------------------------------------------ the teacher's BN statistics (item 6)
def test_teacher_bn_stats_target_batch_normalises_with_the_target_batch(tiny_detector, make_batch):
    inputs, samples = make_batch()
    results = {}
    for mode in ('running', 'target_batch'):
        for garbage in (False, True):
            model = build(tiny_detector, semi_train_cfg=dict(cls_pseudo_thr=0.3, teacher_bn_stats=mode))
            model.teacher.dropout = torch.nn.Dropout(0.5)  # any dropout is switched off while labelling
            if garbage:  # running statistics far from the target batch's
                for module in model.teacher.modules():
                    if isinstance(module, torch.nn.BatchNorm2d):
                        module.running_mean.fill_(3.0)
                        module.running_var.fill_(9.0)
            bn = model.teacher.backbone.bn1
            before = bn.running_mean.clone()
            out, _ = model.get_pseudo_instances(inputs['unsup_teacher'], copy.deepcopy(samples['unsup_teacher']))
            results[mode, garbage] = torch.cat([s.gt_instances.scores for s in out])
            assert model.teacher.dropout.training is False
            assert bn.training is (mode == 'target_batch')
            # in train mode the teacher's running statistics follow the target batches it labels
            assert torch.equal(bn.running_mean, before) is (mode == 'running')
    torch.testing.assert_close(results['target_batch', False], results['target_batch', True])
    assert results['running', False].shape != results['running', True].shape or not torch.allclose(
        results['running', False], results['running', True])


def test_teacher_bn_stats_keeps_frozen_bn_frozen(tiny_detector):
    frozen = copy.deepcopy(tiny_detector)
    frozen['backbone'].update(norm_eval=True)
    model = build(frozen, semi_train_cfg=dict(teacher_bn_stats='target_batch'))
    model._set_teacher_labelling_mode()
    assert not any(m.training for m in model.teacher.backbone.modules() if isinstance(m, torch.nn.BatchNorm2d))
    with pytest.raises(ValueError, match="teacher_bn_stats must be 'running'"):
        build(tiny_detector, semi_train_cfg=dict(teacher_bn_stats='train'))


# ------------------------------------------------------------------ images without pseudo-boxes
@pytest.mark.parametrize('mode,images,weighted', [('skip_batch', 2, True), ('skip_image', 1, True),
                                                  ('background', 2, True)])
def test_empty_pseudo_images_modes(tiny_detector, make_batch, mode, images, weighted):
    model = build(tiny_detector, semi_train_cfg=dict(cls_pseudo_thr=0.5, empty_pseudo_images=mode))
    one_box = [
        InstanceData(bboxes=torch.tensor([[4., 6., 30., 40.]]), scores=torch.tensor([0.9]), labels=torch.tensor([1])),
        InstanceData(bboxes=torch.zeros(0, 4), scores=torch.zeros(0), labels=torch.zeros(0, dtype=torch.long))
    ]
    sizes = []
    real = model._detection_loss

    def spy(feats, batch_samples):
        sizes.append((len(batch_samples), feats[0].shape[0]))
        return real(feats, batch_samples)

    with mock.patch.object(model, '_predict_boxes', return_value=one_box), \
            mock.patch.object(model, '_detection_loss', side_effect=spy):
        losses = model.loss(*make_batch())
    assert sizes[1] == (images, images)  # the pseudo-label batch
    assert (losses['unsup_loss_cls'].item() > 0) is weighted


def test_no_pseudo_box_in_the_batch_trains_background_only_in_background_mode(tiny_detector, make_batch):
    for mode, trained in (('skip_batch', False), ('skip_image', False), ('background', True)):
        model = build(tiny_detector, semi_train_cfg=dict(cls_pseudo_thr=1.0, empty_pseudo_images=mode))
        losses = model.loss(*make_batch())
        assert losses['unsup_num_pseudo_boxes'] == 0
        assert (losses['unsup_loss_cls'].item() > 0) is trained, mode
    with pytest.raises(ValueError, match='empty_pseudo_images must be one of'):
        build(tiny_detector, semi_train_cfg=dict(empty_pseudo_images='drop'))


# ------------------------------------------------------------------ branches
def test_missing_branches_are_named(tiny_detector, make_batch):
    model = build(tiny_detector, semi_train_cfg=dict(source_branches=('sup', 'sup_weak')))
    with pytest.raises(KeyError, match=r"no branch \['sup_weak'\]"):
        model.loss(*make_batch())
    model = build(
        tiny_detector,
        domain_discriminator=dict(type='mmcontrast.ImageDomainDiscriminator', in_channels=16, source_branch='sup_weak'))
    with pytest.raises(KeyError, match=r"domain_discriminator: no branch 'sup_weak'"):
        model.loss(*make_batch())
    with pytest.raises(ValueError, match='source_branches must be a non-empty tuple'):
        build(tiny_detector, semi_train_cfg=dict(source_branches='sup'))


def test_two_source_branches_are_one_batch(tiny_detector, make_batch):
    model = build(tiny_detector, semi_train_cfg=dict(cls_pseudo_thr=0.3, source_branches=('sup', 'sup_weak')))
    inputs, samples = make_batch()
    inputs['sup_weak'] = inputs['sup'][:, :, :48]  # a smaller batch is padded to the larger one
    samples['sup_weak'] = copy.deepcopy(samples['sup'])
    sizes = []
    real = model._detection_loss
    with mock.patch.object(
            model,
            '_detection_loss',
            side_effect=lambda f, s: (sizes.append((f[0].shape[0], s[0].batch_input_shape)), real(f, s))[1]):
        model.loss(inputs, samples)
    assert sizes[0] == (4, (64, 64))


def test_weak_grad_false_trains_through_the_strong_view_only(tiny_detector, make_batch):
    """views.weak_grad=False: the gradients equal those of the default step with the weak
    outputs detached before the loss, the weak backbone builds no graph, and the image
    discriminator still trains on target features (a forward of its own)."""
    disc = dict(type='mmcontrast.ImageDomainDiscriminator', in_channels=16, feat_channels=(8, ),
                target_branch='unsup_teacher')

    def grads(weak_grad: bool, detach_weak: bool = False):
        model = build(tiny_detector, contrast=contrast(dict(weak_grad=weak_grad), pcl=PCL),
                      domain_discriminator=disc)
        feats_grad = []
        extract = model.student.extract_feat

        def spy_extract(img):
            feats = extract(img)
            feats_grad.append(feats[0].requires_grad)
            return feats

        model.student.extract_feat = spy_extract
        pcl = model.contrast_losses['pcl']
        if detach_weak:
            pcl.forward = lambda a, b, _f=pcl.forward: _f(a.detach(), b)
        inputs, samples = make_batch()
        torch.manual_seed(1)
        losses = model.loss(inputs, samples)  # float32: mmcv's NMS has no float64 kernel
        assert losses['unsup_loss_pcl'].item() > 0 and losses['loss_adv_target'].requires_grad
        total(model, losses).backward()
        return feats_grad, {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}

    calls, without = grads(False)
    _, detached = grads(True, detach_weak=True)
    calls_both, both = grads(True)
    # source, strong, weak (no graph), then the discriminator's own target forward
    assert calls == [True, True, False, True] and calls_both == [True, True, True]
    assert without.keys() == detached.keys() == both.keys()
    assert any(n.startswith('domain_discriminator') for n in without)
    for name in without:
        torch.testing.assert_close(without[name], detached[name], rtol=1e-5, atol=1e-7, msg=name)
    assert any(not torch.allclose(without[n], both[n], rtol=1e-3, atol=1e-6) for n in without)
    with pytest.raises(TypeError, match='weak_grad must be a bool'):
        build(tiny_detector, contrast=contrast(dict(weak_grad=1), pcl=PCL))
