# Mean teacher + PCL with a foreground-balanced box pool: teacher pseudo-boxes plus, per image, up
# to 16 teacher proposals the teacher's RoI head calls foreground (1 - p(background) >= 0.5) and
# as many background ones. The default pool ('proposals': 32 random proposals per image) is about
# 50 background boxes out of 60 pairs per batch (configs/uda_det/README.md).
_base_ = ['./mean-teacher-pcl_faster-rcnn_r18-narrow-fpn_1k_toy-src2tgt.py']

model = dict(
    contrast=dict(
        views=dict(boxes=('pseudo', 'balanced_proposals'), num_proposals=32, fg_score_thr=0.5, fg_fraction=0.5)))
