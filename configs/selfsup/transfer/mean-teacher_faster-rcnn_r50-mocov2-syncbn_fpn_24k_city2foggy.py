# The domain-adaptive mean teacher initialised from our MoCo v2 ResNet-50 with MoCo's detection
# transfer recipe instead of mmdet's frozen-BN default (He et al. 2020, Sec. 4.2 "normalization":
# fine-tune with BN trained and synchronised across GPUs; facebookresearch/moco
# detection/configs/Base-RCNN-C4-BN.yaml L8-11: BACKBONE.FREEZE_AT 0 and RESNETS.NORM SyncBN;
# detection/configs/*_moco.yaml L3-4: the torchvision RGB mean/std, which mmdet's Faster R-CNN
# preprocessor already uses). Here: SyncBN in the backbone and the FPN, trained and in train mode,
# no frozen stage. The mean teacher then averages the BN statistics too (MeanTeacherHook
# skip_buffer=False), since the student's change. The RoI head keeps mmdet's norm-free
# Shared2FC head (MoCo's C4 head, Res5ROIHeadsExtraNorm, has no FPN counterpart).
_base_ = ['./mean-teacher_faster-rcnn_r50-mocov2_fpn_24k_city2foggy.py']
norm_cfg = dict(type='SyncBN', requires_grad=True)
model = dict(
    detector=dict(
        backbone=dict(frozen_stages=-1, norm_cfg=norm_cfg, norm_eval=False),
        neck=dict(norm_cfg=norm_cfg)))
custom_hooks = [dict(type='MeanTeacherHook', momentum=0.0004, skip_buffer=False)]
