# Stage 2 of the two-stage ranked SupCon recipe: a linear classifier on the frozen stage-1 backbone.
_base_ = './supcon_resnet18-w16_linear-5e_toycls-id8.py'

pretrained = 'work_dirs/ranked-supcon_resnet18-w16_1xb128-12e_toycls-id8-pretrain/epoch_12.pth'
model = dict(backbone=dict(init_cfg=dict(checkpoint=pretrained)))
