# The domain-adaptive mean teacher (Faster R-CNN R-50-FPN, city2foggy) initialised from our MoCo v2
# ResNet-50 (configs/selfsup/mocov2/mocov2_resnet50_8xb32-coslr-200e_in1k.py, exported with
# tools/model_converters/extract_backbone.py) with mmdet's default transfer recipe: BN statistics
# frozen (norm_eval=True), the stem and first stage frozen (frozen_stages=1). MoCo's own detection
# recipe (SyncBN, nothing frozen) is mean-teacher_faster-rcnn_r50-mocov2-syncbn_fpn_24k_city2foggy.py.
_base_ = ['../../uda_det/mean-teacher_faster-rcnn_r50_fpn_24k_city2foggy.py']
pretrained_backbone = 'work_dirs/pretrained/r50_mocov2.pth'
model = dict(
    detector=dict(
        backbone=dict(init_cfg=dict(type='mmcontrast.StrictPretrained', checkpoint=pretrained_backbone))))
