# Domain-adaptive mean teacher around mmdet's stock faster-rcnn_r50_fpn (ImageNet R-50, frozen
# BN statistics), 24k iterations of batch 16 (8 GPUs x (1 source + 1 target)), the first 4k
# source-only (burn-in; then the teacher is reset to the student). A dataset base must define
# source_dataset, target_dataset, target_val_dataset, val_ann_file and num_classes.
_base_ = ['mmdet::_base_/models/faster-rcnn_r50_fpn.py', '../default_runtime_det.py', './uda_det_loaders.py']

detector = _base_.model
model = dict(
    _delete_=True,
    type='mmcontrast.DomainAdaptiveTeacher',
    detector=detector,
    data_preprocessor=dict(type='MultiBranchDataPreprocessor', data_preprocessor=detector.data_preprocessor),
    semi_train_cfg=dict(
        freeze_teacher=True,
        sup_weight=1.0,
        unsup_weight=1.0,
        cls_pseudo_thr=0.8,
        pseudo_box_reg=False,
        min_pseudo_bbox_wh=(1e-2, 1e-2),
        burn_in_iters=4000),
    semi_test_cfg=dict(predict_on='teacher'))


max_iters = 24000
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=2000)
val_cfg = dict(type='mmcontrast.LabelledTeacherStudentValLoop')
test_cfg = dict(type='TestLoop')
optim_wrapper = dict(type='OptimWrapper', optimizer=dict(type='SGD', lr=0.02, momentum=0.9, weight_decay=1e-4))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=500),
    dict(type='MultiStepLR', by_epoch=False, begin=0, end=max_iters, milestones=[20000], gamma=0.1),
]
auto_scale_lr = dict(enable=False, base_batch_size=16)
# Frozen-BN backbone: averaging the parameters is enough (mmdet's default skips buffers).
custom_hooks = [dict(type='MeanTeacherHook', momentum=0.0004)]
default_hooks = dict(checkpoint=dict(by_epoch=False, interval=2000, max_keep_ckpts=3))
log_processor = dict(by_epoch=False)
