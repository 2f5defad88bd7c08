# Runtime of self-supervised pretraining and linear probes (classification backbones).
# Our classes are looked up unprefixed (default_scope='mmcontrast'); stock ones are
# prefixed (`mmdet.ResNet`) or found in mmengine/mmcv's root registries.
default_scope = 'mmcontrast'
custom_imports = dict(imports=['mmcontrast'], allow_failed_imports=False)

default_hooks = dict(
    runtime_info=dict(type='RuntimeInfoHook'),
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50),
    param_scheduler=dict(type='ParamSchedulerHook'),
    # Atomic saves, guarded resume (mmengine CheckpointHook arguments). Epoch-based: checkpoints are
    # written at epoch ends only (by_epoch=False is refused, it would need a mid-epoch resume).
    checkpoint=dict(type='AtomicCheckpointHook', interval=10, max_keep_ckpts=3),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    # generator states in every checkpoint, restored by --resume (docs/get_started.md)
    rng_state=dict(type='RNGStateHook'),
)

env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'),
)

log_processor = dict(window_size=10)
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='Visualizer', vis_backends=vis_backends)
log_level = 'INFO'
load_from = None
resume = False
randomness = dict(seed=0, deterministic=False)
