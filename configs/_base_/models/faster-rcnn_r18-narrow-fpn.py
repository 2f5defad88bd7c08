# Small CPU-friendly Faster R-CNN: ResNet-18 at 1/4 width + FPN (64 channels), small anchors for
# the toy benchmark's small objects, 2 classes. BN in train mode. Deep (V1c) stem, so the toy
# segmentation model's backbone weights fit (one toy ImageNet checkpoint for both tasks, see
# configs/_base_/models/toy_pretrained_backbone.py); from scratch here, the toy configs load them.
_base_ = 'mmdet::_base_/models/faster-rcnn_r50_fpn.py'

norm_cfg = dict(type='BN', requires_grad=True)
model = dict(
    data_preprocessor=dict(pad_size_divisor=32),
    backbone=dict(
        depth=18,
        deep_stem=True,
        stem_channels=16,
        base_channels=16,
        frozen_stages=-1,
        norm_cfg=norm_cfg,
        norm_eval=False,
        init_cfg=None),
    neck=dict(in_channels=[16, 32, 64, 128], out_channels=64, num_outs=5),
    rpn_head=dict(
        in_channels=64,
        feat_channels=64,
        anchor_generator=dict(scales=[2], ratios=[0.5, 1.0, 2.0, 3.0])),
    roi_head=dict(
        bbox_roi_extractor=dict(out_channels=64),
        bbox_head=dict(in_channels=64, fc_out_channels=256, num_classes=2)),
    train_cfg=dict(
        rpn_proposal=dict(nms_pre=1000, max_per_img=300),
        rcnn=dict(sampler=dict(num=64))),  # RoIAlign backward dominates on CPU
    test_cfg=dict(
        rpn=dict(nms_pre=500, max_per_img=300),
        rcnn=dict(max_per_img=50)))
