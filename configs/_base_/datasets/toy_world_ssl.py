# Self-supervised pretraining on the toy world (mmcontrast.datasets.toy_world: 2000 unlabelled,
# domain-randomised 128x256 scenes, generated on first use): the toy UDA benchmark's ImageNet.
# MoCo v2 / SimCLR views at 64x64 (crops of 20-100% of the scene; 64 px keeps a CPU epoch near
# 20 s), ImageNet mean/std as in the toy segmentation and detection models. No kNN monitor: the
# set has no labels; the transfer to the toy UDA configs is the evaluation.
dataset_type = 'ToyWorldImages'
data_root = 'data/toy_world'
data_preprocessor = dict(type='SelfSupDataPreprocessor', mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375],
                         bgr_to_rgb=True)
crop = 64
view_pipeline = [
    dict(type='RandomResizedCrop', size=crop, scale=(0.2, 1.0)),
    dict(type='RandomApply', transforms=[dict(type='ColorJitter', brightness=0.4, contrast=0.4, saturation=0.4,
                                              hue=0.1)], prob=0.8),
    dict(type='RandomGrayscale', prob=0.2),
    dict(type='RandomApply', transforms=[dict(type='GaussianBlur', sigma_min=0.1, sigma_max=2.0)], prob=0.5),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
]
# ASCL's weak (key) view.
weak_view_pipeline = [
    dict(type='RandomResizedCrop', size=crop, scale=(0.2, 1.0)),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
]
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='MultiView', num_views=2, transforms=[view_pipeline]),
    dict(type='PackSelfSupInputs'),
]
train_dataloader = dict(
    batch_size=64,
    num_workers=1,
    persistent_workers=True,
    drop_last=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type=dataset_type, data_root=data_root, pipeline=train_pipeline))
# The toy segmentation/detection backbone (configs/_base_/models/deeplabv3_r18-narrow.py): ResNetV1c-18 at
# 1/4 width, pretrained with ImageNet strides (no dilation; dilation does not change the weights).
toy_backbone = dict(
    type='mmseg.ResNetV1c',
    depth=18,
    stem_channels=16,
    base_channels=16,
    num_stages=4,
    out_indices=(3, ),
    strides=(1, 2, 2, 2),
    dilations=(1, 1, 1, 1),
    norm_cfg=dict(type='BN', requires_grad=True),
    norm_eval=False,
    style='pytorch')
# Whole scenes at half size, for the clustering of ProtoNCE / PAUC (PrototypeClusteringHook).
cluster_dataloader = dict(
    batch_size=128,
    num_workers=1,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, data_root=data_root,
                 pipeline=[dict(type='LoadImageFromFile'), dict(type='Resize', scale=(128, 64)),
                           dict(type='PackClsInputs')]))
