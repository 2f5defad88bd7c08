# Mean teacher + FCL baseline: l2-normalised InfoNCE (temperature 0.1) on the student's RoI
# features that feed the classifier, for the same boxes and views as the PCL config.
_base_ = ['./mean-teacher_faster-rcnn_r18-narrow-fpn_1k_toy-src2tgt.py']

model = dict(
    contrast_loss=dict(type='mmcontrast.InfoNCELoss', temperature=0.1, loss_weight=0.5),
    contrast_cfg=dict(target='roi_feat', boxes=('pseudo', 'proposals'), num_proposals=32))
