# Mean teacher + image-level adversarial alignment (gradient reversal on the coarsest FPN level),
# as in Adaptive Teacher, for city2foggy. Add model.contrast from the PCL config to
# combine both. The discriminator is idle during burn-in, hence find_unused_parameters.
_base_ = ['./mean-teacher_faster-rcnn_r50_fpn_24k_city2foggy.py']

model = dict(
    domain_discriminator=dict(
        type='mmcontrast.ImageDomainDiscriminator', in_channels=256, in_index=-1, grl_coeff=1.0,
        loss_weight=0.1))
find_unused_parameters = True
