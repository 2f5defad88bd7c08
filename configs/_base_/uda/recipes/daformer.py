# DAFormer's self-training recipe (Hoyer et al., CVPR 2022; lhoyer/DAFormer
# configs/daformer/gta2cs_uda_warm_fdthings_rcs_croppl_a999_daformer_mitb5_s0.py over
# configs/_base_/uda/dacs.py) as DACSSegmentor arguments. A UDA config spreads it into the
# wrapper: model = dict(_delete_=True, type='mmcontrast.DACSSegmentor', segmentor=_base_.model, **_base_.uda)
uda = dict(
    # EMA of the parameters only, alpha 0.999; pseudo-labels from a train-mode teacher
    # (batch statistics) with dropout and drop-path off (dacs.py L104-115, L264-270).
    teacher=dict(type='mmcontrast.DAFormerTeacher', alpha=0.999),
    # One quality weight per batch; the rectification border and the ego hood are ignored
    # on Cityscapes crops ("croppl": pseudo_weight_ignore_top/bottom 15/120).
    pseudo_label=dict(threshold=0.968, ignore_top=15, ignore_bottom=120, quality='batch'),
    # Half of the source batch's classes, ignore label included (dacs_transforms.py L90-99).
    mix=dict(type='mmcontrast.DAFormerClassMix'),
    # kornia 0.5.8 ColorJitter(0.2) when U(0,1) > 0.2 (80% of batches), blur when U > 0.5.
    strong_aug=dict(
        type='mmcontrast.DAFormerStrongAug', color_jitter_strength=0.2, color_jitter_probability=0.2, blur=True),
    # Source, feature-distance and mixed losses backpropagated one after the other.
    backward=dict(type='mmcontrast.SequentialBackward'),
    # ImageNet feature distance on the thing classes ("fdthings"), skipped with a warning
    # when the backbone has no ImageNet checkpoint.
    imnet_feature_dist=dict(loss_weight=0.005, classes=[6, 7, 11, 12, 13, 14, 15, 16, 17, 18], scale_min_ratio=0.75),
    # DAFormer reports the student (UDADecorator.simple_test runs get_model()).
    predict_on='student')
