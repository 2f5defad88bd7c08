_base_ = [
    '../../_base_/models/selfsup/mocov2_resnet50.py',
    '../../_base_/datasets/imagenet_ssl.py',
    '../../_base_/schedules/selfsup_sgd_coslr-200e.py',
    '../../_base_/default_runtime_selfsup.py',
]
# MoCo v2 (Chen et al. 2020): ResNet-50, 200 epochs, batch 256 (8 x 32), SGD lr 0.03, cosine.
optim_wrapper = dict(optimizer=dict(lr=0.03, weight_decay=0.0001))
param_scheduler = [dict(type='CosineAnnealingLR', T_max=200, by_epoch=True, begin=0, end=200)]
train_cfg = dict(max_epochs=200)
auto_scale_lr = dict(base_batch_size=256)
