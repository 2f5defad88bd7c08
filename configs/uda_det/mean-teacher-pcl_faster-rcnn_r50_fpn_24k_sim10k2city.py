# Mean teacher + PCL (RoI-head class probabilities, C+1 with background, scale 20) for sim10k2city.
_base_ = ['./mean-teacher_faster-rcnn_r50_fpn_24k_sim10k2city.py']

model = dict(
    contrast_loss=dict(type='mmcontrast.PCLLoss', scale=20.0, loss_weight=0.5),
    contrast_cfg=dict(target='cls_score', boxes=('pseudo', 'proposals'), num_proposals=64))
