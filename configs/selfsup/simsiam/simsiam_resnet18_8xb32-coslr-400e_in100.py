_base_ = [
    '../../_base_/models/selfsup/simsiam_resnet50.py',
    '../../_base_/datasets/imagenet100_ssl.py',
    '../../_base_/schedules/selfsup_simsiam_sgd-fixpred_coslr-100e.py',
]
# SimSiam on ImageNet-100 with ResNet-18, 400 epochs (solo-learn's setting): SGD lr 0.05 x 256/256,
# weight decay 1e-4, cosine, the predictor at the fixed initial lr (official --fix-pred-lr).
model = dict(backbone=dict(depth=18), neck=dict(in_channels=512))
optim_wrapper = dict(optimizer=dict(lr=0.05, weight_decay=0.0001))
param_scheduler = [dict(type='CosineAnnealingLR', T_max=400, by_epoch=True, begin=0, end=400)]
train_cfg = dict(max_epochs=400)
auto_scale_lr = dict(base_batch_size=256)
custom_hooks = [_base_.custom_hooks[0], dict(type='FixedLRHook')]
