_base_ = [
    '../../_base_/models/selfsup/simsiam_resnet50.py',
    '../../_base_/datasets/toy_world_ssl.py',
    '../../_base_/schedules/selfsup_sgd_coslr-200e.py',
    '../../_base_/default_runtime_selfsup.py',
]
# DimCL on SimSiam on the toy world (the chain table of configs/uda_seg/README.md): the toy-texture
# SimSiam + DimCL recipe (configs/selfsup/dimcl/dimcl-simsiam_resnet18-w16_1xb64-coslr-6e_toycls.py:
# BN, 512-wide projector, 128-wide predictor bottleneck, fixed predictor lr, DimCL weight 0.1 at
# tau 0.1) on the toy segmentation backbone, with the MoCo v2 toy-world schedule.
norm_cfg = dict(type='BN1d')
model = dict(
    data_preprocessor=_base_.data_preprocessor,
    backbone=dict(_base_.toy_backbone, _delete_=True, zero_init_residual=False),
    neck=dict(in_channels=128, hid_channels=512, out_channels=512, norm_cfg=norm_cfg),
    head=dict(predictor=dict(in_channels=512, hid_channels=128, out_channels=512, norm_cfg=norm_cfg)),
    dimcl=dict(type='DimCLLoss', temperature=0.1),
    dimcl_weight=0.1)
custom_imports = dict(imports=['mmcontrast', 'mmcontrast.engine.optimizers'], allow_failed_imports=False)
max_epochs = 100
optim_wrapper = dict(optimizer=dict(lr=0.06, weight_decay=5e-4),
                     paramwise_cfg=dict(custom_keys={'head.predictor': dict(fix_lr=True)}))
param_scheduler = [dict(type='CosineAnnealingLR', T_max=max_epochs, by_epoch=True, begin=0, end=max_epochs)]
train_cfg = dict(max_epochs=max_epochs)
auto_scale_lr = dict(_delete_=True)
custom_hooks = [dict(type='FixedLRHook')]
default_hooks = dict(logger=dict(interval=10), checkpoint=dict(interval=max_epochs, max_keep_ckpts=1))
