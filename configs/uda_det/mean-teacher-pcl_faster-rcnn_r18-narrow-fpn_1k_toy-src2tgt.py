# Mean teacher + PCL: InfoNCE over the student's RoI-head class probabilities (person, car,
# background) of the same boxes (teacher pseudo-boxes + sampled teacher proposals) in the weak
# and the strong target view, scale 20.
_base_ = ['./mean-teacher_faster-rcnn_r18-narrow-fpn_1k_toy-src2tgt.py']

model = dict(
    contrast_loss=dict(type='mmcontrast.PCLLoss', scale=20.0, loss_weight=0.5),
    contrast_cfg=dict(target='cls_score', boxes=('pseudo', 'proposals'), num_proposals=32))
