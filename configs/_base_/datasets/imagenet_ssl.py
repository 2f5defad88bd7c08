# ImageNet-1k pretraining with the MoCo v2 / SimCLR augmentations at 224 (two views of one
# pipeline) and a kNN monitor on the train/val images. Folder layout: data/imagenet/{train,val}/
# <wnid>/*.JPEG (val sorted into class folders, or give ann_file='meta/val.txt').
dataset_type = 'ImageFolder'
data_root = 'data/imagenet'
data_preprocessor = dict(type='SelfSupDataPreprocessor', mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375],
                         bgr_to_rgb=True)

view_pipeline = [
    dict(type='RandomResizedCrop', size=224, scale=(0.2, 1.0)),
    dict(type='RandomApply', transforms=[dict(type='ColorJitter', brightness=0.4, contrast=0.4, saturation=0.4,
                                              hue=0.1)], prob=0.8),
    dict(type='RandomGrayscale', prob=0.2),
    dict(type='RandomApply', transforms=[dict(type='GaussianBlur', sigma_min=0.1, sigma_max=2.0)], prob=0.5),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
]
# ASCL's weak (key) view.
weak_view_pipeline = [
    dict(type='RandomResizedCrop', size=224, scale=(0.2, 1.0)),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
]
# BYOL's asymmetric pair: blur always / 10% of the time, solarisation never / 20% of the time.
_byol_common = [
    dict(type='RandomResizedCrop', size=224, scale=(0.08, 1.0), interpolation='bicubic'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='RandomApply', transforms=[dict(type='ColorJitter', brightness=0.4, contrast=0.4, saturation=0.2,
                                              hue=0.1)], prob=0.8),
    dict(type='RandomGrayscale', prob=0.2),
]
byol_view1_pipeline = _byol_common + [dict(type='GaussianBlur', sigma_min=0.1, sigma_max=2.0)]
byol_view2_pipeline = _byol_common + [
    dict(type='RandomApply', transforms=[dict(type='GaussianBlur', sigma_min=0.1, sigma_max=2.0)], prob=0.1),
    dict(type='RandomApply', transforms=[dict(type='Solarize', threshold=128)], prob=0.2),
]
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='MultiView', num_views=2, transforms=[view_pipeline]),
    dict(type='PackSelfSupInputs'),
]
# Short side to 256 (mmcv's Resize bounds both sides; the long bound never binds), centre 224.
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(100000, 256), keep_ratio=True),
    dict(type='CenterCrop', crop_size=224),
    dict(type='PackClsInputs'),
]
train_dataloader = dict(
    batch_size=32,
    num_workers=8,
    persistent_workers=True,
    drop_last=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type=dataset_type, data_root=data_root, data_prefix='train', pipeline=train_pipeline))
knn_bank_dataloader = dict(
    batch_size=128,
    num_workers=8,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, data_root=data_root, data_prefix='train', pipeline=test_pipeline))
knn_query_dataloader = dict(
    batch_size=128,
    num_workers=8,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, data_root=data_root, data_prefix='val', pipeline=test_pipeline))
custom_hooks = [
    dict(type='KNNMonitorHook', bank_dataloader=knn_bank_dataloader, query_dataloader=knn_query_dataloader,
         k=200, temperature=0.1, interval=20)
]
