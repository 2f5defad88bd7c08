# Source-only baseline: DeepLabV3 (narrow R-18) trained on labelled source, evaluated on target val.
# The backbone starts from the toy world's MoCo v2 weights (the toy benchmark's ImageNet init).
_base_ = [
    '../_base_/models/deeplabv3_r18-narrow.py', '../_base_/datasets/toy_uda_seg.py',
    '../_base_/default_runtime_seg.py', '../_base_/schedules/schedule_toy_2k.py',
    '../_base_/models/toy_pretrained_backbone.py'
]
model = dict(backbone=dict(init_cfg=_base_.toy_pretrained))
optim_wrapper = _base_.toy_finetune_optim_wrapper
