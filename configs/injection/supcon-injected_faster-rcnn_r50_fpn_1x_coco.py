# Stock mmdet Faster R-CNN, untouched, plus a supervised contrastive term on its RoI features.
# The model config comes from mmdet through _base_; ContrastiveInjector wraps it and taps:
#   features: the input of roi_head.bbox_head.fc_cls (the 1024-d shared-FC output of every
#             sampled RoI), projected to 128-d by a 2-layer MLP owned by the term;
#   labels:   the RoI targets the stock bbox head assigns (get_targets()[0]);
#             background RoIs (label 80 = num_classes) are dropped.
# The term is logged as loss_supcon and its weight warms up linearly over 1000 iterations.
_base_ = 'mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py'
custom_imports = dict(imports=['mmcontrast'], allow_failed_imports=False)

model = dict(
    _delete_=True,
    type='mmcontrast.ContrastiveInjector',
    model=_base_.model,
    terms=[
        dict(
            name='supcon',
            loss=dict(type='mmcontrast.SupConLoss', temperature=0.2, loss_weight=0.1),
            inputs=dict(
                features='roi_head.bbox_head.fc_cls:input',
                labels='roi_head.bbox_head.get_targets:return[0]'),
            projectors=dict(features=dict(out_channels=128)),
            ignore_index=80)
    ])
custom_hooks = [
    dict(type='mmcontrast.LossWeightWarmupHook', param='terms.supcon.loss.loss_weight', warmup_iters=1000)
]
