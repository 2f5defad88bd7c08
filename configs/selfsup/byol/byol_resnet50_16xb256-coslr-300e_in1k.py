_base_ = [
    '../../_base_/models/selfsup/byol_resnet50.py',
    '../../_base_/datasets/imagenet_ssl.py',
    '../../_base_/schedules/selfsup_sgd_coslr-200e.py',
    '../../_base_/default_runtime_selfsup.py',
]
# BYOL on ImageNet-1k: ResNet-50, 300 epochs, batch 4096 (16 x 256), asymmetric views.
# The paper trains with LARS (lr 0.2 x bs/256, wd 1.5e-6); LARS is not part of this stack, so this
# config uses SGD with momentum and the MoCo-style lr scaling (expect to tune).
train_dataloader = dict(dataset=dict(pipeline=[
    dict(type='LoadImageFromFile'),
    dict(type='MultiView', num_views=[1, 1], transforms=[_base_.byol_view1_pipeline, _base_.byol_view2_pipeline]),
    dict(type='PackSelfSupInputs'),
]))
train_dataloader.update(batch_size=256)
optim_wrapper = dict(optimizer=dict(lr=0.48, weight_decay=1.5e-06))
param_scheduler = [dict(type='CosineAnnealingLR', T_max=300, by_epoch=True, begin=0, end=300)]
train_cfg = dict(max_epochs=300)
auto_scale_lr = dict(base_batch_size=4096)
