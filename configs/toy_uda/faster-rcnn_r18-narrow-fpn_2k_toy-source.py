# Source-only baseline: Faster R-CNN (narrow R-18 + FPN) trained on source boxes, evaluated on
# target val (COCO bbox AP; AP50 is coco/bbox_mAP_50).
_base_ = [
    '../_base_/models/faster-rcnn_r18-narrow-fpn.py', '../_base_/datasets/toy_uda_det.py',
    '../_base_/default_runtime_det.py', '../_base_/schedules/schedule_toy_2k.py'
]
optim_wrapper = dict(clip_grad=dict(max_norm=35, norm_type=2))
