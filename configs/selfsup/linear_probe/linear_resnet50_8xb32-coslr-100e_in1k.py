_base_ = './linear_resnet18_8xb32-coslr-100e_cifar10.py'
# MoCo-protocol linear probe on ImageNet-1k: frozen ResNet-50, SGD lr 30, no weight decay,
# 100 epochs (cosine instead of MoCo's step decay), top-1 on val (centre 224 crop).
model = dict(
    data_preprocessor=dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375]),
    backbone=dict(_delete_=True, type='mmdet.ResNet', depth=50, out_indices=(3, ), norm_eval=True,
                  init_cfg=dict(type='Pretrained', checkpoint=None, prefix='backbone.')),
    head=dict(num_classes=1000, in_channels=2048))
_train = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResizedCrop', size=224),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackClsInputs'),
]
_test = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(100000, 256), keep_ratio=True),
    dict(type='CenterCrop', crop_size=224),
    dict(type='PackClsInputs'),
]
train_dataloader = dict(
    num_workers=8,
    dataset=dict(_delete_=True, type='ImageFolder', data_root='data/imagenet', data_prefix='train', pipeline=_train))
val_dataloader = dict(
    num_workers=8,
    dataset=dict(_delete_=True, type='ImageFolder', data_root='data/imagenet', data_prefix='val', pipeline=_test))
test_dataloader = val_dataloader
optim_wrapper = dict(optimizer=dict(lr=30.0))
