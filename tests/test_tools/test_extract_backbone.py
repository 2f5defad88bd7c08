"""Export of pretrained backbones and conversion of official checkpoints.

The transfer test is the contract of issue 6: a backbone pretrained here loads into
*stock* mmdet and mmseg configs with no missing or unexpected backbone keys.
"""
import importlib.util
import os.path as osp

import pytest
import torch
from mmengine.hub import get_config
from mmengine.registry import init_default_scope

import mmcontrast.models  # noqa: F401
from mmcontrast.registry import MODELS

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def _tool(name):
    path = osp.join(ROOT, 'tools', 'model_converters', f'{name}.py')
    spec = importlib.util.spec_from_file_location(f'_mmcontrast_tool_{name}', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _build(cfg):
    init_default_scope('mmcontrast')
    return MODELS.build(cfg)


def _mocov2_r18():
    return _build(
        dict(type='MoCo', queue_len=32, feat_dim=16,
             backbone=dict(type='mmdet.ResNet', depth=18, out_indices=(3, ), zero_init_residual=False),
             neck=dict(type='NonLinearNeck', in_channels=512, hid_channels=32, out_channels=16, with_bias=True,
                       with_bn=False)))


@pytest.fixture(scope='module')
def pretrained(tmp_path_factory):
    """A MoCo v2 ResNet-18 'pretraining' checkpoint (random weights, mmengine layout)."""
    torch.manual_seed(0)
    model = _mocov2_r18()
    with torch.no_grad():  # make the weights distinguishable from any initialisation
        for p in model.backbone.parameters():
            p.add_(torch.randn_like(p))
        model.backbone.bn1.running_mean.add_(1.5)
    path = tmp_path_factory.mktemp('ckpt') / 'epoch_1.pth'
    torch.save(dict(state_dict=model.state_dict(), meta=dict(epoch=1)), path)
    return model, str(path)


def _extract(tmp_path, src, *args):
    tool = _tool('extract_backbone')
    weights = tool.extract_backbone(tool.load_state_dict(src), *args)
    dst = tmp_path / f'backbone_{"_".join(map(str, args))}.pth'
    torch.save(dict(state_dict=weights), dst)
    return weights, str(dst)


def _check_loaded(backbone, source):
    ref = source.state_dict()
    got = backbone.state_dict()
    assert set(got) == set(ref), 'backbone keys differ from the pretrained ones'
    for k in ref:
        torch.testing.assert_close(got[k], ref[k], msg=f'{k} was not loaded')


def _faster_rcnn_r18(init_cfg):
    cfg = get_config('mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py')
    cfg.model.backbone.depth = 18
    cfg.model.backbone.init_cfg = init_cfg
    cfg.model.neck.in_channels = [64, 128, 256, 512]
    init_default_scope('mmdet')
    from mmdet.registry import MODELS as MMDET_MODELS
    return MMDET_MODELS.build(cfg.model)


def _fcn_r18b(init_cfg):
    cfg = get_config('mmseg::fcn/fcn_r18b-d8_4xb2-80k_cityscapes-512x1024.py')
    cfg.model.pretrained = None  # the stock config points at torchvision://resnet18
    cfg.model.backbone.init_cfg = init_cfg
    cfg.model.data_preprocessor = None
    init_default_scope('mmseg')
    from mmseg.registry import MODELS as MMSEG_MODELS
    return MMSEG_MODELS.build(cfg.model)


@pytest.mark.parametrize('build', [_faster_rcnn_r18, _fcn_r18b], ids=['mmdet_faster_rcnn', 'mmseg_fcn'])
def test_backbone_loads_into_stock_configs(pretrained, tmp_path, build):
    model, src = pretrained
    plain_weights, plain_ckpt = _extract(tmp_path, src, 'online', False)
    prefixed_weights, prefixed_ckpt = _extract(tmp_path, src, 'online', True)
    assert not any(k.startswith('backbone.') for k in plain_weights)
    assert all(k.startswith('backbone.') for k in prefixed_weights)

    # the stock config with the plain form in its backbone's init_cfg
    model_cfg_init = dict(type='Pretrained', checkpoint=plain_ckpt)
    net = build(model_cfg_init)
    # strict load of exactly what init_weights will read: no missing / unexpected key
    result = net.backbone.load_state_dict(plain_weights, strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    for init_cfg in (model_cfg_init, dict(type='Pretrained', checkpoint=prefixed_ckpt, prefix='backbone.')):
        with torch.no_grad():  # forget the weights, then let the stock init_cfg path load them
            for p in net.backbone.parameters():
                p.zero_()
        net.backbone.init_cfg = init_cfg
        net.backbone._is_init = False
        net.backbone.init_weights()
        _check_loaded(net.backbone, model.backbone)


def test_extract_momentum_encoder_and_errors(pretrained, tmp_path):
    model, src = pretrained
    weights, _ = _extract(tmp_path, src, 'momentum')
    assert set(weights) == set(model.backbone.state_dict())
    tool = _tool('extract_backbone')
    with pytest.raises(KeyError, match='no key starts with'):
        tool.extract_backbone({'neck.mlp.0.weight': torch.zeros(1)})
    with pytest.raises(ValueError, match='source must be'):
        tool.extract_backbone({}, source='teacher')


def _torchvision_resnet_keys(model_backbone, prefix):
    """A torchvision-layout ResNet state dict: mmdet's ResNet keys are torchvision's."""
    return {f'{prefix}{k}': v.clone() for k, v in model_backbone.state_dict().items()}


def test_convert_official_moco_checkpoint():
    torch.manual_seed(0)
    ref = _mocov2_r18()
    sd = {}
    for enc in ('encoder_q', 'encoder_k'):
        sd.update(_torchvision_resnet_keys(ref.backbone, f'module.{enc}.'))
        sd[f'module.{enc}.fc.0.weight'] = torch.randn(32, 512)
        sd[f'module.{enc}.fc.0.bias'] = torch.randn(32)
        sd[f'module.{enc}.fc.2.weight'] = torch.randn(16, 32)
        sd[f'module.{enc}.fc.2.bias'] = torch.randn(16)
    sd['module.queue'] = torch.randn(16, 32)  # official layout [dim, K]
    sd['module.queue_ptr'] = torch.zeros(1, dtype=torch.long)
    converted, dropped = _tool('moco_to_mmcontrast').convert_moco(sd)
    assert dropped == []
    target = _mocov2_r18()
    result = target.load_state_dict(converted, strict=False)
    # only mmengine's EMA step counter has no official counterpart
    assert result.unexpected_keys == [] and result.missing_keys == ['momentum_encoder.steps']
    torch.testing.assert_close(target.queue, sd['module.queue'].t())
    torch.testing.assert_close(target.neck.mlp[2].weight, sd['module.encoder_q.fc.2.weight'])
    torch.testing.assert_close(target.momentum_encoder.module.backbone.conv1.weight,
                               sd['module.encoder_k.conv1.weight'])


def test_convert_ascl_cifar_checkpoint():
    """ASCL's CIFAR code: nn.Sequential ``net`` of torchvision children, no max-pool."""
    torch.manual_seed(0)
    target = _build(
        dict(type='ASCL', queue_len=32, feat_dim=16,
             backbone=dict(type='ResNetCIFAR', depth=18, out_indices=(3, )),
             neck=dict(type='NonLinearNeck', in_channels=512, hid_channels=32, out_channels=16, with_bias=True,
                       with_bn=False)))
    order = ['conv1', 'bn1', 'relu', 'layer1', 'layer2', 'layer3', 'layer4']
    sd = {}
    for enc in ('encoder_q', 'encoder_k'):
        for k, v in target.backbone.state_dict().items():
            head, _, rest = k.partition('.')
            sd[f'{enc}.net.{order.index(head)}.{rest}'] = torch.randn_like(v.float()).to(v.dtype)
        sd[f'{enc}.projector.0.weight'] = torch.randn(32, 512)
        sd[f'{enc}.projector.0.bias'] = torch.randn(32)
        sd[f'{enc}.projector.2.weight'] = torch.randn(16, 32)
        sd[f'{enc}.projector.2.bias'] = torch.randn(16)
    sd.update(queue=torch.randn(16, 32), labels=torch.zeros(32, dtype=torch.long),
              queue_ptr=torch.zeros(1, dtype=torch.long))
    converted, dropped = _tool('moco_to_mmcontrast').convert_moco(sd)
    assert dropped == ['labels']
    result = target.load_state_dict(converted, strict=False)
    assert result.unexpected_keys == [] and result.missing_keys == ['momentum_encoder.steps']
    torch.testing.assert_close(target.backbone.layer4[1].conv2.weight, sd['encoder_q.net.6.1.conv2.weight'])
    torch.testing.assert_close(target.backbone.bn1.running_var, sd['encoder_q.net.1.running_var'])


@pytest.mark.parametrize('legacy', [False, True], ids=['backbone', 'encoder'])
def test_convert_solo_learn_byol_checkpoint(legacy):
    torch.manual_seed(0)
    target = _build(
        dict(type='BYOL', dimcl=dict(type='DimCLLoss'),
             backbone=dict(type='ResNetCIFAR', depth=18, out_indices=(3, )),
             neck=dict(type='NonLinearNeck', in_channels=512, hid_channels=32, out_channels=16, with_bias=True),
             head=dict(type='LatentPredictHead',
                       predictor=dict(type='NonLinearNeck', in_channels=16, hid_channels=32, out_channels=16,
                                      with_bias=True))))
    online, momentum = ('encoder', 'momentum_encoder') if legacy else ('backbone', 'momentum_backbone')
    sd = {}
    for k, v in target.backbone.state_dict().items():
        sd[f'{online}.{k}'] = torch.randn_like(v.float()).to(v.dtype)
        sd[f'{momentum}.{k}'] = torch.randn_like(v.float()).to(v.dtype)
    for name, mod in (('projector', target.neck.mlp), ('momentum_projector', target.neck.mlp),
                      ('predictor', target.head.predictor.mlp)):
        for k, v in mod.state_dict().items():  # Linear, BN1d, ReLU, Linear as in solo-learn
            sd[f'{name}.{k}'] = torch.randn_like(v.float()).to(v.dtype)
    sd['classifier.weight'], sd['classifier.bias'] = torch.randn(10, 512), torch.randn(10)
    converted, dropped = _tool('solo_learn_to_mmcontrast').convert_solo_learn(sd, 'byol')
    assert sorted(dropped) == ['classifier.bias', 'classifier.weight']
    result = target.load_state_dict(converted, strict=False)
    assert result.unexpected_keys == [] and result.missing_keys == ['target_net.steps']
    torch.testing.assert_close(target.target_net.module.backbone.conv1.weight, sd[f'{momentum}.conv1.weight'])
    torch.testing.assert_close(target.head.predictor.mlp[3].weight, sd['predictor.3.weight'])
