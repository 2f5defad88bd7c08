import math

import numpy as np
import pytest
import torch
from mmengine.logging import MessageHub

from mmcontrast.models.uda.det import DomainAdaptiveTeacher, ImageDomainDiscriminator, gradient_reversal

PCL = dict(type='mmcontrast.PCLLoss', scale=20.0, loss_weight=0.5)
FCL = dict(type='mmcontrast.InfoNCELoss', temperature=0.1, loss_weight=0.5)


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
        contrast_loss=PCL,
        domain_discriminator=dict(type='mmcontrast.ImageDomainDiscriminator', in_channels=16,
                                  feat_channels=(8, )))
    losses = model.loss(*make_batch())
    for key in ('sup_loss_cls', 'sup_loss_bbox', 'sup_loss_rpn_cls', 'unsup_loss_cls', 'unsup_loss_rpn_cls',
                'unsup_loss_pcl', 'loss_adv'):
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
    model = build(tiny_detector, contrast_loss=PCL, contrast_cfg=dict(boxes=('proposals', ), num_proposals=8))
    seen = []
    roi_outputs = model._roi_outputs

    def spy(feats, boxes):
        seen.append([b.detach().clone() for b in boxes])
        return roi_outputs(feats, boxes)

    model._roi_outputs = spy
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
    for name, loss, target in (('pcl', PCL, 'cls_score'), ('infonce', FCL, 'roi_feat')):
        model = build(tiny_detector, contrast_loss=loss, contrast_cfg=dict(target=target))
        model.contrast_loss.forward = lambda a, b, _m=model.contrast_loss.forward, _n=name: (
            outputs.setdefault(_n, (a, b)), _m(a, b))[1]
        losses = model.loss(*make_batch())
        assert torch.isfinite(losses[f'unsup_loss_{name}'])
    assert outputs['pcl'][0].shape[1] == 3  # person, car, background
    assert outputs['infonce'][0].shape[1] == 32  # fc_out_channels of the shared fcs
    assert outputs['pcl'][0].shape == outputs['pcl'][1].shape


@pytest.mark.parametrize('contrast', [PCL, FCL])
def test_degenerate_target_batch_is_finite(tiny_detector, make_batch, contrast):
    # score threshold 1.0: no pseudo-box; boxes=('pseudo',): no proposals either
    model = build(
        tiny_detector,
        semi_train_cfg=dict(cls_pseudo_thr=1.0),
        contrast_loss=contrast,
        contrast_cfg=dict(boxes=('pseudo', ), target='cls_score' if contrast is PCL else 'roi_feat'))
    losses = model.loss(*make_batch())
    name = [k for k in losses if k.startswith('unsup_loss_') and k[11:] in ('pcl', 'infonce')][0]
    assert losses[name].item() == 0
    assert losses['unsup_loss_cls'].item() == 0  # no pseudo-box: target term switched off
    assert losses['unsup_num_pseudo_boxes'] == 0 and losses['unsup_num_contrast_boxes'] == 0
    loss = total(model, losses)
    assert torch.isfinite(loss)
    loss.backward()
    assert all(torch.isfinite(p.grad).all() for p in model.student.parameters() if p.grad is not None)


def test_boxes_moved_out_of_the_strong_view_are_dropped(tiny_detector, make_batch):
    shift_away = np.array([[1., 0., 500.], [0., 1., 0.], [0., 0., 1.]])
    model = build(tiny_detector, contrast_loss=PCL)
    losses = model.loss(*make_batch(strong_homography=shift_away))
    assert losses['unsup_loss_pcl'].item() == 0
    assert torch.isfinite(total(model, losses))


def test_burn_in_then_teacher_reset(tiny_detector, make_batch):
    model = build(tiny_detector, semi_train_cfg=dict(burn_in_iters=2, cls_pseudo_thr=0.3), contrast_loss=PCL)
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
    assert math.isclose(disc.loss(feats, feats).item(), math.log(2), rel_tol=1e-5)


def test_bad_config_is_rejected(tiny_detector):
    with pytest.raises(ValueError, match='contrast_cfg.target'):
        build(tiny_detector, contrast_loss=PCL, contrast_cfg=dict(target='logits'))
    with pytest.raises(ValueError, match='unknown contrast_cfg'):
        build(tiny_detector, contrast_loss=PCL, contrast_cfg=dict(num_proposal=4))
    with pytest.raises(ValueError, match='boxes'):
        build(tiny_detector, contrast_loss=PCL, contrast_cfg=dict(boxes=('gt', )))
    with pytest.raises(ValueError, match='cls_pseudo_thr'):
        build(tiny_detector, semi_train_cfg=dict(cls_pseudo_thr=1.5))


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
