_base_ = [
    '../../_base_/models/selfsup/ascl_resnet50.py',
    '../../_base_/datasets/imagenet100_ssl.py',
    '../../_base_/schedules/selfsup_sgd_coslr-200e.py',
    '../../_base_/default_runtime_selfsup.py',
]
# ASCL on ImageNet-100 with ResNet-18, 200 epochs. No official ImageNet-100 recipe exists: the
# ImageNet code's m 0.999 and t1/t2, with the 16384-key queue of our MoCo v2 ImageNet-100 config
# (126k images instead of 1.28M; our choice).
model = dict(queue_len=16384, backbone=dict(depth=18), neck=dict(in_channels=512))
train_dataloader = dict(dataset=dict(pipeline=[
    dict(type='LoadImageFromFile'),
    dict(type='MultiView', num_views=[1, 1], transforms=[_base_.weak_view_pipeline, _base_.view_pipeline]),
    dict(type='PackSelfSupInputs'),
]))
optim_wrapper = dict(optimizer=dict(lr=0.03, weight_decay=0.0001))
param_scheduler = [dict(type='CosineAnnealingLR', T_max=200, by_epoch=True, begin=0, end=200)]
train_cfg = dict(max_epochs=200)
auto_scale_lr = dict(base_batch_size=256)
