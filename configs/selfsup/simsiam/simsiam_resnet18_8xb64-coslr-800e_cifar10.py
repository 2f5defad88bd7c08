_base_ = [
    '../../_base_/models/selfsup/simsiam_resnet50.py',
    '../../_base_/datasets/cifar10_ssl.py',
    '../../_base_/schedules/selfsup_sgd_coslr-200e.py',
    '../../_base_/default_runtime_selfsup.py',
]
# SimSiam on CIFAR10 (the paper's CIFAR setting): CIFAR-stem ResNet-18, batch 512, SGD lr 0.06,
# wd 5e-4, 800 epochs.
model = dict(
    backbone=dict(type='ResNetCIFAR', depth=18, norm_cfg=dict(type='SyncBN')),
    neck=dict(in_channels=512))
train_dataloader = dict(batch_size=64)
optim_wrapper = dict(optimizer=dict(lr=0.06, weight_decay=0.0005))
param_scheduler = [dict(type='CosineAnnealingLR', T_max=800, by_epoch=True, begin=0, end=800)]
train_cfg = dict(max_epochs=800)
auto_scale_lr = dict(base_batch_size=512)
