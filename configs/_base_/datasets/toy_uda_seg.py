# Embedded toy UDA benchmark, semantic segmentation (8 classes, Cityscapes train ids remapped
# to 0..7 by the dataset's label_map). Generated automatically on first use.
# Variables for UDA configs: source_train, target_train (images only), target_train_labelled
# (oracle only), source_val, target_val. Default loaders: train on source, evaluate on target.
dataset_type = 'mmcontrast.ToyUDASegDataset'
data_root = 'data/toy_uda'
img_scale = (256, 128)  # (w, h), the generated size
crop_size = (128, 128)  # (h, w): half-width crops keep CPU training cheap

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='RandomResize', scale=img_scale, ratio_range=(0.75, 1.5), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs'),
]
# Unlabelled target images: same geometry, no LoadAnnotations.
target_train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResize', scale=img_scale, ratio_range=(0.75, 1.5), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs'),
]
# tools/test.py --tta (the runtime's tta_model = SegTTAModel): the test scale and its horizontal flip;
# labels are loaded after the flip (SegTTAModel un-flips the predictions).
tta_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    dict(
        type='TestTimeAug',
        transforms=[[dict(type='RandomFlip', prob=0., direction='horizontal'),
                     dict(type='RandomFlip', prob=1., direction='horizontal')], [dict(type='LoadAnnotations')],
                    [dict(type='PackSegInputs')]])
]

source_train = dict(
    type=dataset_type,
    data_root=data_root,
    data_prefix=dict(img_path='source/images/train', seg_map_path='source/labels/train'),
    pipeline=train_pipeline)
# No seg_map_path: target labels are never read by UDA training.
target_train = dict(
    type=dataset_type,
    data_root=data_root,
    data_prefix=dict(img_path='target/images/train'),
    pipeline=target_train_pipeline)
target_train_labelled = dict(
    type=dataset_type,
    data_root=data_root,
    data_prefix=dict(img_path='target/images/train', seg_map_path='target/labels/train'),
    pipeline=train_pipeline)
source_val = dict(
    type=dataset_type,
    data_root=data_root,
    data_prefix=dict(img_path='source/images/val', seg_map_path='source/labels/val'),
    pipeline=test_pipeline)
target_val = dict(
    type=dataset_type,
    data_root=data_root,
    data_prefix=dict(img_path='target/images/val', seg_map_path='target/labels/val'),
    pipeline=test_pipeline)

train_dataloader = dict(
    batch_size=4,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=source_train)
val_dataloader = dict(
    batch_size=4,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=target_val)
test_dataloader = val_dataloader
val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator
