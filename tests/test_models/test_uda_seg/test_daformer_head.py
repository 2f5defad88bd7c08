"""DAFormerHead: DAFormer's parameter count and layer names, forward, loss in a tiny MiT segmentor, config."""
from pathlib import Path

import pytest
import torch
from mmengine.config import Config, ConfigDict
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

from mmcontrast.models.uda.seg import DAFormerHead
from mmcontrast.utils.scope import build_in_scope

CONFIG = Path(__file__).parents[3] / 'configs' / '_base_' / 'uda' / 'daformer_mit-b5.py'

# DAFormer's head settings (daformer_conv1_mitb5.py l.17-34 + daformer_sepaspp_mitb5.py l.10-21).
DAFORMER = dict(in_channels=[64, 128, 320, 512], in_index=[0, 1, 2, 3], channels=256, embed_dims=256,
                num_classes=19, dropout_ratio=0.1, align_corners=False)

# Parameter count of DAFormer's decode head, derived by hand from lhoyer/DAFormer @ e6f6e041:
#   configs/_base_/models/daformer_conv1_mitb5.py l.18-27: in_channels [64,128,320,512],
#     channels 256, num_classes 19, embed_dims 256, embed_cfg and (l.28) embed_neck_cfg
#     both type 'mlp' (so the last level is embedded like the others);
#   configs/_base_/models/daformer_sepaspp_mitb5.py l.14-21: fusion_cfg replaced by
#     aspp, sep=True, dilations (1,6,12,18), pool=False, BN + ReLU (embed cfgs unchanged);
#   mmseg/models/decode_heads/daformer_head.py l.144-156: one build_layer per level to
#     embed_dims, fuse_layer = build_layer(sum(embed_dims)=1024, channels=256);
#     l.89-90: 'mlp' -> segformer_head.py l.19-24 MLP = nn.Linear(in, embed) (with bias;
#     act_cfg/norm_cfg of the embed cfg are swallowed by **kwargs and unused);
#     l.103-105: 'aspp' -> ASPPWrapper l.19-65: no image pool (l.35-45), no context layer
#     (l.46-50), sep -> DepthwiseSeparableASPPModule (l.51-58), bottleneck ConvModule
#     3x3 from len(dilations)*256 = 1024 to 256 (l.59-65);
#   aspp_head.py l.33-43: dilation 1 -> 1x1 ConvModule(1024, 256) + BN + ReLU;
#   sep_aspp_head.py l.18-27: dilation > 1 -> DepthwiseSeparableConvModule(1024, 256, 3):
#     depthwise 3x3 ConvModule (groups=1024) + BN + ReLU, pointwise 1x1 ConvModule + BN + ReLU
#     (mmcv depthwise_separable_conv_module.py: dw/pw norm default to norm_cfg);
#   ConvModule bias='auto' -> no conv bias when followed by a norm (mmcv conv_module.py);
#   decode_head.py l.87: conv_seg = nn.Conv2d(256, 19, 1) with bias; dropout has no params.
# BN contributes weight + bias (2 * C); its running stats are buffers, not parameters.
#   embed  64->256  Linear:  64*256 + 256                        =    16,640
#   embed 128->256  Linear: 128*256 + 256                        =    33,024
#   embed 320->256  Linear: 320*256 + 256                        =    82,176
#   embed 512->256  Linear: 512*256 + 256                        =   131,328
#   ASPP d=1   1x1 conv 1024*256 + BN 2*256                      =   262,656
#   ASPP d=6   dw 1024*9 + BN 2*1024 + pw 1024*256 + BN 2*256   =   273,920
#   ASPP d=12  (same)                                            =   273,920
#   ASPP d=18  (same)                                            =   273,920
#   bottleneck 3x3 conv 1024*256*9 + BN 2*256                    = 2,359,808
#   conv_seg   256*19 + 19                                       =     4,883
#   total                                                        = 3,712,275
DAFORMER_SEPASPP_PARAMS = 3_712_275
# daformer_conv1_mitb5 (l.29-33: fusion_cfg conv, kernel 1, BN + ReLU):
#   embeds 263,168 + fuse 1x1 conv 1024*256 + BN 2*256 = 262,656 + conv_seg 4,883 = 530,707
DAFORMER_CONV1_PARAMS = 530_707


def n_params(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def feats(channels, size=64, batch=2):
    """Backbone-like maps at strides 4/8/16/32 of a ``size`` x ``size`` image."""
    return [torch.randn(batch, c, size // s, size // s) for c, s in zip(channels, (4, 8, 16, 32))]


@pytest.mark.parametrize('fusion, expected', [('aspp', DAFORMER_SEPASPP_PARAMS), ('conv1', DAFORMER_CONV1_PARAMS)])
def test_parameter_count_equals_daformer(fusion, expected):
    head = DAFormerHead(**DAFORMER, fusion=fusion)
    assert n_params(head) == expected


def test_parameter_names_and_shapes_are_daformers():
    """Same keys/shapes as DAFormer's head (daformer_head.py l.144-156), so its checkpoints load."""
    shapes = {n: tuple(p.shape) for n, p in DAFormerHead(**DAFORMER).named_parameters()}
    expected = {'conv_seg.weight': (19, 256, 1, 1), 'conv_seg.bias': (19, )}
    for i, c in enumerate([64, 128, 320, 512]):
        expected.update({f'embed_layers.{i}.proj.weight': (256, c), f'embed_layers.{i}.proj.bias': (256, )})
    aspp = 'fuse_layer.aspp_modules'
    expected.update({f'{aspp}.0.conv.weight': (256, 1024, 1, 1), f'{aspp}.0.bn.weight': (256, ),
                     f'{aspp}.0.bn.bias': (256, )})
    for j in (1, 2, 3):
        expected.update({
            f'{aspp}.{j}.depthwise_conv.conv.weight': (1024, 1, 3, 3),
            f'{aspp}.{j}.depthwise_conv.bn.weight': (1024, ), f'{aspp}.{j}.depthwise_conv.bn.bias': (1024, ),
            f'{aspp}.{j}.pointwise_conv.conv.weight': (256, 1024, 1, 1),
            f'{aspp}.{j}.pointwise_conv.bn.weight': (256, ), f'{aspp}.{j}.pointwise_conv.bn.bias': (256, )})
    expected.update({'fuse_layer.bottleneck.conv.weight': (256, 1024, 3, 3),
                     'fuse_layer.bottleneck.bn.weight': (256, ), 'fuse_layer.bottleneck.bn.bias': (256, )})
    assert shapes == expected
    head = DAFormerHead(**DAFORMER)
    branches = list(head.fuse_layer.aspp_modules)
    assert branches[0].conv.dilation == (1, 1)
    assert [m.depthwise_conv.conv.dilation for m in branches[1:]] == [(6, 6), (12, 12), (18, 18)]


def test_options_change_the_structure():
    base = n_params(DAFormerHead(**DAFORMER))
    # image pooling: + 1x1 conv 1024*256 + BN 512, and the bottleneck takes 5*256 inputs (+ 256*256*9)
    assert n_params(DAFormerHead(**DAFORMER, pool=True)) == base + 262_656 + 589_824
    # plain ASPP: the three 3x3 branches become dense 3x3 convs (1024*256*9 + BN 512 each)
    assert n_params(DAFormerHead(**DAFORMER, sep=False)) == base + 3 * (2_359_808 - 273_920)
    per_level = DAFormerHead(**dict(DAFORMER, embed_dims=[32, 32, 64, 128], channels=16))
    assert per_level.fuse_layer.aspp_modules[0].conv.in_channels == 256


@pytest.mark.parametrize('fusion', ['aspp', 'conv1'])
def test_forward_shape(fusion):
    head = DAFormerHead(**DAFORMER, fusion=fusion).eval()
    with torch.no_grad():
        out = head(feats([64, 128, 320, 512]))
    assert out.shape == (2, 19, 16, 16)
    # in_index selects levels from a longer tuple; output at the first selected level's size
    head = DAFormerHead(in_channels=[128, 512], in_index=[1, 3], channels=16, embed_dims=8, num_classes=3).eval()
    with torch.no_grad():
        out = head(feats([64, 128, 320, 512]))
    assert out.shape == (2, 3, 8, 8)


def tiny_mit_segmentor(num_classes=3):
    # MiT's stage width is embed_dims * num_heads[i]: 8 channels at every level.
    return dict(
        type='EncoderDecoder',
        data_preprocessor=dict(type='SegDataPreProcessor', mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375],
                               bgr_to_rgb=True, pad_val=0, seg_pad_val=255, size=(64, 64)),
        backbone=dict(type='MixVisionTransformer', in_channels=3, embed_dims=8, num_stages=4, num_layers=[1, 1, 1, 1],
                      num_heads=[1, 1, 1, 1], patch_sizes=[7, 3, 3, 3], sr_ratios=[8, 4, 2, 1],
                      out_indices=(0, 1, 2, 3), mlp_ratio=2, qkv_bias=True),
        decode_head=dict(type='mmcontrast.DAFormerHead', in_channels=[8, 8, 8, 8], in_index=[0, 1, 2, 3],
                         channels=8, embed_dims=8, dilations=(1, 2, 3), num_classes=num_classes, align_corners=False,
                         loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)),
        train_cfg=dict(), test_cfg=dict(mode='whole'))


def test_loss_through_tiny_mit_encoder_decoder():
    torch.manual_seed(0)
    model = build_in_scope(ConfigDict(tiny_mit_segmentor()), 'mmseg')  # test_cfg.mode needs a ConfigDict
    model.init_weights()
    model.train()
    gen = torch.Generator().manual_seed(0)
    data = dict(inputs=[torch.randint(0, 256, (3, 64, 64), generator=gen, dtype=torch.uint8) for _ in range(2)],
                data_samples=[])
    for _ in range(2):
        sample = SegDataSample(metainfo=dict(img_shape=(64, 64), ori_shape=(64, 64)))
        label = torch.randint(0, 3, (1, 64, 64), generator=gen)
        label[:, :4] = 255
        sample.gt_sem_seg = PixelData(data=label)
        data['data_samples'].append(sample)
    data = model.data_preprocessor(data, training=True)
    losses = model(**data, mode='loss')
    assert set(losses) == {'decode.loss_ce', 'decode.acc_seg'}
    assert torch.isfinite(losses['decode.loss_ce']) and losses['decode.loss_ce'] > 0
    loss, _ = model.parse_losses(losses)
    loss.backward()
    head = model.decode_head
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in head.parameters())
    assert all(p.grad is not None for p in model.backbone.parameters())
    # loss_by_feat straight on the head's logits (at stride 4, upsampled to the labels inside)
    with torch.no_grad():
        logits = head(model.extract_feat(data['inputs']))
        assert logits.shape == (2, 3, 16, 16)
        direct = head.loss_by_feat(logits, data['data_samples'])
    assert torch.isfinite(direct['loss_ce'])
    model.eval()
    with torch.no_grad():
        preds = model(**data, mode='predict')
    assert preds[0].seg_logits.data.shape == (3, 64, 64)


@pytest.mark.parametrize('kwargs, match', [
    (dict(embed_dims=[256, 256, 256]), 'embed_dims'),
    (dict(in_index=[0, 1, 2]), 'in_index'),
    (dict(in_index=[0, 1, 1, 3]), 'repeats'),
    (dict(fusion='mlp'), 'fusion'),
    (dict(input_transform='resize_concat'), 'multiple_select'),
    (dict(in_channels=512, in_index=3), 'in_channels'),
    (dict(dilations=()), 'dilations'),
    (dict(embed_dims=0), 'positive'),
])
def test_bad_config_raises(kwargs, match):
    with pytest.raises(ValueError, match=match):
        DAFormerHead(**dict(DAFORMER, **kwargs))


def test_daformer_mit_b5_config():
    cfg = Config.fromfile(str(CONFIG))
    head_cfg = cfg.model.decode_head
    assert head_cfg.type == 'mmcontrast.DAFormerHead'
    assert head_cfg.in_channels == [64, 128, 320, 512] and head_cfg.channels == 256 and head_cfg.embed_dims == 256
    assert head_cfg.num_classes == 19 and head_cfg.dropout_ratio == 0.1 and head_cfg.align_corners is False
    assert head_cfg.norm_cfg.type == 'BN' and tuple(head_cfg.dilations) == (1, 6, 12, 18) and not head_cfg.pool
    assert 'decoder_params' not in head_cfg and head_cfg.loss_decode.type == 'CrossEntropyLoss'
    backbone = cfg.model.backbone
    assert backbone.type == 'MixVisionTransformer' and backbone.embed_dims == 64
    assert backbone.num_layers == [3, 6, 40, 3] and backbone.num_heads == [1, 2, 5, 8]
    assert backbone.init_cfg.checkpoint.endswith('mit_b5_20220624-658746d9.pth')
    assert cfg.model.data_preprocessor.size == (512, 512) and cfg.model.test_cfg.mode == 'whole'
    cfg.model.backbone.init_cfg = None
    model = build_in_scope(cfg.model, 'mmseg')
    assert isinstance(model.decode_head, DAFormerHead)
    assert n_params(model.decode_head) == DAFORMER_SEPASPP_PARAMS
    assert 80e6 < n_params(model.backbone) < 85e6  # MiT-B5 is 81.4M
