# MiT-B5 with the stock mmseg SegFormer head (all-MLP, 256 channels) and the ImageNet MiT-B5
# weights. Not DAFormer's network: DAFormer fuses with a separable ASPP (daformer_mit-b5.py).
_base_ = ['mmseg::_base_/models/segformer_mit-b0.py']
checkpoint = 'https://download.openmmlab.com/mmsegmentation/v0.5/pretrain/segformer/mit_b5_20220624-658746d9.pth'  # noqa
model = dict(
    data_preprocessor=dict(size=(512, 512)),
    backbone=dict(init_cfg=dict(type='Pretrained', checkpoint=checkpoint), embed_dims=64, num_layers=[3, 6, 40, 3]),
    decode_head=dict(in_channels=[64, 128, 320, 512], channels=256, num_classes=19))
