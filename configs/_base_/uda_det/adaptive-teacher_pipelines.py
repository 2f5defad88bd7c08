# Adaptive Teacher's data views (facebookresearch/adaptive_teacher). Every image, source and target,
# gets one geometry and two photometric views (adapteacher/data/dataset_mapper.py L92-155):
#   weak   = detectron2's ResizeShortestEdge(600, max 1333) + horizontal flip p0.5 (Base-RCNN-C4.yaml
#            L17 INPUT.MIN_SIZE_TRAIN=(600,); MAX_SIZE_TRAIN=1333 and RANDOM_FLIP are detectron2 defaults)
#   strong = the weak image + SimCLR-style colour (adapteacher/data/detection_utils.py L22-43):
#            ColorJitter(0.4, 0.4, 0.4, 0.1) p0.8, grayscale p0.2, Gaussian blur sigma U(0.1, 2) p0.5
#            (transforms/augmentation_impl.py L15-21), then three torchvision RandomErasings.
# Test: ResizeShortestEdge(800, max 1333) (detectron2's INPUT.MIN_SIZE_TEST / MAX_SIZE_TEST defaults).
# Branches (mmdet MultiBranch): 'sup' strong source, 'sup_weak' weak source (both supervised, as AT's
# label_data_q + label_data_k, trainer.py L595-601), 'unsup_teacher' weak target (teacher, and the
# discriminator's target features), 'unsup_student' strong target (pseudo-label loss). Names are
# prefixed at_ so that this file can sit beside a dataset base that defines the default pipelines.
at_train_scale = (1333, 600)
at_test_scale = (1333, 800)
at_branch_field = ['sup', 'sup_weak', 'unsup_teacher', 'unsup_student']
at_meta_keys = ('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor', 'flip', 'flip_direction',
                'homography_matrix')
at_strong_photometric = [
    dict(
        type='RandomApply',
        transforms=[dict(type='mmcontrast.ColorJitter', brightness=0.4, contrast=0.4, saturation=0.4, hue=0.1)],
        prob=0.8),
    dict(type='mmcontrast.RandomGrayscale', prob=0.2),
    dict(type='RandomApply', transforms=[dict(type='mmcontrast.GaussianBlur', sigma_min=0.1, sigma_max=2.0)], prob=0.5),
    dict(type='mmcontrast.TorchvisionRandomErasing', prob=0.7, scale=(0.05, 0.2), ratio=(0.3, 3.3), value='random'),
    dict(type='mmcontrast.TorchvisionRandomErasing', prob=0.5, scale=(0.02, 0.2), ratio=(0.1, 6), value='random'),
    dict(type='mmcontrast.TorchvisionRandomErasing', prob=0.3, scale=(0.02, 0.2), ratio=(0.05, 8), value='random'),
]
at_weak_geometry = [
    dict(type='Resize', scale=at_train_scale, keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
]
at_sup_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True),
    *at_weak_geometry,
    dict(type='FilterAnnotations', min_gt_bbox_wh=(1e-2, 1e-2)),
    dict(
        type='MultiBranch',
        branch_field=at_branch_field,
        sup=[*at_strong_photometric, dict(type='PackDetInputs', meta_keys=at_meta_keys)],
        sup_weak=[dict(type='PackDetInputs', meta_keys=at_meta_keys)]),
]
at_unsup_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadEmptyAnnotations'),
    *at_weak_geometry,
    dict(
        type='MultiBranch',
        branch_field=at_branch_field,
        unsup_teacher=[dict(type='PackDetInputs', meta_keys=at_meta_keys)],
        unsup_student=[*at_strong_photometric,
                       dict(type='PackDetInputs', meta_keys=at_meta_keys)]),
]
at_test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=at_test_scale, keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='PackDetInputs', meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor')),
]
