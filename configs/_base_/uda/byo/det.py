# Bring your own data, detection (docs/byo_data.md): what a stock mmdet two-stage config (Faster
# R-CNN family) lacks to train mmcontrast.DomainAdaptiveTeacher. It defines only names that stock
# mmdet two-stage configs do not, so it composes with them: _base_ = ['mmdet::<config>.py', '<this file>'].
custom_imports = dict(imports=['mmcontrast'], allow_failed_imports=False)
# DomainAdaptiveTeacher arguments besides `detector` and `data_preprocessor` (the stock model's):
#   model = dict(_delete_=True, type='mmcontrast.DomainAdaptiveTeacher', detector=_base_.model,
#                data_preprocessor=dict(type='MultiBranchDataPreprocessor',
#                                       data_preprocessor=_base_.model.data_preprocessor), **_base_.uda_det)
uda_det = dict(
    semi_train_cfg=dict(
        freeze_teacher=True,
        sup_weight=1.0,
        unsup_weight=1.0,
        cls_pseudo_thr=0.8,  # teacher score threshold of the pseudo-boxes
        pseudo_box_reg=False,  # pseudo-boxes train classification only (Unbiased / Adaptive Teacher)
        min_pseudo_bbox_wh=(1e-2, 1e-2),
        burn_in_iters=4000),  # source-only iterations, then teacher := student
    semi_test_cfg=dict(predict_on='teacher'))
# The EMA teacher (mmdet's hook; a frozen-BN backbone, so parameters only).
custom_hooks = [dict(type='MeanTeacherHook', momentum=0.0004)]
# One source and one target image per GPU, mixed by mmdet's GroupMultiSourceSampler:
#   train_dataloader = dict(batch_size=2, batch_sampler=None, sampler=_base_.uda_det_sampler,
#                           dataset=dict(type='mmcontrast.UDADetDataset', source=..., target=...))
uda_det_sampler = dict(type='GroupMultiSourceSampler', batch_size=2, source_ratio=[1, 1])
# The stock runtime is epoch-based; the mean teacher samples forever (GroupMultiSourceSampler), so it
# trains by iterations: 24k iterations, lr x0.1 at 20k, evaluation of teacher and student every 2k.
# One line in the user config takes all five:
#   train_cfg, val_cfg, param_scheduler, default_hooks, log_processor = _base_.uda_det_runtime
uda_det_runtime = (
    dict(_delete_=True, type='IterBasedTrainLoop', max_iters=24000, val_interval=2000),
    dict(_delete_=True, type='mmcontrast.LabelledTeacherStudentValLoop'),  # teacher and student, titled
    [
        dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=500),
        dict(type='MultiStepLR', by_epoch=False, begin=0, end=24000, milestones=[20000], gamma=0.1),
    ],
    dict(checkpoint=dict(by_epoch=False, interval=2000, max_keep_ckpts=3), logger=dict(log_metric_by_epoch=False)),
    dict(by_epoch=False),
)
