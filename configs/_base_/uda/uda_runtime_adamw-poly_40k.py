# DAFormer's schedule (lhoyer/DAFormer configs/_base_/schedules/adamw.py, poly10warm.py and the
# paramwise_cfg of configs/daformer/*.py): AdamW 6e-5, head x10, no weight decay on norms and
# position blocks; poly decay (power 1) over the full 40k iterations, multiplied by a linear
# warm-up from 1e-6 over the first 1.5k (mmcv's PolyLrUpdaterHook with warmup='linear').
# Chained in mmengine, LinearLR x PolyLR gives the same lr to 1e-9: 5.775e-5 at iteration 1500.
# Evaluates the student and the EMA teacher every 4k iterations; DAFormer reports the student
# at the final iteration, so no best-checkpoint selection on the target val set (opt in with
# default_hooks.checkpoint.save_best='student/mIoU' if you really want it).
_base_ = ['../default_runtime_seg.py']
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=6e-05, betas=(0.9, 0.999), weight_decay=0.01),
    paramwise_cfg=dict(
        custom_keys={
            'head': dict(lr_mult=10.0),
            'pos_block': dict(decay_mult=0.0),
            'norm': dict(decay_mult=0.0),
            # mmseg 1.x names the MiT stage norms layers.<i>.2 (mmseg 0.x: norm1..norm4)
            **{f'backbone.layers.{i}.2.': dict(decay_mult=0.0)
               for i in range(4)}
        }))
param_scheduler = [
    # end=1501: mmengine's linear scheduler reaches end_factor at step end - 1, mmcv's warm-up at 1500.
    dict(type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0, end=1501),
    dict(type='PolyLR', power=1.0, eta_min=0.0, by_epoch=False, begin=0, end=40000),
]
# DAFormer's lr is for 1 GPU x 2 source (+ 2 target) images: tools/train.py --auto-scale-lr scales it.
auto_scale_lr = dict(enable=False, base_batch_size=2)
train_cfg = dict(type='IterBasedTrainLoop', max_iters=40000, val_interval=4000)
val_cfg = dict(type='mmcontrast.LabelledTeacherStudentValLoop')
test_cfg = dict(type='TestLoop')
# Sequential backward under DDP: one gradient all-reduce per iteration after the last stage.
model_wrapper_cfg = dict(type='mmcontrast.UDADistributedDataParallel')
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=4000, max_keep_ckpts=2, save_best=None))
custom_hooks = [dict(type='mmcontrast.PseudoLabelVisualizationHook', interval=1000)]
