"""ContrastiveInjector: taps, terms, start-up checks, checkpoints, DDP-style forward."""
import os.path as osp

import pytest
import torch
from mmdet.testing import demo_mm_inputs
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

from mmcontrast.models.injection import ContrastiveInjector, InjectionConfigError, Source
from mmcontrast.registry import MODELS

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
SUPCON = dict(type='mmcontrast.SupConLoss', temperature=0.1)


def _seg_model_cfg():
    cfg = Config.fromfile(osp.join(ROOT, 'configs/_base_/models/deeplabv3_r18-narrow.py'))
    cfg.model.data_preprocessor.size = (32, 32)
    return cfg.model


def _seg_batch(num=2, size=32, num_classes=8):
    samples = []
    for _ in range(num):
        sample = SegDataSample()
        label = torch.randint(0, num_classes, (1, size, size))
        label[:, :2] = 255  # ignored rows
        sample.gt_sem_seg = PixelData(data=label)
        sample.set_metainfo(dict(img_shape=(size, size), pad_shape=(size, size), ori_shape=(size, size)))
        samples.append(sample)
    return torch.randn(num, 3, size, size), samples


def _build_seg(terms):
    init_default_scope('mmseg')
    return MODELS.build(dict(type='mmcontrast.ContrastiveInjector', model=_seg_model_cfg(), terms=terms))


SEG_SUPCON = dict(
    name='supcon',
    loss=SUPCON,
    inputs=dict(features='decode_head.conv_seg:input', labels='data:gt_sem_seg'),
    projectors=dict(features=dict(out_channels=16)),
    ignore_index=255,
    max_samples=256)


def test_source_parsing():
    assert Source.parse('roi_head.bbox_head.fc_cls') == Source('roi_head.bbox_head.fc_cls', 'output',
                                                               'roi_head.bbox_head.fc_cls')
    src = Source.parse('neck:output[0][1]')
    assert (src.kind, src.path, src.index) == ('output', 'neck', (0, 1))
    src = Source.parse('roi_head.bbox_head.get_targets:return[0]')
    assert (src.kind, src.module_path) == ('return', 'roi_head.bbox_head')
    assert Source.parse('data:gt_sem_seg').kind == 'data'
    for bad in ('neck:inputs', 'a b', 'data:1x', 3):
        with pytest.raises(InjectionConfigError):
            Source.parse(bad)


def test_seg_terms_are_added_and_train_everything():
    torch.manual_seed(0)
    model = _build_seg([
        SEG_SUPCON,
        dict(
            name='pcl',
            loss=dict(type='mmcontrast.PCLLoss'),
            inputs=dict(logits_a='decode_head.conv_seg', logits_b='auxiliary_head.conv_seg'),
            max_samples=128)
    ])
    # the projector's input width was read from conv_seg (64 channels)
    assert model.terms.supcon.projectors.features.in_channels == 64
    inputs, samples = _seg_batch()
    losses = model(inputs, samples, mode='loss')
    assert {'decode.loss_ce', 'aux.loss_ce', 'loss_supcon', 'loss_pcl'} <= set(losses)
    assert losses['loss_supcon'] > 0 and losses['loss_pcl'] > 0
    (losses['loss_supcon'] + losses['loss_pcl']).backward()
    assert model.terms.supcon.projectors.features.layers[0].weight.grad.abs().sum() > 0
    assert model.model.backbone.stem[0].weight.grad.abs().sum() > 0
    # nothing is kept between iterations
    assert model.recorder.values == {}


def test_predict_and_tensor_modes_are_the_wrapped_models():
    model = _build_seg([SEG_SUPCON]).eval()
    inputs, samples = _seg_batch()
    with torch.no_grad():
        preds = model(inputs, samples, mode='predict')
        logits = model(inputs, mode='tensor')
    assert len(preds) == 2 and 'pred_sem_seg' in preds[0]
    assert logits.shape[:2] == (2, 8)
    assert model.recorder.values == {}


def test_loss_weight_is_the_loss_modules():
    model = _build_seg([SEG_SUPCON])
    inputs, samples = _seg_batch()
    torch.manual_seed(1)
    full = model(inputs, samples, mode='loss')['loss_supcon']
    model.terms.supcon.loss.loss_weight = 0.25
    torch.manual_seed(1)
    quarter = model(inputs, samples, mode='loss')['loss_supcon']
    assert quarter.item() == pytest.approx(0.25 * full.item(), rel=1e-4)


def test_unknown_submodule_fails_at_construction_with_suggestions():
    with pytest.raises(InjectionConfigError, match=r"no submodule 'decode_head.conv_sg'.*conv_seg"):
        _build_seg([dict(SEG_SUPCON, inputs=dict(features='decode_head.conv_sg:input', labels='data:gt_sem_seg'))])
    with pytest.raises(InjectionConfigError, match="no method 'get_target'"):
        _build_seg([dict(SEG_SUPCON, inputs=dict(features='decode_head.conv_seg:input',
                                                 labels='decode_head.get_target:return'))])


def test_projector_channels_are_checked_against_the_module():
    term = dict(SEG_SUPCON, projectors=dict(features=dict(in_channels=32, out_channels=16)))
    with pytest.raises(InjectionConfigError, match=r"in_channels=32 .*'decode_head.conv_seg:input'.*64"):
        _build_seg([term])
    # a module that does not tell its width needs in_channels
    term = dict(SEG_SUPCON, inputs=dict(features='backbone:output[3]', labels='data:gt_sem_seg'))
    with pytest.raises(InjectionConfigError, match='give projectors.features.in_channels'):
        _build_seg([term])


def test_loss_arguments_are_checked():
    with pytest.raises(InjectionConfigError, match=r"no argument\(s\) \['feats'\]"):
        _build_seg([dict(SEG_SUPCON, inputs=dict(feats='decode_head.conv_seg:input', labels='data:gt_sem_seg'),
                         projectors=None)])
    with pytest.raises(InjectionConfigError, match=r"needs \['labels'\]"):
        _build_seg([dict(SEG_SUPCON, inputs=dict(features='decode_head.conv_seg:input'))])


def test_paired_inputs_with_different_channels_fail_at_construction():
    term = dict(
        name='pcl',
        loss=dict(type='mmcontrast.PCLLoss'),
        inputs=dict(logits_a='decode_head.conv_seg', logits_b='auxiliary_head.convs.0.conv'))
    with pytest.raises(InjectionConfigError, match=r'same channels.*conv_seg: 8 channels.*: 32 channels'):
        _build_seg([term])


def test_runtime_shape_errors_name_sources_and_shapes():
    # pooled per-image features against a dense label map: rows cannot match
    model = _build_seg([dict(SEG_SUPCON, inputs=dict(features='decode_head.conv_seg:input',
                                                     labels='data:metainfo_only'), projectors=None)])
    inputs, samples = _seg_batch()
    with pytest.raises(InjectionConfigError, match="no field 'metainfo_only'"):
        model(inputs, samples, mode='loss')
    model = _build_seg([dict(SEG_SUPCON, inputs=dict(features='backbone:output[3]', labels='data:gt_sem_seg'),
                             projectors=dict(features=dict(in_channels=32, out_channels=8)))])
    with pytest.raises(InjectionConfigError,
                       match=r"projector of 'features' takes \(N, 32\) rows, got \(\d+, 128\).*backbone:output\[3\]"):
        model(inputs, samples, mode='loss')


def test_a_module_that_runs_twice_is_rejected():
    # a BasicBlock's ReLU module runs after both of its convs
    model = _build_seg([dict(SEG_SUPCON, inputs=dict(features='backbone.layer1.0.relu', labels='data:gt_sem_seg'),
                             projectors=None)])
    inputs, samples = _seg_batch()
    with pytest.raises(InjectionConfigError, match='ran 2 times'):
        model(inputs, samples, mode='loss')


def test_stock_checkpoint_loads_into_the_wrapper():
    init_default_scope('mmseg')
    stock = MODELS.build(_seg_model_cfg())
    model = _build_seg([SEG_SUPCON])
    result = model.load_state_dict(stock.state_dict(), strict=False)
    assert not result.unexpected_keys
    assert all(k.startswith('terms.') for k in result.missing_keys)
    assert torch.equal(model.model.backbone.stem[0].weight, stock.backbone.stem[0].weight)
    # wrapped checkpoints load as they are
    assert not model.load_state_dict(model.state_dict()).missing_keys


def test_faster_rcnn_supcon_on_assigned_roi_targets():
    init_default_scope('mmdet')
    cfg = Config.fromfile(osp.join(ROOT, 'configs/_base_/models/faster-rcnn_r18-narrow-fpn.py'))
    model = ContrastiveInjector(
        model=cfg.model,
        terms=[
            dict(
                name='roi_supcon',
                loss=SUPCON,
                inputs=dict(
                    features='roi_head.bbox_head.fc_cls:input',
                    labels='roi_head.bbox_head.get_targets:return[0]'),
                projectors=dict(features=dict(out_channels=32)),
                ignore_index=2)  # background of the 2-class head
        ])
    torch.manual_seed(0)
    packed = demo_mm_inputs(2, [[3, 64, 64]] * 2, num_items=[4, 4], num_classes=2)
    data = model.data_preprocessor(packed, True)
    captured = {}
    term = model.terms.roi_supcon
    original = term._select_rows
    term._select_rows = lambda rows: captured.setdefault('rows', original(rows))
    losses = model(data['inputs'], data['data_samples'], mode='loss')
    assert torch.isfinite(losses['loss_roi_supcon'])
    labels = captured['rows']['labels']
    assert labels.numel() > 0 and labels.max() < 2  # only foreground RoIs
    assert captured['rows']['features'].shape == (labels.numel(), 256)


def test_terms_survive_mmddp_train_step(tmp_path):
    """MMDistributedDataParallel.train_step calls forward(mode='loss'): the terms must be there."""
    import torch.distributed as dist
    from mmengine.model import MMDistributedDataParallel
    from mmengine.optim import OptimWrapper

    dist.init_process_group('gloo', init_method=f'file://{tmp_path}/pg', rank=0, world_size=1)
    try:
        model = _build_seg([SEG_SUPCON])
        ddp = MMDistributedDataParallel(module=model)
        optim = OptimWrapper(torch.optim.SGD(ddp.parameters(), lr=0.01))
        inputs, samples = _seg_batch()
        data = dict(inputs=[img for img in (inputs * 50 + 128).clamp(0, 255).byte()], data_samples=samples)
        before = model.terms.supcon.projectors.features.layers[0].weight.detach().clone()
        log_vars = ddp.train_step(data, optim)
        assert 'loss_supcon' in log_vars and log_vars['loss_supcon'] > 0
        # the projector (used only by the injected term) was updated through DDP
        assert not torch.equal(before, model.terms.supcon.projectors.features.layers[0].weight)
    finally:
        dist.destroy_process_group()
