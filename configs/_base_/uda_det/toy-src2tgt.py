# Toy UDA detection data for mean-teacher training: labelled source + unlabelled target in one
# ConcatDataset, mixed 1:1 in every batch by GroupMultiSourceSampler; evaluation on target val.
# Branches (mmdet MultiBranch): 'sup' = source view for the student; 'unsup_teacher' = weak target
# view (teacher pseudo-labels; also the student's first view for PCL/FCL); 'unsup_student' =
# strong target view (student, pseudo-label loss and second PCL/FCL view).
_base_ = ['../datasets/toy_uda_det.py']

img_scale = (256, 128)
branch_field = ['sup', 'unsup_teacher', 'unsup_student']
view_meta_keys = ('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor', 'flip',
                  'flip_direction', 'homography_matrix')
color_space = _base_.color_space

sup_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='RandomResize', scale=img_scale, ratio_range=(0.8, 1.25), keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='RandAugment', aug_space=color_space, aug_num=2),
    dict(type='FilterAnnotations', min_gt_bbox_wh=(1e-2, 1e-2)),
    dict(type='MultiBranch', branch_field=branch_field, sup=dict(type='PackDetInputs')),
]
weak_pipeline = [
    dict(type='RandomResize', scale=img_scale, ratio_range=(0.8, 1.25), keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs', meta_keys=view_meta_keys),
]
strong_pipeline = [
    dict(type='RandomResize', scale=img_scale, ratio_range=(0.8, 1.25), keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='RandAugment', aug_space=color_space, aug_num=2),
    dict(type='RandomErasing', n_patches=(1, 3), ratio=(0, 0.1)),
    dict(type='FilterAnnotations', min_gt_bbox_wh=(1e-2, 1e-2)),
    dict(type='PackDetInputs', meta_keys=view_meta_keys),
]
unsup_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadEmptyAnnotations'),
    dict(type='MultiBranch', branch_field=branch_field, unsup_teacher=weak_pipeline,
         unsup_student=strong_pipeline),
]

source_dataset = _base_.source_train
source_dataset.pipeline = sup_pipeline
target_dataset = _base_.target_train
target_dataset.pipeline = unsup_pipeline

batch_size = 4
train_dataloader = dict(
    _delete_=True,
    batch_size=batch_size,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='GroupMultiSourceSampler', batch_size=batch_size, source_ratio=[1, 1]),
    dataset=dict(
        type='ConcatDataset',
        datasets=[source_dataset, target_dataset]))
