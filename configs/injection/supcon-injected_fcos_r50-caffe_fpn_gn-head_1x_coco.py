# Stock mmdet FCOS, untouched, plus a supervised contrastive term on its classification features:
# the single-stage route of ContrastiveInjector (docs/injection.md, "Single-stage detectors").
# FCOS's head runs once per FPN level, so the term sets per_level=True: the taps of the 5 levels
# are concatenated level by level, the order of the per-level targets of get_targets().
#   features: the input of bbox_head.conv_cls (the 256-d classification tower output at every
#             point of every level), projected to 128-d by a 2-layer MLP owned by the term;
#   labels:   the point targets FCOS assigns (get_targets()[0]); background points (label 80 =
#             num_classes) are dropped, at most 1024 foreground points per batch are kept.
# The term is logged as loss_supcon and its weight warms up linearly over 1000 iterations.
_base_ = 'mmdet::fcos/fcos_r50-caffe_fpn_gn-head_1x_coco.py'
custom_imports = dict(imports=['mmcontrast'], allow_failed_imports=False)

model = dict(
    _delete_=True,
    type='mmcontrast.ContrastiveInjector',
    model=_base_.model,
    terms=[
        dict(
            name='supcon',
            loss=dict(type='mmcontrast.SupConLoss', temperature=0.2, loss_weight=0.1),
            inputs=dict(features='bbox_head.conv_cls:input', labels='bbox_head.get_targets:return[0]'),
            projectors=dict(features=dict(out_channels=128)),
            ignore_index=80,
            max_samples=1024,
            per_level=True)
    ])
custom_hooks = [
    dict(type='mmcontrast.LossWeightWarmupHook', param='terms.supcon.loss.loss_weight', warmup_iters=1000)
]
