# The PCL / DAFormer schedule: AdamW 6e-5 (head x10, no decay on norms and position
# blocks), linear warm-up for 1.5k iterations, then poly (power 1) to 0; 40k iterations.
# Evaluates the EMA teacher and the student every 4k iterations. Inherits the seg runtime.
_base_ = ['../default_runtime_seg.py']
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=6e-05, betas=(0.9, 0.999), weight_decay=0.01),
    paramwise_cfg=dict(
        custom_keys=dict(head=dict(lr_mult=10.0), pos_block=dict(decay_mult=0.0), norm=dict(decay_mult=0.0))))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0, end=1500),
    dict(type='PolyLR', power=1.0, eta_min=0.0, by_epoch=False, begin=1500, end=40000),
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=40000, val_interval=4000)
val_cfg = dict(type='mmdet.TeacherStudentValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    checkpoint=dict(
        type='CheckpointHook', by_epoch=False, interval=4000, max_keep_ckpts=2, save_best='teacher/mIoU',
        rule='greater'))
custom_hooks = [dict(type='mmcontrast.PseudoLabelVisualizationHook', interval=1000)]
