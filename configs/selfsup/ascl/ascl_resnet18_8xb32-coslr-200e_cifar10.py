_base_ = [
    '../../_base_/models/selfsup/ascl_resnet50.py',
    '../../_base_/datasets/cifar10_ssl.py',
    '../../_base_/schedules/selfsup_sgd_coslr-200e.py',
    '../../_base_/default_runtime_selfsup.py',
]
# ASCL on CIFAR10 with the official settings: CIFAR-stem ResNet-18, queue 4096, m 0.99,
# t1 0.1, t2 0.05, 5 neighbours (the official README's example run), projector 512 -> 2048 -> 128,
# weak key view and strong query view, 200 epochs.
model = dict(
    backbone=dict(type='ResNetCIFAR', depth=18),
    neck=dict(in_channels=512),
    head=dict(num_neighbors=5))
train_dataloader = dict(dataset=dict(pipeline=[
    dict(type='MultiView', num_views=[1, 1], transforms=[_base_.weak_view_pipeline, _base_.view_pipeline]),
    dict(type='PackSelfSupInputs'),
]))
optim_wrapper = dict(optimizer=dict(lr=0.06, weight_decay=0.0005))
param_scheduler = [dict(type='CosineAnnealingLR', T_max=200, by_epoch=True, begin=0, end=200)]
train_cfg = dict(max_epochs=200)
auto_scale_lr = dict(base_batch_size=256)
