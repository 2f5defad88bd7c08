# Mean teacher + PCL (RoI-head class probabilities, C+1 with background, scale 20) for sim10k2city.
_base_ = ['./mean-teacher_faster-rcnn_r50_fpn_24k_sim10k2city.py']

model = dict(
    contrast=dict(
        # the same boxes (teacher pseudo-boxes + 64 sampled teacher proposals) in the weak and strong view
        views=dict(
            type='mmcontrast.RoIBoxPairViews',
            target='cls_score',
            boxes=('pseudo', 'proposals'),
            pseudo_thr=None,  # None: semi_train_cfg.cls_pseudo_thr
            num_proposals=64,
            min_box_wh=(4.0, 4.0)),
        # logged as unsup_loss_pcl
        losses=dict(pcl=dict(type='mmcontrast.PCLLoss', scale=20.0, loss_weight=0.5))))
