"""Self-supervised algorithms, their parts, and the image classifier."""
import math

import pytest
import torch
import torch.nn.functional as F
from mmengine.logging import MessageHub
from mmengine.registry import init_default_scope
from mmengine.structures import BaseDataElement

import mmcontrast.models  # noqa: F401
from mmcontrast.models.losses.pauc import proto_nce_loss
from mmcontrast.registry import MODELS


@pytest.fixture(autouse=True)
def _mmcontrast_scope():
    # Unprefixed types in this file are ours (tests/conftest.py restores the scope).
    init_default_scope('mmcontrast')


BACKBONE = dict(type='ResNetCIFAR', depth=18, base_channels=4, out_indices=(3, ), zero_init_residual=False)
FEAT = 32  # 8 * base_channels


def mlp(in_c, out_c, **kw):
    return dict(type='NonLinearNeck', in_channels=in_c, hid_channels=16, out_channels=out_c, **kw)


MOCO_NECK = mlp(FEAT, 8, with_bias=True, with_bn=False)
PRED_HEAD = dict(type='LatentPredictHead', predictor=mlp(8, 8))
ALGOS = {
    'mocov2': dict(type='MoCo', backbone=BACKBONE, neck=MOCO_NECK, queue_len=20, feat_dim=8),
    'mocov2_dimcl': dict(type='MoCo', backbone=BACKBONE, neck=MOCO_NECK, queue_len=20, feat_dim=8,
                         dimcl=dict(type='DimCLLoss')),
    'ascl': dict(type='ASCL', backbone=BACKBONE, neck=MOCO_NECK, queue_len=20, feat_dim=8),
    'protonce': dict(type='ProtoNCE', backbone=BACKBONE, neck=MOCO_NECK, queue_len=20, feat_dim=8),
    'pauc': dict(type='PAUC', backbone=BACKBONE, neck=MOCO_NECK, queue_len=20, feat_dim=8),
    'byol': dict(type='BYOL', backbone=BACKBONE, neck=mlp(FEAT, 8), head=PRED_HEAD),
    'byol_dimcl': dict(type='BYOL', backbone=BACKBONE, neck=mlp(FEAT, 8), head=PRED_HEAD,
                       dimcl=dict(type='DimCLLoss', temperature=0.1), dimcl_weight=0.1),
    'simsiam': dict(type='SimSiam', backbone=BACKBONE,
                    neck=mlp(FEAT, 8, num_layers=3, with_last_bn=True, with_last_bn_affine=False),
                    head=dict(type='LatentPredictHead', shift=0., scale=1., predictor=mlp(8, 8))),
    'simsiam_dimcl': dict(type='SimSiam', backbone=BACKBONE, neck=mlp(FEAT, 8), dimcl=dict(type='DimCLLoss'),
                          head=dict(type='LatentPredictHead', shift=0., scale=1., predictor=mlp(8, 8))),
}


def batch(n=8, views=2, size=16):
    torch.manual_seed(0)
    inputs = [[torch.randint(0, 256, (3, size, size), dtype=torch.uint8) for _ in range(n)] for _ in range(views)]
    samples = [BaseDataElement(metainfo=dict(sample_idx=i), gt_label=torch.tensor(i % 3)) for i in range(n)]
    return dict(inputs=inputs, data_samples=samples)


def build(name, **kw):
    torch.manual_seed(0)
    model = MODELS.build(dict(ALGOS[name], **kw))
    model.init_weights()
    return model.train()


def test_resnet_cifar_keeps_mmdet_keys_and_resolution():
    net = MODELS.build(dict(BACKBONE, out_indices=(0, 3)))
    ref = MODELS.build(dict(type='mmdet.ResNet', depth=18, base_channels=4))
    assert set(net.state_dict()) == set(ref.state_dict())
    assert net.conv1.weight.shape[-2:] == (3, 3) and net.conv1.stride == (1, 1)
    feats = net(torch.randn(2, 3, 32, 32))
    assert feats[0].shape == (2, 4, 32, 32) and feats[1].shape == (2, 32, 4, 4)  # no stem down-sampling
    with pytest.raises(ValueError, match='deep_stem'):
        MODELS.build(dict(BACKBONE, deep_stem=True))


def test_selfsup_preprocessor_views_and_single():
    pre = MODELS.build(dict(type='SelfSupDataPreprocessor', mean=[0., 0., 0.], std=[255., 255., 255.]))
    out = pre(batch(n=3, views=3), training=True)
    assert len(out['inputs']) == 3 and all(v.shape == (3, 3, 16, 16) for v in out['inputs'])
    raw = batch(n=3, views=3)['inputs'][1][2]
    torch.testing.assert_close(out['inputs'][1][2], raw.flip(0).float() / 255)  # BGR -> RGB, scaled
    single = pre(dict(inputs=batch(n=2)['inputs'][0]), training=False)['inputs']
    assert isinstance(single, torch.Tensor) and single.shape == (2, 3, 16, 16)


@pytest.mark.parametrize('name', sorted(ALGOS))
def test_algorithm_trains(name):
    model = build(name)
    data = model.data_preprocessor(batch(), True)
    losses = model(**data, mode='loss')
    assert ('loss_dimcl' in losses) == ('dimcl' in name)
    total = sum(v for k, v in losses.items() if 'loss' in k)
    assert torch.isfinite(total)
    total.backward()
    assert model.backbone.conv1.weight.grad is not None
    assert model.backbone.conv1.weight.grad.abs().sum() > 0
    for attr in ('momentum_encoder', 'target_net'):
        if hasattr(model, attr):
            assert all(p.grad is None and not p.requires_grad for p in getattr(model, attr).parameters())
    feats = model(data['inputs'], mode='tensor')
    assert feats[-1].shape == (8, FEAT, 2, 2)


def test_dimcl_mixes_with_weight():
    plain, mixed = build('byol'), build('byol_dimcl')
    data = plain.data_preprocessor(batch(), True)
    base = plain(**data, mode='loss')['loss']
    losses = mixed(**data, mode='loss')
    torch.testing.assert_close(losses['loss'], 0.9 * base)  # same init, same data: (1 - lam) * L
    assert losses['loss_dimcl'] > 0


def test_single_view_is_refused():
    model = build('mocov2')
    data = model.data_preprocessor(batch(views=1), True)
    with pytest.raises(ValueError, match='needs 2 views'):
        model(**data, mode='loss')


def test_moco_queue_and_momentum_update():
    model = build('mocov2', momentum=0.9)
    data = model.data_preprocessor(batch(), True)
    old_queue = model.queue.clone()
    model(**data, mode='loss')  # first update copies the online weights
    assert int(model.queue_ptr) == 8
    assert torch.allclose(model.queue[8:], old_queue[8:]) and not torch.allclose(model.queue[:8], old_queue[:8])
    torch.testing.assert_close(model.queue[:8].norm(dim=1), torch.ones(8))
    online_before = model.backbone.conv1.weight.detach().clone()
    key_before = model.momentum_encoder.module.backbone.conv1.weight.clone()
    with torch.no_grad():
        model.backbone.conv1.weight.add_(1.0)
    model(**data, mode='loss')
    expected = 0.9 * key_before + 0.1 * (online_before + 1.0)
    torch.testing.assert_close(model.momentum_encoder.module.backbone.conv1.weight, expected)
    model(**data, mode='loss')  # 24 keys into 20 slots: wraps around
    assert int(model.queue_ptr) == 4


def test_moco_split_bn_emulation():
    model = build('mocov2', bn_splits=4)
    data = model.data_preprocessor(batch(), True)
    assert torch.isfinite(model(**data, mode='loss')['loss'])
    with pytest.raises(ValueError, match='not divisible by bn_splits'):
        model(**model.data_preprocessor(batch(n=6), True), mode='loss')


def test_ascl_uses_weak_view_for_keys():
    model = build('ascl')
    assert (model.query_view, model.key_view) == (1, 0)
    assert (model.queue_len, model.momentum_encoder.momentum) == (20, pytest.approx(0.01))
    assert type(model.head).__name__ == 'ASCLLoss'


def test_byol_cosine_momentum_schedule():
    model = build('byol', base_momentum=0.99, end_momentum=1.0)
    hub = MessageHub.get_current_instance()
    hub.update_info('max_iters', 100)
    try:
        for it, paper_m in ((0, 0.99), (25, 1 - 0.01 * (math.cos(math.pi / 4) + 1) / 2), (50, 0.995), (100, 1.0)):
            hub.update_info('iter', it)
            assert model.target_net.current_momentum() == pytest.approx(1 - paper_m, abs=1e-9)
    finally:
        hub.update_info('iter', None)
        hub.update_info('max_iters', None)


@pytest.mark.parametrize('name', ['protonce', 'pauc'])
def test_protonce_uses_clusters_of_the_batch(name, monkeypatch):
    model = build(name)
    data = model.data_preprocessor(batch(), True)
    seen = {}
    forward = model.head.forward

    def spy(q, k, queue, prototypes, assignments, concentrations):
        seen.update(q=q, k=k, queue=queue, assignments=assignments)
        return forward(q, k, queue, prototypes, assignments, concentrations)

    monkeypatch.setattr(model.head, 'forward', spy)
    warm = model(**data, mode='loss')['loss']
    assert seen['assignments'] == []  # warm-up: InfoNCE only
    torch.manual_seed(1)
    protos = [F.normalize(torch.randn(4, 8), dim=1), F.normalize(torch.randn(6, 8), dim=1)]
    assigns = [torch.arange(20) % 4, torch.arange(20).flip(0) % 6]  # 20 dataset samples
    concs = [torch.full((4, ), 0.2), torch.full((6, ), 0.3)]
    model.set_clusters(protos, assigns, concs)
    loss = model(**data, mode='loss')['loss']
    assert [a.tolist() for a in seen['assignments']] == [assigns[0][:8].tolist(), assigns[1][:8].tolist()]
    if name == 'protonce':  # the loss is the library's ProtoNCE on the batch's clusters
        ref = proto_nce_loss(seen['q'], seen['k'], seen['queue'], protos, seen['assignments'], concs)
        torch.testing.assert_close(loss, ref)
    assert not torch.isclose(loss, warm)
    with pytest.raises(KeyError, match='sample_idx'):
        data['data_samples'] = [BaseDataElement() for _ in range(8)]
        model(**data, mode='loss')
    with pytest.raises(ValueError, match='same dataset'):
        model.set_clusters(protos, [assigns[0], assigns[1][:5]], concs)
    model.clear_clusters()
    assert not model.has_clusters


def test_image_classifier_linear_probe():
    torch.manual_seed(0)
    model = MODELS.build(
        dict(type='ImageClassifier', backbone=BACKBONE, frozen=True,
             head=dict(type='LinearClsHead', num_classes=3, in_channels=FEAT, topk=(1, 2))))
    model.init_weights()
    model.train()
    assert not model.backbone.training and model.head.training
    assert not any(p.requires_grad for p in model.backbone.parameters())
    data = model.data_preprocessor(dict(inputs=batch()['inputs'][0], data_samples=batch()['data_samples']), True)
    losses = model(**data, mode='loss')
    assert set(losses) == {'loss', 'accuracy_top-1', 'accuracy_top-2'}
    losses['loss'].backward()
    assert model.head.fc.weight.grad is not None
    preds = model(**data, mode='predict')
    assert preds[0].pred_score.shape == (3, ) and int(preds[0].pred_label) == int(preds[0].pred_score.argmax())
    assert model(data['inputs']).shape == (8, 3)
    with pytest.raises(ValueError, match='labels must lie'):
        data['data_samples'][0].gt_label = torch.tensor(7)
        model(**data, mode='loss')


def test_classifier_builds_under_a_foreign_default_scope():
    """Our models resolve their unprefixed children even from an mmdet/mmseg config."""
    init_default_scope('mmdet')
    model = MODELS.build(dict(type='mmcontrast.ImageClassifier', backbone=BACKBONE,
                              head=dict(type='LinearClsHead', num_classes=3, in_channels=FEAT)))
    assert type(model.neck).__name__ == 'GlobalAveragePooling'
