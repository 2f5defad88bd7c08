"""DACSSegmentor around shrunk *stock* mmseg configs, one family of segmentor at a time.

Each family loads a shipped mmseg config (``mmseg::``) or a repo base config, shrinks it to a
few-kB network (32x32 crops, 4 classes), wraps it with the PCL terms, trains two iterations
and predicts. Refused families must fail at construction with a TypeError saying why.
"""
import copy
import logging
import sys
from pathlib import Path
from unittest import mock

import pytest
import torch
from mmengine.config import Config, ConfigDict
from mmengine.optim import OptimWrapper
from mmengine.utils import get_installed_path
from mmseg.structures import SegDataSample

sys.path.insert(0, str(Path(__file__).parent))
from uda_seg_helpers import NUM_CLASSES, fake_batch, tiny_segmentor  # noqa: E402

from mmcontrast.registry import MODELS  # noqa: E402

REPO_CONFIGS = Path(__file__).parents[3] / 'configs' / '_base_' / 'uda'
SIZE = 32
PCL = dict(views=dict(type='mmcontrast.EHTDIViews'),
           losses=dict(class_pcl=dict(type='mmcontrast.ClassPCLLoss', loss_weight=0.01),
                       pixel_pcl=dict(type='mmcontrast.PixelPCLLoss', loss_weight=0.01, max_pixels=64)))
FCL_LOSS = dict(fcl=dict(type='mmcontrast.InfoNCELoss', loss_weight=0.01))
TGT_KEYS = {'tgt.loss_class_pcl', 'tgt.loss_pixel_pcl'}


# ------------------------------------------------------------------ shrinking stock configs
def _sync_bn_to_bn(cfg):
    """SyncBN -> BN everywhere (single process, CPU)."""
    if isinstance(cfg, dict):
        if cfg.get('type') == 'SyncBN':
            cfg['type'] = 'BN'
        for value in cfg.values():
            _sync_bn_to_bn(value)
    elif isinstance(cfg, (list, tuple)):
        for value in cfg:
            _sync_bn_to_bn(value)
    return cfg


def _fromfile(path: str) -> Config:
    """``Config.fromfile`` that also takes ``mmseg::<config>`` (mmengine resolves that prefix in
    ``_base_`` only): the configs mmseg ships in its installed ``.mim/configs``."""
    if path.startswith('mmseg::'):
        path = str(Path(get_installed_path('mmseg')) / '.mim' / 'configs' / path[len('mmseg::'):])
    return Config.fromfile(path)


def _load(path: str, size: int = SIZE) -> ConfigDict:
    """``model`` of a stock config, without weights, with plain BN and ``size`` crops."""
    model = copy.deepcopy(_fromfile(path).model)
    model.pretrained = None
    model.backbone.init_cfg = None
    model.data_preprocessor.size = (size, size)
    return _sync_bn_to_bn(model)


def _heads(model: ConfigDict):
    for key in ('decode_head', 'auxiliary_head'):
        heads = model.get(key)
        yield from (heads if isinstance(heads, list) else [heads] if heads else [])


def _tiny_resnet(model: ConfigDict) -> ConfigDict:
    """ResNet(V1c)-50/101 -> ResNet-18 with 8 base channels: stage outputs 8/16/32/64."""
    model.backbone.update(depth=18, base_channels=8)
    if model.backbone.type == 'ResNetV1c':
        model.backbone.stem_channels = 8
    for head in _heads(model):
        head.num_classes = NUM_CLASSES
    return model


def pspnet_aux() -> ConfigDict:
    model = _tiny_resnet(_load('mmseg::pspnet/pspnet_r50-d8_4xb2-40k_cityscapes-512x1024.py'))
    model.decode_head.update(in_channels=64, channels=8)
    model.auxiliary_head.update(in_channels=32, channels=8)
    return model


def fcn_aux() -> ConfigDict:
    model = _tiny_resnet(_load('mmseg::fcn/fcn_r50-d8_4xb2-40k_cityscapes-512x1024.py'))
    model.decode_head.update(in_channels=64, channels=8)
    model.auxiliary_head.update(in_channels=32, channels=8)
    return model


def deeplabv3plus_no_aux() -> ConfigDict:
    model = _load('mmseg::deeplabv3plus/deeplabv3plus_r50-d8_4xb2-40k_cityscapes-512x1024.py')
    model.pop('auxiliary_head')
    model = _tiny_resnet(model)
    model.decode_head.update(in_channels=64, channels=8, c1_in_channels=8, c1_channels=4, dilations=(1, 2, 3, 4))
    return model


def deeplabv2red_no_aux() -> ConfigDict:
    model = _tiny_resnet(_load(str(REPO_CONFIGS / 'deeplabv2red_r101-d8.py')))
    model.decode_head.update(in_channels=64)
    return model


def ocrnet_cascade() -> ConfigDict:
    """HRNetV2-W18 -> one module per stage, one block per branch, widths 4/8/16/32."""
    model = _load('mmseg::ocrnet/ocrnet_hr18_4xb2-40k_cityscapes-512x1024.py')
    widths = (4, 8, 16, 32)
    extra = model.backbone.extra
    extra.stage1.update(num_blocks=(1, ), num_channels=(8, ))
    for i, stage in enumerate(('stage2', 'stage3', 'stage4'), start=2):
        extra[stage].update(num_modules=1, num_blocks=(1, ) * i, num_channels=widths[:i])
    fcn, ocr = model.decode_head
    # Distinct classifier widths: the FCL features must be the OCR head's (24), not the FCN head's (12).
    fcn.update(in_channels=list(widths), channels=12, num_classes=NUM_CLASSES)
    ocr.update(in_channels=list(widths), channels=24, ocr_channels=16, num_classes=NUM_CLASSES)
    return model


def _tiny_mit(model: ConfigDict) -> ConfigDict:
    """MiT -> embed_dims 8, one layer per stage: stage widths 8/16/40/64."""
    model.backbone.update(embed_dims=8, num_layers=[1, 1, 1, 1])
    model.decode_head.update(in_channels=[8, 16, 40, 64], channels=16, num_classes=NUM_CLASSES)
    return model


def segformer_mit() -> ConfigDict:
    return _tiny_mit(_load('mmseg::segformer/segformer_mit-b0_8xb2-160k_ade20k-512x512.py'))


def daformer_mit() -> ConfigDict:
    model = _tiny_mit(_load(str(REPO_CONFIGS / 'daformer_mit-b5.py')))
    assert list(model.backbone.num_heads) == [1, 2, 5, 8]  # inherited from mit-b0: widths 8 * heads
    model.decode_head.embed_dims = 16
    return model


# ------------------------------------------------------------------ building and stepping
def build(segmentor: dict, contrast: dict = PCL, **kwargs):
    torch.manual_seed(0)
    cfg = dict(type='mmcontrast.DACSSegmentor', segmentor=segmentor, pseudo_label=dict(threshold=0.3),
               contrast=contrast, **kwargs)
    model = MODELS.build(cfg)
    model.init_weights()
    return model.train()


def train_two_steps(model):
    optim_wrapper = OptimWrapper(torch.optim.SGD(model.student.parameters(), lr=0.01, momentum=0.9))
    before = {k: v.detach().clone() for k, v in model.student.named_parameters()}
    logs = [model.train_step(fake_batch(size=SIZE, seed=seed), optim_wrapper) for seed in range(2)]
    after = dict(model.student.named_parameters())
    changed = {k for k, v in before.items() if not torch.equal(v, after[k].detach())}
    return logs, changed


def expected_keys(model) -> set:
    """``src.*`` and ``mix.*`` losses of every decode and auxiliary head, plus the PCL terms."""
    student = model.student
    decode = student.decode_head
    prefixes = [f'decode_{i}' for i in range(len(decode))] if isinstance(decode, torch.nn.ModuleList) else ['decode']
    if student.with_auxiliary_head:
        aux = student.auxiliary_head
        prefixes += [f'aux_{i}' for i in range(len(aux))] if isinstance(aux, torch.nn.ModuleList) else ['aux']
    return {f'{branch}.{p}.loss_ce' for branch in ('src', 'mix') for p in prefixes}, prefixes


def predict(model, size: int = SIZE):
    model.eval()
    img = torch.randint(0, 256, (3, size, size), dtype=torch.uint8, generator=torch.Generator().manual_seed(7))
    sample = SegDataSample(metainfo=dict(img_shape=(size, size), ori_shape=(size, size)))
    with torch.no_grad():
        return model.test_step(dict(inputs=[img], data_samples=[sample]))[0]


FAMILIES = [
    # (id, config factory, segmentor class, decode head types, auxiliary head types)
    ('encdec-aux-pspnet-r18', pspnet_aux, 'EncoderDecoder', ['PSPHead'], ['FCNHead']),
    ('encdec-aux-fcn-r18', fcn_aux, 'EncoderDecoder', ['FCNHead'], ['FCNHead']),
    ('encdec-deeplabv3plus-r18', deeplabv3plus_no_aux, 'EncoderDecoder', ['DepthwiseSeparableASPPHead'], []),
    ('encdec-deeplabv2red-r18', deeplabv2red_no_aux, 'EncoderDecoder', ['DLV2Head'], []),
    ('cascade-ocrnet-hrnet', ocrnet_cascade, 'CascadeEncoderDecoder', ['FCNHead', 'OCRHead'], []),
    ('transformer-segformer-mit', segformer_mit, 'EncoderDecoder', ['SegformerHead'], []),
    ('transformer-daformer-mit', daformer_mit, 'EncoderDecoder', ['DAFormerHead'], []),
]


# Families 1-4 (EncoderDecoder with/without aux, CascadeEncoderDecoder, transformer backbones): train and predict.
@pytest.mark.parametrize('factory,seg_type,decode_types,aux_types',
                         [f[1:] for f in FAMILIES], ids=[f[0] for f in FAMILIES])
def test_family_trains_and_predicts(factory, seg_type, decode_types, aux_types):
    model = build(factory())
    student = model.student
    assert type(student).__name__ == seg_type
    decode = student.decode_head
    decode = list(decode) if isinstance(decode, torch.nn.ModuleList) else [decode]
    assert [type(h).__name__ for h in decode] == decode_types
    assert [type(h).__name__ for h in ([student.auxiliary_head] if student.with_auxiliary_head else [])] == aux_types

    logs, changed = train_two_steps(model)
    head_keys, prefixes = expected_keys(model)
    for log in logs:
        loss_keys = {k for k in log if 'loss' in k and k != 'loss'}
        assert loss_keys == head_keys | TGT_KEYS, sorted(loss_keys ^ (head_keys | TGT_KEYS))
        assert all(torch.isfinite(torch.as_tensor(v)).all() for v in log.values()), log
    assert int(model.teacher.steps) == 2
    # Every module that contributes a loss was updated: the backbone and each head.
    modules = ['backbone.'] + ([f'decode_head.{i}.' for i in range(len(decode))] if len(decode) > 1 else
                              ['decode_head.']) + (['auxiliary_head.'] if aux_types else [])
    for module in modules:
        assert any(k.startswith(module) for k in changed), f'no parameter of {module} changed'

    pred = predict(model)
    assert pred.pred_sem_seg.data.shape == (1, SIZE, SIZE)
    assert pred.seg_logits.data.shape == (NUM_CLASSES, SIZE, SIZE)
    assert int(pred.pred_sem_seg.data.max()) < NUM_CLASSES


# Family 3 (CascadeEncoderDecoder): pseudo-label losses on both stages, FCL reads the last head's classifier input.
def test_cascade_fcl_reads_last_head_classifier_input():
    contrast = dict(views=dict(type='mmcontrast.EHTDIViews', feature_pixels=8), losses=dict(PCL['losses'], **FCL_LOSS))
    model = build(ocrnet_cascade(), contrast=contrast)
    ocr = model.student.decode_head[1]
    assert type(ocr).__name__ == 'OCRHead'
    recorded = []
    hook = ocr.conv_seg.register_forward_hook(lambda m, args, out: recorded.append(args[0].detach()))
    fcl = model.contrast_losses['fcl']
    seen = []
    real_forward = fcl.forward

    def spy(feat_a, feat_b):
        seen.append((feat_a.detach(), feat_b.detach()))
        return real_forward(feat_a, feat_b)

    optim_wrapper = OptimWrapper(torch.optim.SGD(model.student.parameters(), lr=0.01))
    with mock.patch.object(fcl, 'forward', side_effect=spy):
        log = model.train_step(fake_batch(size=SIZE), optim_wrapper)
    hook.remove()
    assert {'mix.decode_0.loss_ce', 'mix.decode_1.loss_ce', 'src.decode_0.loss_ce', 'src.decode_1.loss_ce',
            'tgt.loss_fcl', 'tgt.loss_class_pcl', 'tgt.loss_pixel_pcl'} <= set(log)
    assert all(torch.isfinite(torch.as_tensor(v)) for v in log.values())
    (feat_a, feat_b), = seen
    assert feat_a.shape[1] == feat_b.shape[1] == ocr.channels == 24  # not the FCN stage's 12
    # Every sampled row is a pixel of the OCR classifier's input in one of this step's forwards.
    pixels = torch.cat([r.permute(0, 2, 3, 1).reshape(-1, r.shape[1]) for r in recorded])
    for rows in (feat_a, feat_b):
        dist = torch.cdist(rows, pixels, compute_mode='donot_use_mm_for_euclid_dist').min(dim=1).values
        assert torch.all(dist < 1e-5), dist.max()


def _maskformer() -> ConfigDict:
    """Stock MaskFormer (mask classification) shrunk: ResNet-18/8, 16-d transformer, 4 queries."""
    model = _load('mmseg::maskformer/maskformer_r50-d32_8xb2-160k_ade20k-512x512.py')
    model.backbone.update(depth=18, base_channels=8)
    head = model.decode_head
    head.update(in_channels=[8, 16, 32, 64], feat_channels=16, out_channels=16, num_queries=4, num_classes=NUM_CLASSES)
    head.pixel_decoder.norm_cfg = dict(type='GN', num_groups=4)
    head.positional_encoding.num_feats = 8
    head.loss_cls.class_weight = [1.0] * NUM_CLASSES + [0.1]
    layer = head.transformer_decoder.layer_cfg
    head.transformer_decoder.num_layers = 1
    for attn in (layer.self_attn_cfg, layer.cross_attn_cfg):
        attn.update(embed_dims=16, num_heads=2)
    layer.ffn_cfg.update(embed_dims=16, feedforward_channels=32)
    return model


def _tta_model() -> dict:
    return dict(type='SegTTAModel', module=tiny_segmentor())


REFUSED = [
    # (id, segmentor config factory, top-level data_preprocessor needed, message regex)
    ('maskformer-mask-classification', _maskformer, False,
     r'MaskFormerHead: it is not an mmseg BaseDecodeHead.*per-pixel'),
    ('seg-tta-model-not-encoderdecoder', _tta_model, True,
     r'wraps mmseg EncoderDecoder / CascadeEncoderDecoder segmentors, got SegTTAModel'),
]


# Family 5 (refused models): a TypeError at construction whose message names the reason.
@pytest.mark.parametrize('factory,top_level,match', [r[1:] for r in REFUSED], ids=[r[0] for r in REFUSED])
def test_refused_families_raise_type_error(factory, top_level, match):
    kwargs = dict(data_preprocessor=tiny_segmentor()['data_preprocessor']) if top_level else {}
    with pytest.raises(TypeError, match=match):
        build(factory(), **kwargs)


# Family 6 (data_preprocessor priority): the segmentor's own wins with a warning; a lone top-level one is used.
def test_data_preprocessor_priority_with_stock_segformer():
    segmentor = segformer_mit()  # its data_preprocessor size set to (32, 32) by _load
    top = dict(copy.deepcopy(segmentor.data_preprocessor), size=(512, 512))
    raw = fake_batch(size=24)  # smaller than both: the padded shape tells which preprocessor ran

    with mock.patch('mmcontrast.models.uda.seg.dacs_segmentor.print_log') as log:
        model = build(segmentor, data_preprocessor=top)
    warnings = [c for c in log.call_args_list if c.kwargs.get('level') == logging.WARNING]
    assert len(warnings) == 1, log.call_args_list
    message = warnings[0].args[0]
    assert '(32, 32)' in message and '(512, 512)' in message and 'ignored' in message, message
    data = model.data_preprocessor(copy.deepcopy(raw), training=True)
    for branch in ('source', 'target'):
        assert data['inputs'][branch].shape == (2, 3, 32, 32)
    assert data['data_samples']['source'][0].gt_sem_seg.data.shape[-2:] == (32, 32)

    only_top = copy.deepcopy(segmentor)
    only_top.pop('data_preprocessor')
    with mock.patch('mmcontrast.models.uda.seg.dacs_segmentor.print_log') as log:
        model = build(only_top, data_preprocessor=top)
    assert not [c for c in log.call_args_list if c.kwargs.get('level') == logging.WARNING]
    data = model.data_preprocessor(copy.deepcopy(raw), training=True)
    for branch in ('source', 'target'):
        assert data['inputs'][branch].shape == (2, 3, 512, 512)
