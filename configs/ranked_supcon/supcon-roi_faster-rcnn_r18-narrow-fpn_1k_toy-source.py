# Faster R-CNN with FSCE-style contrastive proposal encoding: SupCon on the RoI features of
# foreground proposals (IoU >= 0.7 with their ground truth), through a 128-d projection head.
_base_ = './faster-rcnn_r18-narrow-fpn_1k_toy-source.py'

model = dict(
    roi_head=dict(
        type='mmcontrast.ContrastiveRoIHead',
        contrast_head=dict(out_channels=128),
        loss_contrast=dict(type='mmcontrast.SupConLoss', temperature=0.2, loss_weight=0.5),
        iou_threshold=0.7,
        iou_reweight='none'))
custom_hooks = [
    dict(type='mmcontrast.LossWeightWarmupHook', param='roi_head.loss_contrast.loss_weight', warmup_iters=200)
]
