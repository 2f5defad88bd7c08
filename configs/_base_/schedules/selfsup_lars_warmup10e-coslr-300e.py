# BYOL's optimisation (Grill et al. 2020, Sec. 3.2 and App. C; mmpretrain
# configs/_base_/schedules/imagenet_lars_coslr_200e.py): LARS with momentum 0.9, trust coefficient
# 1e-3, biases and BN parameters excluded from the adaptation and the weight decay
# (mmcontrast.LARS, exclude_bias_and_norm=True), weight decay 1.5e-6, lr 0.2 x batch/256
# (3.2 at the paper's 4096), 10 warm-up epochs and a cosine decay to 0, both per iteration.
# Carries the selfsup runtime and imports mmcontrast.engine.optimizers (LARS's registry).
_base_ = ['../default_runtime_selfsup.py']
custom_imports = dict(imports=['mmcontrast', 'mmcontrast.engine.optimizers'], allow_failed_imports=False)
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='LARS', lr=3.2, momentum=0.9, weight_decay=1.5e-6, eta=1e-3, exclude_bias_and_norm=True))
max_epochs = 300
warmup_epochs = 10
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-4, by_epoch=True, begin=0, end=warmup_epochs, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=max_epochs - warmup_epochs, eta_min=0.0, by_epoch=True,
         begin=warmup_epochs, end=max_epochs, convert_to_iter_based=True),
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs)
auto_scale_lr = dict(base_batch_size=4096)
