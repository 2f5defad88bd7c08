_base_ = './mocov2_resnet50_8xb32-coslr-200e_in1k.py'
# MoCo v2 pretraining of the backbone of our DeepLabV2 UDA segmentors
# (configs/_base_/uda/deeplabv2_r101-d8.py): mmseg's ResNetV1c-101, the deep 3-conv stem of
# open-mmlab://resnet101_v1c. It is pretrained at the classification strides (no dilation; the
# segmentor dilates stages 3-4 with the same weights), with BN as the other MoCo configs (shuffling
# BN). Export and load into the UDA config (docs/selfsup.md, "Pretrain-to-UDA"):
#   python tools/model_converters/extract_backbone.py work_dirs/<run>/epoch_200.pth r101v1c_mocov2.pth
#   configs/selfsup/transfer/daformer_deeplabv2red-r101v1c-mocov2_1xb2-40k_gta2cs-512x512.py
model = dict(
    backbone=dict(
        _delete_=True,
        type='mmseg.ResNetV1c',
        depth=101,
        num_stages=4,
        out_indices=(3, ),
        norm_cfg=dict(type='BN', requires_grad=True),
        norm_eval=False,
        style='pytorch',
        zero_init_residual=False))
