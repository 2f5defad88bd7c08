# SYNTHIA-RAND-CITYSCAPES -> Cityscapes at full resolution, 1024x1024 crops (HRDA, lhoyer/HRDA
# configs/_base_/datasets/uda_synthiaHR_to_cityscapesHR_1024x1024.py: SYNTHIA at 2560x1520).
# 19-class model; mIoU16 / mIoU13 over the SYNTHIA protocol's classes are reported too.
# Convert SYNTHIA labels first: python tools/dataset_converters/synthia.py data/synthia
_base_ = ['./gtaHR2csHR-1024x1024.py']
source_train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='Resize', scale=(2560, 1520), keep_ratio=True),
    dict(type='RandomCrop', crop_size={{_base_.crop_size}}, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs'),
]
train_dataloader = dict(
    dataset=dict(
        source=dict(
            _delete_=True,
            type='mmcontrast.SynthiaDataset',
            data_root='data/synthia',
            data_prefix=dict(img_path='RGB', seg_map_path='GT/LABELS'),
            pipeline=source_train_pipeline)))
val_evaluator = dict(type='mmcontrast.SubsetIoUMetric', subsets='synthia', iou_metrics=['mIoU'])
test_evaluator = val_evaluator
