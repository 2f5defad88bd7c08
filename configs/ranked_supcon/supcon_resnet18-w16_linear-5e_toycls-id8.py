# Stage 2 of the two-stage SupCon recipe: a linear classifier on the frozen stage-1 backbone.
# Point `pretrained` at the stage-1 checkpoint (its keys start with `model.backbone.`):
#   --cfg-options model.backbone.init_cfg.checkpoint=work_dirs/<stage1>/epoch_12.pth
_base_ = './ce_resnet18-w16_1xb128-12e_toycls-id8.py'

pretrained = 'work_dirs/supcon_resnet18-w16_1xb128-12e_toycls-id8-pretrain/epoch_12.pth'
model = dict(
    frozen=True,
    backbone=dict(init_cfg=dict(type='Pretrained', checkpoint=pretrained, prefix='model.backbone.')))
max_epochs = 5
optim_wrapper = dict(optimizer=dict(lr=5e-3, weight_decay=0.0))
param_scheduler = [dict(type='CosineAnnealingLR', T_max=max_epochs, by_epoch=True, begin=0, end=max_epochs)]
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
default_hooks = dict(checkpoint=dict(interval=max_epochs))
