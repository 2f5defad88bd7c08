_base_ = [
    '../../_base_/models/selfsup/simsiam_resnet50.py',
    '../../_base_/datasets/cifar10_ssl.py',
    '../../_base_/schedules/selfsup_simsiam_sgd-fixpred_coslr-100e.py',
]
# SimSiam on CIFAR-10 (the paper's CIFAR setting, Chen & He 2021, App. D): CIFAR-stem ResNet-18, batch
# 512 (8 x 64), SGD lr 0.03 x 512/256 = 0.06, weight decay 5e-4, cosine over 800 epochs, the
# predictor at the fixed initial lr (official --fix-pred-lr).
model = dict(
    backbone=dict(type='ResNetCIFAR', depth=18, norm_cfg=dict(type='SyncBN')),
    neck=dict(in_channels=512))
train_dataloader = dict(batch_size=64)
optim_wrapper = dict(optimizer=dict(lr=0.06, weight_decay=0.0005))
param_scheduler = [dict(type='CosineAnnealingLR', T_max=800, by_epoch=True, begin=0, end=800)]
train_cfg = dict(max_epochs=800)
auto_scale_lr = dict(base_batch_size=512)
custom_hooks = [_base_.custom_hooks[0], dict(type='FixedLRHook')]
