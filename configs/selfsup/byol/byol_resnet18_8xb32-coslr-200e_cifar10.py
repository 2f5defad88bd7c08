_base_ = [
    '../../_base_/models/selfsup/byol_resnet50.py',
    '../../_base_/datasets/cifar10_ssl.py',
    '../../_base_/schedules/selfsup_lars_warmup10e-coslr-300e.py',
]
# BYOL on CIFAR-10: CIFAR-stem ResNet-18, base momentum 0.99, projector/predictor 4096-256, solarisation on
# the second view; the optimisation of solo-learn's CIFAR BYOL as the DimCL authors ran it
# (thanhkaist/DimCL bash_files/pretrain/cifar/byol.sh L10-19: LARS with eta 0.02 and LARC clipping,
# biases and norms excluded, lr 1.0 x batch/256, weight decay 1e-5, 10 warm-up epochs then cosine;
# solo/methods/base.py L299), 200 epochs.
model = dict(
    base_momentum=0.99,
    backbone=dict(type='ResNetCIFAR', depth=18, norm_cfg=dict(type='SyncBN')),
    neck=dict(in_channels=512))
train_dataloader = dict(dataset=dict(pipeline=[
    dict(type='MultiView', num_views=[1, 1], transforms=[_base_.view_pipeline, _base_.solarize_view_pipeline]),
    dict(type='PackSelfSupInputs'),
]))
optim_wrapper = dict(optimizer=dict(lr=1.0, weight_decay=1e-05, eta=0.02, clip=True))
max_epochs = 200
param_scheduler = [
    dict(type='LinearLR', start_factor=0.003, by_epoch=True, begin=0, end=10, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=max_epochs - 10, eta_min=0.0, by_epoch=True, begin=10, end=max_epochs,
         convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=max_epochs)
auto_scale_lr = dict(base_batch_size=256)
