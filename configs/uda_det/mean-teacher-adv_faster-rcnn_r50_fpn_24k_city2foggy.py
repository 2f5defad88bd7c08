# Mean teacher + image-level adversarial alignment (gradient reversal on the coarsest FPN level) for
# city2foggy, on the R-50-FPN mean-teacher recipe. Formerly adaptive-teacher_faster-rcnn_r50_fpn_24k_city2foggy.py;
# Adaptive Teacher's own recipe is adaptive-teacher_faster-rcnn_vgg16-bn_100k_city2foggy-all.py. Here the
# discriminator separates the source and the strong target view with a 2-conv ReLU head, 0.05 on each domain
# (0.1 on their mean, as before). Add model.contrast from the PCL config to combine both. The discriminator is
# idle during burn-in, hence find_unused_parameters.
_base_ = ['./mean-teacher_faster-rcnn_r50_fpn_24k_city2foggy.py']

model = dict(
    domain_discriminator=dict(
        type='mmcontrast.ImageDomainDiscriminator',
        in_channels=256,
        feat_channels=(256, 128),
        negative_slope=0.0,
        in_index=-1,
        grl_coeff=1.0,
        loss_weight=0.05,
        source_branch='sup',
        target_branch='unsup_student'))
find_unused_parameters = True
