_base_ = [
    '../../_base_/models/selfsup/ascl_resnet50.py',
    '../../_base_/datasets/imagenet_ssl.py',
    '../../_base_/schedules/selfsup_sgd_coslr-200e.py',
    '../../_base_/default_runtime_selfsup.py',
]
# ASCL on ImageNet-1k as the official code (ImageNet-1K/builder.py L14: queue 65536, m 0.999,
# t1 0.1, t2 0.05; L24: one neighbour), which runs inside MoCo's main_moco.py: ResNet-50, 200
# epochs, batch 256 (8 x 32), SGD lr 0.03, wd 1e-4, cosine. Weak key / strong query views as
# in the CIFAR code (the ImageNet training script itself is not published).
train_dataloader = dict(dataset=dict(pipeline=[
    dict(type='LoadImageFromFile'),
    dict(type='MultiView', num_views=[1, 1], transforms=[_base_.weak_view_pipeline, _base_.view_pipeline]),
    dict(type='PackSelfSupInputs'),
]))
optim_wrapper = dict(optimizer=dict(lr=0.03, weight_decay=0.0001))
param_scheduler = [dict(type='CosineAnnealingLR', T_max=200, by_epoch=True, begin=0, end=200)]
train_cfg = dict(max_epochs=200)
auto_scale_lr = dict(base_batch_size=256)
