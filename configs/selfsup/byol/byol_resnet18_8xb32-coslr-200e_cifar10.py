_base_ = [
    '../../_base_/models/selfsup/byol_resnet50.py',
    '../../_base_/datasets/cifar10_ssl.py',
    '../../_base_/schedules/selfsup_sgd_coslr-200e.py',
    '../../_base_/default_runtime_selfsup.py',
]
# BYOL on CIFAR10: CIFAR-stem ResNet-18, base momentum 0.99, projector/predictor 4096-256,
# solarisation on the second view (solo-learn's CIFAR views), 200 epochs, SGD (solo-learn uses LARS).
model = dict(
    base_momentum=0.99,
    backbone=dict(type='ResNetCIFAR', depth=18, norm_cfg=dict(type='SyncBN')),
    neck=dict(in_channels=512))
train_dataloader = dict(dataset=dict(pipeline=[
    dict(type='MultiView', num_views=[1, 1], transforms=[_base_.view_pipeline, _base_.solarize_view_pipeline]),
    dict(type='PackSelfSupInputs'),
]))
optim_wrapper = dict(optimizer=dict(lr=0.2, weight_decay=1e-05))
param_scheduler = [dict(type='CosineAnnealingLR', T_max=200, by_epoch=True, begin=0, end=200)]
train_cfg = dict(max_epochs=200)
auto_scale_lr = dict(base_batch_size=256)
