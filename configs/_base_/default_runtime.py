# Runtime shared by the iteration-based mmdet and mmseg configs; mmcontrast classes are
# reachable as type='mmcontrast.X' (custom_imports also lets the stock mmdet/mmseg tools run them).
custom_imports = dict(imports=['mmcontrast'], allow_failed_imports=False)
env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'),
)
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=20, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    # Atomic saves (a killed save keeps the previous checkpoint) and a resume that does not trust
    # paths named by a foreign checkpoint; same arguments as mmengine's CheckpointHook.
    checkpoint=dict(type='mmcontrast.AtomicCheckpointHook', by_epoch=False, interval=1000, max_keep_ckpts=2),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    # Checkpoints carry the python/numpy/torch generator states and the sampler seeding; --resume
    # restores them, so a resumed run repeats the uninterrupted one exactly (docs/get_started.md).
    rng_state=dict(type='mmcontrast.RNGStateHook'))
vis_backends = [dict(type='LocalVisBackend')]
log_processor = dict(type='LogProcessor', window_size=20, by_epoch=False)
log_level = 'INFO'
load_from = None
resume = False
randomness = dict(seed=0)
