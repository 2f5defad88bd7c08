_base_ = [
    '../../_base_/models/selfsup/simsiam_resnet50.py',
    '../../_base_/datasets/toy_cls_ssl.py',
    '../../_base_/schedules/selfsup_sgd_coslr-6e_toy.py',
]
# CPU toy run of SimSiam: BN instead of SyncBN, a 16-wide ResNet-18, 512-wide projector,
# 128-wide predictor bottleneck (SimSiam's 4:1 ratio); no zero-init of the residual BN, as in
# the other toy runs (with it, the random-init reference is a stack of identity blocks).
norm_cfg = dict(type='BN1d')
model = dict(
    backbone=dict(type='ResNetCIFAR', depth=18, base_channels=16, strides=(2, 2, 2, 2), norm_cfg=dict(type='BN'),
                  zero_init_residual=False),
    neck=dict(in_channels=128, hid_channels=512, out_channels=512, norm_cfg=norm_cfg),
    head=dict(predictor=dict(in_channels=512, hid_channels=128, out_channels=512, norm_cfg=norm_cfg)))
# SimSiam's fixed predictor learning rate (official --fix-pred-lr, main_simsiam.py L193-195 and
# L359-366): the cosine decays the encoder's lr only; FixedLRHook holds the flagged group.
custom_imports = dict(imports=['mmcontrast', 'mmcontrast.engine.optimizers'], allow_failed_imports=False)
optim_wrapper = dict(paramwise_cfg=dict(custom_keys={'head.predictor': dict(fix_lr=True)}))
custom_hooks = [_base_.custom_hooks[0], dict(type='FixedLRHook')]
