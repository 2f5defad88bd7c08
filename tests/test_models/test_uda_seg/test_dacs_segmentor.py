"""DACSSegmentor: losses with/without PCL/FCL/FD, teacher resume, prediction, bad input."""
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))
from mmseg.registry import MODELS as MMSEG_MODELS  # noqa: E402
from uda_seg_helpers import dacs_cfg, fake_batch, float64_step_grads, tiny_segmentor  # noqa: E402

from mmcontrast.registry import MODELS  # noqa: E402
from mmcontrast.utils.scope import build_in_scope  # noqa: E402

PCL_LOSSES = dict(class_pcl=dict(type='mmcontrast.ClassPCLLoss', loss_weight=0.01),
                  pixel_pcl=dict(type='mmcontrast.PixelPCLLoss', loss_weight=0.01, max_pixels=32))
FCL_LOSSES = dict(fcl=dict(type='mmcontrast.InfoNCELoss', loss_weight=0.01))
VIEWS = ('mmcontrast.EHTDIViews', 'mmcontrast.TargetViews', 'mmcontrast.MixedViews')


def contrast(losses: dict, views: str = 'mmcontrast.EHTDIViews', **view_args) -> dict:
    return dict(contrast=dict(views=dict(type=views, feature_pixels=16, **view_args), losses=losses))


PCL = contrast(PCL_LOSSES)
FCL = contrast(FCL_LOSSES)


def build(**kwargs):
    torch.manual_seed(0)
    model = MODELS.build(dacs_cfg(**kwargs))
    model.init_weights()
    return model.train()


def run_loss(model, seed=0):
    data = model.data_preprocessor(fake_batch(seed=seed), training=True)
    return model(**data, mode='loss')


def check_and_backward(model, losses):
    for name, value in losses.items():
        assert torch.isfinite(value).all(), name
    loss, _ = model.parse_losses(losses)
    loss.backward()
    grads = [p.grad for p in model.student.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert all(p.grad is None for p in model.teacher.parameters())


BASE_KEYS = {'src.decode.loss_ce', 'src.aux.loss_ce', 'mix.decode.loss_ce', 'mix.aux.loss_ce', 'mix.pseudo_quality'}


@pytest.mark.parametrize('extra,keys', [
    (dict(), set()),
    *[(contrast(PCL_LOSSES, views), {'tgt.loss_class_pcl', 'tgt.loss_pixel_pcl'}) for views in VIEWS],
    *[(contrast(FCL_LOSSES, views), {'tgt.loss_fcl'}) for views in VIEWS],
    *[(dict(contrast(dict(PCL_LOSSES, **FCL_LOSSES), views), strong_aug=dict(flip_prob=0.5)),
       {'tgt.loss_class_pcl', 'tgt.loss_pixel_pcl', 'tgt.loss_fcl'}) for views in VIEWS],
])
def test_loss_keys_finite_and_backward(extra, keys):
    model = build(**extra)
    losses = run_loss(model)
    loss_keys = {k for k in losses if 'loss' in k or 'quality' in k}
    assert loss_keys == BASE_KEYS | keys
    check_and_backward(model, losses)
    assert int(model.teacher.steps) == 1


def test_contrast_losses_are_active_when_pseudo_labels_are_confident():
    # threshold 0 makes every pixel confident: class PCL has classes, the weight is 1
    views = contrast(dict(PCL_LOSSES, **FCL_LOSSES), 'mmcontrast.TargetViews')
    model = build(pseudo_label=dict(threshold=0.0), **views)
    losses = run_loss(model)
    assert losses['mix.pseudo_quality'].item() == pytest.approx(1.0)
    for key in ('tgt.loss_pixel_pcl', 'tgt.loss_fcl'):
        assert losses[key].item() > 0
    check_and_backward(model, losses)


def test_imnet_feature_distance_loads_and_skips(tmp_path):
    donor = build_in_scope(tiny_segmentor()['backbone'], 'mmseg', MMSEG_MODELS)
    ckpt = tmp_path / 'imnet.pth'
    torch.save(dict(state_dict=donor.state_dict()), ckpt)
    fd = dict(loss_weight=0.005, classes=[1, 2], scale_min_ratio=0.5)
    model = build(imnet_feature_dist=dict(fd, checkpoint=str(ckpt)))
    assert model.feature_dist.available
    for key, value in donor.state_dict().items():
        assert torch.equal(model.feature_dist.backbone.state_dict()[key], value), key
    losses = run_loss(model)
    assert 'src.loss_imnet_fd' in losses and losses['src.loss_imnet_fd'].item() > 0
    check_and_backward(model, losses)
    assert all(p.grad is None for p in model.feature_dist.parameters())

    # No weights anywhere: a warning, no crash, no key.
    for missing in (dict(fd), dict(fd, checkpoint=str(tmp_path / 'absent.pth'))):
        model = build(imnet_feature_dist=missing)
        assert not model.feature_dist.available
        losses = run_loss(model)
        assert 'src.loss_imnet_fd' not in losses
        check_and_backward(model, losses)


def test_imnet_feature_distance_without_thing_pixels_is_zero_not_nan():
    model = build(imnet_feature_dist=dict(checkpoint=None, classes=[3]))
    fd = model.feature_dist
    feats = model.student.backbone(torch.randn(1, 3, 32, 32))
    label = torch.zeros(1, 32, 32, dtype=torch.long)  # no class 3
    value = fd(torch.randn(1, 3, 32, 32), feats, label)
    assert value.item() == 0 and value.requires_grad


def test_teacher_resume_and_predict_on():
    model = build()
    for seed in range(3):
        model.zero_grad()
        check_and_backward(model, run_loss(model, seed))
    state = model.state_dict()
    assert int(state['teacher.steps']) == 3 and any(k.startswith('teacher.module.') for k in state)
    fresh = build()
    fresh.load_state_dict(state)
    for key, value in model.state_dict().items():
        assert torch.equal(value, fresh.state_dict()[key]), key
    img = [torch.randint(0, 256, (3, 32, 32), dtype=torch.uint8)]
    data = fake_batch(batch_size=1)
    batch = dict(inputs=img, data_samples=data['data_samples']['target'])
    model.eval()
    fresh.eval()
    assert model.semi_test_cfg['predict_on'] == 'student'  # DAFormer reports the student
    student_logits = model.test_step(batch)[0].seg_logits.data
    model.semi_test_cfg['predict_on'] = fresh.semi_test_cfg['predict_on'] = 'teacher'
    teacher_logits = model.test_step(batch)[0].seg_logits.data
    assert torch.equal(teacher_logits, fresh.test_step(batch)[0].seg_logits.data)
    assert not torch.equal(teacher_logits, student_logits)
    model.semi_test_cfg['predict_on'] = 'both'
    with pytest.raises(ValueError, match='predict_on'):
        model.test_step(batch)


def test_teacher_modes_follow_the_policy():
    # DAFormer (mmseg/models/uda/dacs.py L264-268): train mode, dropout and drop-path off.
    model = build()
    model.train()
    dropouts = [m for m in model.teacher.module.modules() if isinstance(m, torch.nn.Dropout2d)]
    assert dropouts and model.teacher.module.training and not any(m.training for m in dropouts)
    model.eval()
    assert not model.teacher.module.training
    legacy = build(teacher=dict(type='mmcontrast.EvalModeTeacher', alpha=0.99))
    legacy.train()
    assert legacy.student.training and not legacy.teacher.module.training


def test_bad_inputs_raise_clear_errors():
    model = build()
    data = model.data_preprocessor(fake_batch(), training=True)
    with pytest.raises(ValueError, match='multi-branch'):
        model.loss(data['inputs']['source'], data['data_samples'])
    bad = dict(source=data['inputs']['source'], target=data['inputs']['target'][:, :, :16])
    with pytest.raises(ValueError, match='same shape'):
        model.loss(bad, data['data_samples'])
    with pytest.raises(TypeError, match=r'contrast_view -> contrast=dict\(views='):
        build(contrast_view='target')
    with pytest.raises(TypeError, match='unknown arguments'):
        build(contrast_mode='target')
    with pytest.raises(ValueError, match='unknown keys'):
        build(contrast=dict(view=dict()))
    with pytest.raises(ValueError, match='data_preprocessor'):
        cfg = dacs_cfg()
        cfg['segmentor'].pop('data_preprocessor')
        MODELS.build(cfg)


def test_dlv2_segmentor_with_fcl_features_from_backbone():
    model = build(segmentor=tiny_segmentor(head='DLV2Head', aux=False), **FCL, pseudo_label=dict(threshold=0.0))
    losses = run_loss(model)
    assert {'src.decode.loss_ce', 'mix.decode.loss_ce', 'tgt.loss_fcl'} <= set(losses)
    check_and_backward(model, losses)



@pytest.mark.parametrize('views', ['mmcontrast.EHTDIViews', 'mmcontrast.MixedViews'])
def test_weak_grad_false_backpropagates_the_strong_view_only(views, monkeypatch):
    """weak_grad=False: one step's gradients equal EHTDI's step with the weak outputs detached
    inside the terms, and differ from EHTDI's own (weak_grad=True) step."""
    from mmcontrast.models.uda.seg.contrast_views import ContrastViewBuilder
    losses = dict(PCL_LOSSES, **FCL_LOSSES)
    seen = []
    terms = ContrastViewBuilder.terms

    def grads(weak_grad: bool, detach_in_terms: bool = False) -> dict:
        def spy_terms(self, loss_modules, v):
            seen.append(v.logits_weak.requires_grad)
            if detach_in_terms:
                v = v._replace(logits_weak=v.logits_weak.detach(), feats_weak=v.feats_weak.detach())
            return terms(self, loss_modules, v)

        monkeypatch.setattr(ContrastViewBuilder, 'terms', spy_terms)
        model = build(pseudo_label=dict(threshold=0.0), backward=dict(type='mmcontrast.SummedBackward'),
                      **contrast(losses, views, weak_grad=weak_grad))
        out, student_grads = float64_step_grads(model)
        assert all(out[k].item() > 0 for k in ('tgt.loss_class_pcl', 'tgt.loss_pixel_pcl', 'tgt.loss_fcl'))
        return student_grads

    without = grads(weak_grad=False)
    detached = grads(weak_grad=True, detach_in_terms=True)
    both = grads(weak_grad=True)
    assert seen == [False, True, True]  # the weak forward built no graph
    assert without.keys() == detached.keys() == both.keys() and len(without) > 10
    for name in without:
        torch.testing.assert_close(without[name], detached[name], rtol=1e-10, atol=1e-13, msg=name)
    assert any(not torch.allclose(without[n], both[n]) for n in without)


def test_weak_grad_is_refused_where_the_views_share_a_forward():
    with pytest.raises(ValueError, match='one batch.*BatchNorm'):
        build(**contrast(PCL_LOSSES, 'mmcontrast.TargetViews', weak_grad=False))
    with pytest.raises(TypeError, match='weak_grad must be a bool'):
        build(**contrast(PCL_LOSSES, 'mmcontrast.EHTDIViews', weak_grad='no'))
