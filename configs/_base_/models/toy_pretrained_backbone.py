# The toy world's ImageNet weights: the toy ResNetV1c-18 (1/4 width) pretrained with MoCo v2 on the
# unlabelled, domain-randomised toy world (configs/selfsup/mocov2/mocov2_resnetv1c18-w16_1xb64-coslr-100e_toyworld.py,
# exported by tools/model_converters/extract_backbone.py; checkpoints/toy/README.md has its sha256 and
# the command that reproduces it). The path is found from this file, so tools/train.py runs from any directory
# and an installed mmcontrast finds the copy under mmcontrast/.mim/checkpoints (setup.py).
toy_pretrained = dict(type='mmcontrast.StrictPretrained',
                      checkpoint='{{ fileDirname }}/../../../checkpoints/toy/resnetv1c18-w16_mocov2-toyworld.pth')
# Fine-tuning a pretrained backbone as DAFormer does (configs/_base_/uda/uda_runtime_adamw-poly_40k.py):
# new layers (heads, FPN) at 10x the backbone's lr. The toy base lr 2e-3 of the from-scratch recipe
# becomes the new layers' lr; the backbone trains at 2e-4.
toy_finetune_optim_wrapper = dict(
    optimizer=dict(lr=2e-4),
    paramwise_cfg=dict(custom_keys={'head': dict(lr_mult=10.0), 'neck': dict(lr_mult=10.0)}))
