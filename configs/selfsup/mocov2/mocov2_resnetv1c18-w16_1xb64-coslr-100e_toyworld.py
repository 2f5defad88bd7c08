_base_ = [
    '../../_base_/models/selfsup/mocov2_resnet50.py',
    '../../_base_/datasets/toy_world_ssl.py',
    '../../_base_/schedules/selfsup_sgd_coslr-200e.py',
    '../../_base_/default_runtime_selfsup.py',
]
# The toy world's ImageNet pretraining: MoCo v2 on the toy world's unlabelled scenes, exported
# with tools/model_converters/extract_backbone.py as the init of the toy UDA configs (shipped:
# checkpoints/toy/). The toy MoCo v2 settings of the toy-texture run (m 0.99, short queue, BN in
# the projector's hidden layer: configs/selfsup/mocov2/mocov2_resnet18-w16_1xb64-coslr-6e_toycls.py
# says why), 2 BN splits, lr 0.06 at batch 64. 100 epochs of 31 iterations, about 8 minutes on
# one core.
model = dict(
    queue_len=256,
    momentum=0.99,
    bn_splits=2,
    data_preprocessor=_base_.data_preprocessor,
    backbone=_base_.toy_backbone,
    neck=dict(in_channels=128, hid_channels=512, out_channels=128, with_bn=True))
max_epochs = 100
optim_wrapper = dict(optimizer=dict(lr=0.06, weight_decay=5e-4))
param_scheduler = [dict(type='CosineAnnealingLR', T_max=max_epochs, by_epoch=True, begin=0, end=max_epochs)]
train_cfg = dict(max_epochs=max_epochs)
auto_scale_lr = dict(_delete_=True)
default_hooks = dict(logger=dict(interval=10), checkpoint=dict(interval=max_epochs, max_keep_ckpts=1))
