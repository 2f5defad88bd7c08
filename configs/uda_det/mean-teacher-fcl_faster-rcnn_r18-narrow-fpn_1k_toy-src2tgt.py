# Mean teacher + FCL baseline: l2-normalised InfoNCE (temperature 0.1) on the student's RoI
# features that feed the classifier, for the same boxes and views as the PCL config.
_base_ = ['./mean-teacher_faster-rcnn_r18-narrow-fpn_1k_toy-src2tgt.py']

model = dict(
    contrast=dict(
        views=dict(
            type='mmcontrast.RoIBoxPairViews',
            target='roi_feat',  # the input of the classifier fc
            boxes=('pseudo', 'proposals'),
            pseudo_thr=None,  # None: semi_train_cfg.cls_pseudo_thr
            num_proposals=32,
            min_box_wh=(4.0, 4.0)),
        # logged as unsup_loss_fcl (unsup_loss_infonce before the contrast=dict(...) shape)
        losses=dict(fcl=dict(type='mmcontrast.InfoNCELoss', temperature=0.1, loss_weight=0.5))))
