# The DAFormer network (Hoyer et al., CVPR 2022) on mmseg 1.x: MiT-B5 with the ImageNet
# weights and DAFormer's own decode head (linear embeddings to 256 channels, fused by a
# depthwise-separable ASPP, dilations 1/6/12/18, no image pooling, BN + ReLU). Reproduces
# lhoyer/DAFormer configs/_base_/models/daformer_sepaspp_mitb5.py (over daformer_conv1_mitb5.py).
_base_ = ['mmseg::_base_/models/segformer_mit-b0.py']
checkpoint = 'https://download.openmmlab.com/mmsegmentation/v0.5/pretrain/segformer/mit_b5_20220624-658746d9.pth'  # noqa
norm_cfg = dict(type='BN', requires_grad=True)  # DAFormer trains on one GPU: plain BN, not SyncBN
model = dict(
    data_preprocessor=dict(size=(512, 512)),
    backbone=dict(init_cfg=dict(type='Pretrained', checkpoint=checkpoint), embed_dims=64, num_layers=[3, 6, 40, 3]),
    decode_head=dict(
        _delete_=True,  # not a SegformerHead: start from a clean dict
        type='mmcontrast.DAFormerHead',
        in_channels=[64, 128, 320, 512],
        in_index=[0, 1, 2, 3],
        channels=256,
        embed_dims=256,
        fusion='aspp',
        dilations=(1, 6, 12, 18),
        sep=True,
        pool=False,
        dropout_ratio=0.1,
        num_classes=19,
        norm_cfg=norm_cfg,
        act_cfg=dict(type='ReLU'),
        align_corners=False,
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)),
    test_cfg=dict(mode='whole'))
