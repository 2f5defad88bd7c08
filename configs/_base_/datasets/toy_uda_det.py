# Embedded toy UDA benchmark, detection of person and car (COCO JSON boxes).
# Variables for UDA configs: source_train, target_train (images only), target_train_labelled
# (oracle only), source_val, target_val. Default loaders: train on source, evaluate on target.
dataset_type = 'mmcontrast.ToyUDACocoDataset'
data_root = 'data/toy_uda/'
img_scale = (256, 128)  # (w, h): the generated size
backend_args = None

# Photometric augmentation (mmdet's RandAugment colour space, as in the strong view of its
# semi-supervised configs). A detector trained from scratch on the flat source palette keys on
# colour: without it, a model at 88 AP50 on source val scores 0.1 AP50 on the foggy target and a
# mean teacher gets no pseudo-boxes to start from.
color_space = [
    [dict(type='ColorTransform')],
    [dict(type='AutoContrast')],
    [dict(type='Equalize')],
    [dict(type='Sharpness')],
    [dict(type='Posterize')],
    [dict(type='Solarize')],
    [dict(type='Color')],
    [dict(type='Contrast')],
    [dict(type='Brightness')],
]
train_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='RandomResize', scale=img_scale, ratio_range=(0.8, 1.25), keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='RandAugment', aug_space=color_space, aug_num=2),
    dict(type='PackDetInputs'),
]
# Unlabelled target images: same geometry, no LoadAnnotations.
target_train_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='RandomResize', scale=img_scale, ratio_range=(0.8, 1.25), keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs', meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                                          'scale_factor', 'flip', 'flip_direction')),
]
test_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='PackDetInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor')),
]


source_train = dict(
    type=dataset_type,
    data_root=data_root,
    ann_file='annotations/source_train.json',
    data_prefix=dict(img='source/images/train/'),
    filter_cfg=dict(filter_empty_gt=True, min_size=2),
    pipeline=train_pipeline,
    backend_args=backend_args)
# Boxes are in the JSON but the pipeline never loads them; keep every image.
target_train = dict(
    type=dataset_type,
    data_root=data_root,
    ann_file='annotations/target_train.json',
    data_prefix=dict(img='target/images/train/'),
    filter_cfg=dict(filter_empty_gt=False),
    pipeline=target_train_pipeline,
    backend_args=backend_args)
target_train_labelled = dict(
    type=dataset_type,
    data_root=data_root,
    ann_file='annotations/target_train.json',
    data_prefix=dict(img='target/images/train/'),
    filter_cfg=dict(filter_empty_gt=True, min_size=2),
    pipeline=train_pipeline,
    backend_args=backend_args)
source_val = dict(
    type=dataset_type,
    data_root=data_root,
    ann_file='annotations/source_val.json',
    data_prefix=dict(img='source/images/val/'),
    test_mode=True,
    pipeline=test_pipeline,
    backend_args=backend_args)
target_val = dict(
    type=dataset_type,
    data_root=data_root,
    ann_file='annotations/target_val.json',
    data_prefix=dict(img='target/images/val/'),
    test_mode=True,
    pipeline=test_pipeline,
    backend_args=backend_args)

train_dataloader = dict(
    batch_size=4,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    batch_sampler=dict(type='AspectRatioBatchSampler'),
    dataset=source_train)
val_dataloader = dict(
    batch_size=4,
    num_workers=2,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=target_val)
test_dataloader = val_dataloader
val_evaluator = dict(
    type='CocoMetric',
    ann_file=data_root + 'annotations/target_val.json',
    metric='bbox',
    format_only=False,
    backend_args=backend_args)
test_evaluator = val_evaluator
