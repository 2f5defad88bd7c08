_base_ = [
    '../../_base_/models/selfsup/byol_resnet50.py',
    '../../_base_/datasets/imagenet100_ssl.py',
    '../../_base_/schedules/selfsup_lars_warmup10e-coslr-300e.py',
]
# BYOL on ImageNet-100 (solo-learn's setting: ResNet-18, 400 epochs) with solo-learn's ImageNet-100
# optimisation as the DimCL authors ran it (thanhkaist/DimCL bash_files/pretrain/imagenet-100/byol.sh
# L13-21: LARS, eta 0.02, LARC clipping, biases and norms excluded, weight decay 1e-5, 10 warm-up
# epochs, cosine), lr 1.0 x batch/256 (their ResNet-18 run, L66).
model = dict(backbone=dict(depth=18), neck=dict(in_channels=512))
train_dataloader = dict(dataset=dict(pipeline=[
    dict(type='LoadImageFromFile'),
    dict(type='MultiView', num_views=[1, 1], transforms=[_base_.byol_view1_pipeline, _base_.byol_view2_pipeline]),
    dict(type='PackSelfSupInputs'),
]))
optim_wrapper = dict(optimizer=dict(lr=1.0, weight_decay=1e-05, eta=0.02, clip=True))
max_epochs = 400
param_scheduler = [
    dict(type='LinearLR', start_factor=0.003, by_epoch=True, begin=0, end=10, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=max_epochs - 10, eta_min=0.0, by_epoch=True, begin=10, end=max_epochs,
         convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=max_epochs)
auto_scale_lr = dict(base_batch_size=256)
