_base_ = [
    '../../_base_/models/selfsup/mocov2_resnet50.py',
    '../../_base_/datasets/cifar10_ssl.py',
    '../../_base_/schedules/selfsup_sgd_coslr-200e.py',
    '../../_base_/default_runtime_selfsup.py',
]
# MoCo v2 on CIFAR10: CIFAR-stem ResNet-18, queue 4096 and m 0.99 (the official MoCo CIFAR
# recipe), t 0.2, SGD lr 0.06 at batch 256 (8 x 32), 200 epochs.
model = dict(
    queue_len=4096,
    momentum=0.99,
    backbone=dict(type='ResNetCIFAR', depth=18),
    neck=dict(in_channels=512, hid_channels=512))
optim_wrapper = dict(optimizer=dict(lr=0.06, weight_decay=0.0005))
param_scheduler = [dict(type='CosineAnnealingLR', T_max=200, by_epoch=True, begin=0, end=200)]
train_cfg = dict(max_epochs=200)
auto_scale_lr = dict(base_batch_size=256)
