_base_ = [
    '../../_base_/models/selfsup/mocov2_resnet50.py',
    '../../_base_/datasets/toy_cls_ssl.py',
    '../../_base_/schedules/selfsup_sgd_coslr-200e.py',
    '../../_base_/default_runtime_selfsup.py',
]
# CPU toy run (about 5 minutes on one core): a 16-wide ResNet-18 with the CIFAR stem on the
# toy set, kNN monitor every epoch. (The ImageNet stem on 32x32 kept the InfoNCE loss near
# chance.) The first stage strides by 2 (16x16 maps instead of CIFAR's 32x32): 3x cheaper. A short schedule
# needs a faster key encoder (m 0.99, as MoCo's CIFAR demo and ASCL); one process emulates
# shuffling BN over 2 devices (bn_splits).
model = dict(
    queue_len=1024,  # 5000 training images: a 4096 queue would hold most of them
    momentum=0.99,
    bn_splits=2,
    backbone=dict(type='ResNetCIFAR', depth=18, base_channels=16, strides=(2, 2, 2, 2)),
    neck=dict(in_channels=128, hid_channels=512, out_channels=128))
train_dataloader = dict(batch_size=64)
optim_wrapper = dict(optimizer=dict(lr=0.03, weight_decay=5e-4))
max_epochs = 6
param_scheduler = [dict(type='CosineAnnealingLR', T_max=max_epochs, by_epoch=True, begin=0, end=max_epochs)]
train_cfg = dict(max_epochs=max_epochs)
default_hooks = dict(logger=dict(interval=20), checkpoint=dict(interval=max_epochs, max_keep_ckpts=1))
