# Mean-teacher pipelines for real UDA detection benchmarks (shorter side ~600, as in DA Faster
# R-CNN / Adaptive Teacher). Branches of mmdet's MultiBranch:
#   'sup'           source images with labels -> student
#   'unsup_teacher' weak target view (resize + flip) -> teacher pseudo-labels; the student also
#                   sees it for the PCL/FCL term
#   'unsup_student' strong target view (+ colour RandAugment + random erasing) -> student
# The two target views differ in scale and flip; boxes move between them through the
# `homography_matrix` every geometric transform records.
backend_args = None
img_scale = (1200, 600)
ratio_range = (0.8, 1.2)
branch_field = ['sup', 'unsup_teacher', 'unsup_student']
view_meta_keys = ('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor', 'flip',
                  'flip_direction', 'homography_matrix')
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
sup_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='RandomResize', scale=img_scale, ratio_range=ratio_range, keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='FilterAnnotations', min_gt_bbox_wh=(1e-2, 1e-2)),
    dict(type='MultiBranch', branch_field=branch_field, sup=dict(type='PackDetInputs')),
]
weak_pipeline = [
    dict(type='RandomResize', scale=img_scale, ratio_range=ratio_range, keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs', meta_keys=view_meta_keys),
]
strong_pipeline = [
    dict(type='RandomResize', scale=img_scale, ratio_range=ratio_range, keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='RandAugment', aug_space=color_space, aug_num=2),
    dict(type='RandomErasing', n_patches=(1, 5), ratio=(0, 0.2)),
    dict(type='FilterAnnotations', min_gt_bbox_wh=(1e-2, 1e-2)),
    dict(type='PackDetInputs', meta_keys=view_meta_keys),
]
unsup_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='LoadEmptyAnnotations'),
    dict(type='MultiBranch', branch_field=branch_field, unsup_teacher=weak_pipeline,
         unsup_student=strong_pipeline),
]
test_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='PackDetInputs', meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor')),
]
