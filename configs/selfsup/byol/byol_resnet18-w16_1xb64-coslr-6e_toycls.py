_base_ = [
    '../../_base_/models/selfsup/byol_resnet50.py',
    '../../_base_/datasets/toy_cls_ssl.py',
    '../../_base_/schedules/selfsup_sgd_coslr-6e_toy.py',
]
# CPU toy run of BYOL: BN instead of SyncBN, a 16-wide ResNet-18, 512-wide MLPs, base
# momentum 0.99 (solo-learn's CIFAR value), asymmetric views (solarisation on the second).
norm_cfg = dict(type='BN1d')
model = dict(
    base_momentum=0.99,
    backbone=dict(type='ResNetCIFAR', depth=18, base_channels=16, strides=(2, 2, 2, 2), norm_cfg=dict(type='BN')),
    neck=dict(in_channels=128, hid_channels=512, out_channels=128, norm_cfg=norm_cfg),
    head=dict(predictor=dict(in_channels=128, hid_channels=512, out_channels=128, norm_cfg=norm_cfg)))
train_dataloader = dict(
    batch_size=64,
    dataset=dict(pipeline=[
        dict(type='MultiView', num_views=[1, 1],
             transforms=[_base_.view_pipeline, _base_.solarize_view_pipeline]),
        dict(type='PackSelfSupInputs'),
    ]))
