# Cross-entropy baseline of the ranked SupCon study: a 16-wide CIFAR-stem ResNet-18 trained with
# CE on the 8 in-distribution toy classes (cross and diamond withheld for OOD evaluation). The
# first stage strides by 2 (16x16 maps instead of CIFAR's 32x32) to fit a few CPU minutes.
_base_ = ['../_base_/datasets/toy_cls_id8.py', '../_base_/default_runtime_selfsup.py']

model = dict(
    type='ImageClassifier',
    data_preprocessor=_base_.data_preprocessor,
    backbone=dict(type='ResNetCIFAR', depth=18, base_channels=16, strides=(2, 2, 2, 2)),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='LinearClsHead', num_classes=8, in_channels=128))
max_epochs = 12
# AdamW: from-scratch training converges within the few CPU epochs of the toy study (SGD 0.1 stayed
# at chance after 2 epochs).
optim_wrapper = dict(optimizer=dict(type='AdamW', lr=2e-3, weight_decay=5e-4))
param_scheduler = [dict(type='CosineAnnealingLR', T_max=max_epochs, by_epoch=True, begin=0, end=max_epochs)]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=max_epochs)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(logger=dict(interval=10), checkpoint=dict(interval=max_epochs, max_keep_ckpts=1))
