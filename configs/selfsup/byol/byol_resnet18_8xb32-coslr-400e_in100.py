_base_ = [
    '../../_base_/models/selfsup/byol_resnet50.py',
    '../../_base_/datasets/imagenet100_ssl.py',
    '../../_base_/schedules/selfsup_sgd_coslr-200e.py',
    '../../_base_/default_runtime_selfsup.py',
]
# BYOL on ImageNet-100 (solo-learn's setting: ResNet-18, 400 epochs; SGD here instead of LARS).
model = dict(backbone=dict(depth=18), neck=dict(in_channels=512))
train_dataloader = dict(dataset=dict(pipeline=[
    dict(type='LoadImageFromFile'),
    dict(type='MultiView', num_views=[1, 1], transforms=[_base_.byol_view1_pipeline, _base_.byol_view2_pipeline]),
    dict(type='PackSelfSupInputs'),
]))
optim_wrapper = dict(optimizer=dict(lr=0.2, weight_decay=1e-05))
param_scheduler = [dict(type='CosineAnnealingLR', T_max=400, by_epoch=True, begin=0, end=400)]
train_cfg = dict(max_epochs=400)
auto_scale_lr = dict(base_batch_size=256)
