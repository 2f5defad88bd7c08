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


# ---------------------------------------------------------------------------------------------
# Issue 13, item 7: the pretrain-to-UDA path into the *real* UDA configs, with a strict load.
# ---------------------------------------------------------------------------------------------
from mmengine.config import Config  # noqa: E402

from mmcontrast.models.backbones import StrictPretrainedInit, compare_state_dicts  # noqa: E402
from mmcontrast.utils.scope import build_in_scope  # noqa: E402

UDA_SEG_CFG = osp.join(ROOT, 'configs/uda_seg/daformer_deeplabv2red-r101-d8_1xb2-40k_gta2cs-512x512.py')
UDA_DET_CFG = osp.join(ROOT, 'configs/uda_det/mean-teacher_faster-rcnn_r50_fpn_24k_city2foggy.py')
R101V1C_CFG = osp.join(ROOT, 'configs/selfsup/mocov2/mocov2_resnetv1c101_8xb32-coslr-200e_in1k.py')
R50_CFG = osp.join(ROOT, 'configs/selfsup/mocov2/mocov2_resnet50_8xb32-coslr-200e_in1k.py')
TRANSFER = osp.join(ROOT, 'configs/selfsup/transfer')


def _meta_build(cfg_path, scope):
    """The whole model of a config on the meta device: every key and shape, no memory."""
    init_default_scope(scope)
    cfg = Config.fromfile(cfg_path)
    with torch.device('meta'):
        return MODELS.build(cfg.model) if scope != 'mmcontrast' else build_in_scope(cfg.model)


def _pretraining_export(cfg_path, tmp_path, name, source='online'):
    """A checkpoint shaped like epoch_N.pth of a pretraining config, then its extracted backbone.

    The pretraining model is built on the meta device (a ResNet-101 and its momentum copy cost
    nothing there); its backbone keys get real random tensors of the same shapes.
    """
    model = _meta_build(cfg_path, 'mmcontrast')
    gen = torch.Generator().manual_seed(0)
    state = {
        k: (torch.randn(v.shape, generator=gen) if v.is_floating_point() else torch.zeros(v.shape, dtype=v.dtype))
        for k, v in model.state_dict().items() if k.startswith(('backbone.', 'momentum_encoder.module.backbone.'))
    }
    src = tmp_path / f'{name}_epoch_200.pth'
    torch.save(dict(state_dict=state), src)
    tool = _tool('extract_backbone')
    weights = tool.extract_backbone(tool.load_state_dict(str(src)), source)
    dst = tmp_path / f'{name}.pth'
    torch.save(dict(state_dict=weights), dst)
    return weights, str(dst)


def _real_backbone(cfg_path, path_in_model, scope, init_cfg):
    """The student backbone of a real UDA config, built for real, with ``init_cfg`` swapped in."""
    cfg = Config.fromfile(cfg_path)
    node = cfg.model
    for key in path_in_model:
        node = node[key]
    backbone = dict(node, init_cfg=init_cfg)
    backbone.pop('pretrained', None)
    init_default_scope(scope)
    return build_in_scope(backbone, scope)


@pytest.mark.parametrize(
    'pretrain_cfg,uda_cfg,scope,student,cfg_path',
    [(R101V1C_CFG, UDA_SEG_CFG, 'mmseg', ('student', 'backbone'), ('segmentor', 'backbone')),
     (R50_CFG, UDA_DET_CFG, 'mmdet', ('student', 'backbone'), ('detector', 'backbone'))],
    ids=['r101v1c_to_daformer_deeplabv2', 'r50_to_mean_teacher_faster_rcnn'])
def test_pretraining_export_loads_strictly_into_real_uda_configs(tmp_path, pretrain_cfg, uda_cfg, scope, student,
                                                                  cfg_path):
    weights, ckpt = _pretraining_export(pretrain_cfg, tmp_path, osp.basename(pretrain_cfg)[:-3])
    # 1. the real UDA model's student backbone (whole wrapper built on the meta device): same keys
    #    and shapes, nothing missing, nothing unexpected
    uda = _meta_build(uda_cfg, scope)
    target = uda
    for name in student:
        target = getattr(target, name)
    missing, unexpected, mismatched = compare_state_dicts(weights, target.state_dict())
    assert (len(missing), len(unexpected), len(mismatched)) == (0, 0, 0), (missing[:3], unexpected[:3])
    assert len(weights) == len(target.state_dict()) == (636 if scope == 'mmseg' else 318)
    # 2. the same backbone config built for real, initialised by StrictPretrained through the
    #    stock init_weights path: every tensor arrives
    backbone = _real_backbone(uda_cfg, cfg_path, scope, dict(type='mmcontrast.StrictPretrained', checkpoint=ckpt))
    backbone.init_weights()
    for key, value in backbone.state_dict().items():
        torch.testing.assert_close(value, weights[key], msg=f'{key} was not loaded')


def test_mismatched_backbone_is_an_error_naming_the_counts(tmp_path):
    """Today's failure: an R-50 export in the DeepLabV2 (ResNetV1c-101) config left 324 of 636
    tensors random with warnings only. StrictPretrained refuses it, with the counts."""
    _, r50 = _pretraining_export(R50_CFG, tmp_path, 'r50')
    init = dict(type='mmcontrast.StrictPretrained', checkpoint=r50)
    backbone = _real_backbone(UDA_SEG_CFG, ('segmentor', 'backbone'), 'mmseg', init)
    target = backbone.state_dict()
    missing, unexpected, mismatched = compare_state_dicts(torch.load(r50)['state_dict'], target)
    with pytest.raises(RuntimeError) as err:
        backbone.init_weights()
    text = str(err.value)
    assert f'{len(missing)} missing and {len(unexpected)} unexpected keys' in text
    assert f'{len(mismatched)} of another shape' in text and 'allow_partial' in text
    # 636 tensors with num_batches_tracked: 324 keep their random init (missing or reshaped)
    random_left = len(missing) + len(mismatched) + sum(
        1 for k in target if k.endswith('num_batches_tracked') and k not in torch.load(r50)['state_dict'])
    assert (len(target), random_left) == (636, 324)
    # the explicit opt-out loads what fits and warns
    before = backbone.layer1[0].conv1.weight.detach().clone()
    partial = _real_backbone(UDA_SEG_CFG, ('segmentor', 'backbone'), 'mmseg', dict(init, allow_partial=True))
    partial.init_weights()
    torch.testing.assert_close(partial.layer1[0].conv1.weight, torch.load(r50)['state_dict']['layer1.0.conv1.weight'])
    assert not torch.equal(before, partial.layer1[0].conv1.weight)


def test_strict_pretrained_prefix_and_registry(tmp_path, pretrained):
    model, src = pretrained
    from mmengine.registry import WEIGHT_INITIALIZERS
    init_default_scope('mmdet')  # a foreign scope reaches it by its scoped name
    assert WEIGHT_INITIALIZERS.get('mmcontrast.StrictPretrained') is StrictPretrainedInit
    net = _mocov2_r18().backbone
    with torch.no_grad():
        for p in net.parameters():
            p.zero_()
    StrictPretrainedInit(checkpoint=src, prefix='backbone.')(net)
    _check_loaded(net, model.backbone)
    with pytest.raises(KeyError, match='no key starts with'):
        StrictPretrainedInit(checkpoint=src, prefix='teacher.')(net)
    with pytest.raises(RuntimeError, match=r'0 missing and \d+ unexpected'):  # the whole MoCo, no prefix
        StrictPretrainedInit(checkpoint=src)(net)


def test_transfer_configs_use_strict_loading_of_the_exports():
    seg = Config.fromfile(osp.join(TRANSFER, 'daformer_deeplabv2red-r101v1c-mocov2_1xb2-40k_gta2cs-512x512.py'))
    assert seg.model.segmentor.pretrained is None
    assert seg.model.segmentor.backbone.type == 'ResNetV1c' and seg.model.segmentor.backbone.depth == 101
    assert seg.model.segmentor.backbone.init_cfg.type == 'mmcontrast.StrictPretrained'
    frozen = Config.fromfile(osp.join(TRANSFER, 'mean-teacher_faster-rcnn_r50-mocov2_fpn_24k_city2foggy.py'))
    moco = Config.fromfile(osp.join(TRANSFER, 'mean-teacher_faster-rcnn_r50-mocov2-syncbn_fpn_24k_city2foggy.py'))
    fb, mb = frozen.model.detector.backbone, moco.model.detector.backbone
    # mmdet's default transfer: frozen BN statistics and a frozen stem + stage 1
    assert (fb.norm_eval, fb.frozen_stages, fb.norm_cfg.type) == (True, 1, 'BN')
    # MoCo's (facebookresearch/moco detection/configs/Base-RCNN-C4-BN.yaml L8-11 at 3631be0:
    # FREEZE_AT 0, NORM SyncBN): trained SyncBN, nothing frozen, SyncBN in the new FPN layers too
    assert (mb.norm_eval, mb.frozen_stages, mb.norm_cfg.type, mb.norm_cfg.requires_grad) == (False, -1, 'SyncBN', True)
    assert moco.model.detector.neck.norm_cfg.type == 'SyncBN'
    assert moco.custom_hooks[0].skip_buffer is False  # the teacher follows the trained BN statistics
    for cfg in (frozen, moco):
        assert cfg.model.detector.backbone.init_cfg.type == 'mmcontrast.StrictPretrained'
    # both build (meta device) with the real detector wrapper
    init_default_scope('mmdet')
    with torch.device('meta'):
        det = MODELS.build(moco.model)
    assert type(det.student.backbone.layer1[0].bn1).__name__ == 'SyncBatchNorm'


# ---------------------------------------------------------------------------------------------
# mmpretrain model-zoo checkpoints: momentum keys and the queue layout.
# ---------------------------------------------------------------------------------------------
def _mmpretrain_neck(neck, prefix):
    """Our NonLinearNeck's mlp.<i> as mmpretrain's fc<k> / bn<k> (necks/nonlinear_neck.py L61-87)."""
    out = {}
    for k, v in neck.state_dict().items():
        idx, tail = k[len('mlp.'):].split('.', 1)
        idx = int(idx)
        name = f'fc{idx // 3}' if idx % 3 == 0 else f'bn{idx // 3}'
        out[f'{prefix}{name}.{tail}'] = v.clone()
    return out


def test_mmpretrain_mocov2_checkpoint_momentum_keys_and_queue(tmp_path):
    """mmpretrain MoCo: ``encoder_k = ExponentialMovingAverage(nn.Sequential(backbone, neck))``
    (mmpretrain/models/selfsup/moco.py L65-66), queue ``[feat_dim, queue_len]`` (L70)."""
    torch.manual_seed(0)
    ours = _mocov2_r18()
    sd = {}
    for k, v in ours.backbone.state_dict().items():
        sd[f'backbone.{k}'] = v.clone()
        sd[f'encoder_k.module.0.{k}'] = v.clone() + (1.0 if v.is_floating_point() else 0)
    for k, v in ours.neck.state_dict().items():  # MoCoV2Neck: mlp.{0,2} as ours
        sd[f'neck.{k}'] = v.clone()
        sd[f'encoder_k.module.1.{k}'] = v.clone()
    sd['encoder_k.steps'] = torch.tensor(100)
    sd['queue'] = torch.randn(16, 32)
    sd['queue_ptr'] = torch.tensor([8])
    src = tmp_path / 'mmpretrain_mocov2.pth'
    torch.save(dict(state_dict=sd, meta=dict()), src)
    tool = _tool('extract_backbone')
    momentum = tool.extract_backbone(tool.load_state_dict(str(src)), 'momentum')
    assert set(momentum) == set(ours.backbone.state_dict())
    torch.testing.assert_close(momentum['conv1.weight'], sd['encoder_k.module.0.conv1.weight'])
    converted, dropped = _tool('mmpretrain_to_mmcontrast').convert_mmpretrain(sd)
    assert dropped == []
    result = ours.load_state_dict(converted, strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    torch.testing.assert_close(ours.queue, sd['queue'].t())
    assert int(ours.momentum_encoder.steps) == 100
    torch.testing.assert_close(ours.momentum_encoder.module.backbone.conv1.weight,
                               sd['encoder_k.module.0.conv1.weight'])


@pytest.mark.parametrize('layout', ['mmpretrain', 'mmselfsup0x'])
def test_mmpretrain_byol_checkpoint_converts(tmp_path, layout):
    """mmpretrain BYOL: ``target_net = CosineEMA(nn.Sequential(backbone, neck))`` (byol.py L55-56),
    NonLinearNeck fc<i>/bn<i>; mmselfsup 0.x: online_net.{0,1} / target_net.{0,1}."""
    torch.manual_seed(0)
    ours = _build(
        dict(type='BYOL', backbone=dict(type='ResNetCIFAR', depth=18, base_channels=8, out_indices=(3, )),
             neck=dict(type='NonLinearNeck', in_channels=64, hid_channels=32, out_channels=16, with_bias=True),
             head=dict(type='LatentPredictHead',
                       predictor=dict(type='NonLinearNeck', in_channels=16, hid_channels=32, out_channels=16,
                                      with_bias=True))))
    online, target = ('backbone.', 'target_net.module.0.') if layout == 'mmpretrain' else ('online_net.0.',
                                                                                         'target_net.0.')
    online_neck, target_neck = ('neck.', 'target_net.module.1.') if layout == 'mmpretrain' else ('online_net.1.',
                                                                                               'target_net.1.')
    sd = {}
    for k, v in ours.backbone.state_dict().items():
        sd[online + k] = torch.randn_like(v.float()).to(v.dtype)
        sd[target + k] = torch.randn_like(v.float()).to(v.dtype)
    sd.update(_mmpretrain_neck(ours.neck, online_neck))
    sd.update(_mmpretrain_neck(ours.neck, target_neck))
    sd.update(_mmpretrain_neck(ours.head.predictor, 'head.predictor.'))
    if layout == 'mmpretrain':
        sd['target_net.steps'] = torch.tensor(7)
    tool = _tool('extract_backbone')
    assert set(tool.extract_backbone(sd, 'momentum')) == set(ours.backbone.state_dict())
    converted, dropped = _tool('mmpretrain_to_mmcontrast').convert_mmpretrain(sd)
    assert dropped == []
    result = ours.load_state_dict(converted, strict=False)
    expected_missing = [] if layout == 'mmpretrain' else ['target_net.steps']
    assert result.unexpected_keys == [] and result.missing_keys == expected_missing
    torch.testing.assert_close(ours.target_net.module.backbone.conv1.weight, sd[target + 'conv1.weight'])
    torch.testing.assert_close(ours.neck.mlp[3].weight, sd[online_neck + 'fc1.weight'])
    torch.testing.assert_close(ours.head.predictor.mlp[1].running_var, sd['head.predictor.bn0.running_var'])
