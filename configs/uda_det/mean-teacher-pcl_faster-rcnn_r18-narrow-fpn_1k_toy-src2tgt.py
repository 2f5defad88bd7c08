# Mean teacher + PCL: InfoNCE over the student's RoI-head class probabilities (person, car,
# background) of the same boxes (teacher pseudo-boxes + sampled teacher proposals) in the weak
# and the strong target view, scale 20.
_base_ = ['./mean-teacher_faster-rcnn_r18-narrow-fpn_1k_toy-src2tgt.py']

model = dict(
    contrast=dict(
        views=dict(
            type='mmcontrast.RoIBoxPairViews',
            target='cls_score',
            boxes=('pseudo', 'proposals'),
            pseudo_thr=None,  # None: semi_train_cfg.cls_pseudo_thr
            num_proposals=32,
            min_box_wh=(4.0, 4.0)),
        # logged as unsup_loss_pcl
        losses=dict(pcl=dict(type='mmcontrast.PCLLoss', scale=20.0, loss_weight=0.5))))
