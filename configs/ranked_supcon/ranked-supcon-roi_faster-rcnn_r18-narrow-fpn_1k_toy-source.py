# Faster R-CNN with ranked SupCon on foreground RoI features (ContrastiveRoIHead), using the toy
# detection ranking (person and car rank each other at rank 1, temperatures 0.1 and 0.6).
_base_ = './supcon-roi_faster-rcnn_r18-narrow-fpn_1k_toy-source.py'

model = dict(
    roi_head=dict(
        loss_contrast=dict(
            _delete_=True,
            type='mmcontrast.RankedSupConLoss',
            class_ranking='configs/_base_/class_rankings/toy_uda_det.yaml',
            min_tau=0.1,
            max_tau=0.6,
            loss_weight=0.5)))
