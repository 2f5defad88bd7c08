# Source-only baseline: Faster R-CNN (narrow R-18 + FPN) trained on source boxes, evaluated on
# target val (COCO bbox AP; AP50 is coco/bbox_mAP_50). The backbone starts from the toy world's
# MoCo v2 weights (the toy benchmark's ImageNet init).
_base_ = [
    '../_base_/models/faster-rcnn_r18-narrow-fpn.py', '../_base_/datasets/toy_uda_det.py',
    '../_base_/default_runtime_det.py', '../_base_/schedules/schedule_toy_2k.py',
    '../_base_/models/toy_pretrained_backbone.py'
]
model = dict(backbone=dict(init_cfg=dict(_base_.toy_pretrained, _delete_=True)))
optim_wrapper = dict(_base_.toy_finetune_optim_wrapper, clip_grad=dict(max_norm=35, norm_type=2))
