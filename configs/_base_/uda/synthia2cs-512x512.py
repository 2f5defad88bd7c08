# SYNTHIA-RAND-CITYSCAPES (labelled source) -> Cityscapes, 512x512 crops, batch 2 + 2.
# 19-class model; mIoU16 / mIoU13 over the SYNTHIA protocol's classes are reported too.
# Convert SYNTHIA labels first: python tools/dataset_converters/synthia.py data/synthia
_base_ = ['./gta2cs-512x512.py']
source_train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='Resize', scale=(1280, 760), keep_ratio=True),
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
