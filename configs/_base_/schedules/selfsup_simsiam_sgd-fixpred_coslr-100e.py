# SimSiam's optimisation (facebookresearch/simsiam main_simsiam.py; Chen & He 2021, Sec. 4.1 and
# 4.2): SGD, momentum 0.9, weight decay 1e-4, lr 0.05 x batch/256 (0.1 at 512), cosine per epoch
# (main_simsiam.py L359-361), no warm-up below batch 1024 (Sec. 4.2: "10 epochs of warm-up for batch
# sizes >= 1024"; "the same SGD optimizer (rather than LARS) for all batch sizes"), and the
# predictor at the fixed initial lr (--fix-pred-lr, L193-195 and L363-364) through FixedLRHook.
# Carries the selfsup runtime and imports mmcontrast.engine.optimizers (FixedLRHook).
_base_ = ['../default_runtime_selfsup.py']
custom_imports = dict(imports=['mmcontrast', 'mmcontrast.engine.optimizers'], allow_failed_imports=False)
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=1e-4),
    paramwise_cfg=dict(custom_keys={'head.predictor': dict(fix_lr=True)}))
max_epochs = 100
param_scheduler = [dict(type='CosineAnnealingLR', T_max=max_epochs, by_epoch=True, begin=0, end=max_epochs)]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs)
auto_scale_lr = dict(base_batch_size=512)
# The dataset bases define custom_hooks (the kNN monitor); method configs append
# dict(type='FixedLRHook') to them.
