# DAFormer's DeepLabV2 UDA recipe (GTA5 -> Cityscapes) initialised from our MoCo v2 ResNetV1c-101
# instead of open-mmlab://resnet101_v1c:
#   1. pretrain configs/selfsup/mocov2/mocov2_resnetv1c101_8xb32-coslr-200e_in1k.py,
#   2. python tools/model_converters/extract_backbone.py work_dirs/<run>/epoch_200.pth \
#          work_dirs/pretrained/r101v1c_mocov2.pth
#   3. train this config (or point model.segmentor.backbone.init_cfg.checkpoint elsewhere).
# StrictPretrained makes a backbone that does not fit the ResNetV1c-101 an error naming the
# missing and unexpected key counts (tests/test_tools/test_extract_backbone.py checks that the
# export loads into the real student backbone with none of either).
_base_ = ['../../uda_seg/daformer_deeplabv2red-r101-d8_1xb2-40k_gta2cs-512x512.py']
pretrained_backbone = 'work_dirs/pretrained/r101v1c_mocov2.pth'
model = dict(
    segmentor=dict(
        # mmseg refuses a segmentor-level `pretrained` beside a backbone init_cfg
        pretrained=None,
        backbone=dict(init_cfg=dict(type='mmcontrast.StrictPretrained', checkpoint=pretrained_backbone))),
    # DAFormer's feature distance anchors the student to the features it started from: with a
    # self-supervised start, those of the same export (its default is the ImageNet checkpoint
    # named by a `Pretrained` init_cfg or `pretrained`, both gone here).
    imnet_feature_dist=dict(checkpoint=pretrained_backbone))
