# Detection baseline of the ranked SupCon study: Faster R-CNN (narrow R-18 + FPN) trained on the
# toy source domain, evaluated in-domain on source val (COCO bbox AP; AP50 is coco/bbox_mAP_50).
# No contrastive term. 1k iterations on CPU.
_base_ = [
    '../_base_/models/faster-rcnn_r18-narrow-fpn.py', '../_base_/datasets/toy_uda_det.py',
    '../_base_/default_runtime_det.py', '../_base_/schedules/schedule_toy_2k.py'
]

optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=2e-3, betas=(0.9, 0.999), weight_decay=1e-4),
    clip_grad=dict(max_norm=35, norm_type=2))
val_dataloader = dict(dataset=_base_.source_val)
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=_base_.data_root + 'annotations/source_val.json')
test_evaluator = val_evaluator
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=100),
    dict(type='PolyLR', eta_min=1e-5, power=0.9, by_epoch=False, begin=100, end=1000),
]
train_cfg = dict(max_iters=1000, val_interval=1000)
default_hooks = dict(checkpoint=dict(interval=1000))
