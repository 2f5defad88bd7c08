_base_ = [
    '../../_base_/models/selfsup/ascl_resnet50.py',
    '../../_base_/datasets/toy_cls_ssl.py',
    '../../_base_/schedules/selfsup_sgd_coslr-6e_toy.py',
]
# CPU toy run of ASCL (the official CIFAR m 0.99, t1 0.1, t2 0.05): weak key view, strong query
# view, 16-wide ResNet-18; queue 128 instead of 4096 for the 5000 toy images (see the MoCo v2 toy
# config for the measurement), BN split into 2 groups on one process (ASCL's own SplitBatchNorm
# uses 8 groups of 32; a toy batch of 64 gives 2 groups of 32).
model = dict(
    queue_len=128,
    momentum=0.99,
    bn_splits=2,
    backbone=dict(type='ResNetCIFAR', depth=18, base_channels=16, strides=(2, 2, 2, 2)),
    # BN in the projector's hidden layer, as in the toy MoCo v2 config: without it seed 2 stayed
    # at chance (loss ~4.8 = ln 129, kNN 19.8 -> 17.0) while seeds 0 and 1 learned.
    neck=dict(in_channels=128, hid_channels=2048, out_channels=128, with_bn=True))
train_dataloader = dict(
    batch_size=64,
    dataset=dict(pipeline=[
        dict(type='MultiView', num_views=[1, 1],
             transforms=[_base_.weak_view_pipeline, _base_.view_pipeline]),
        dict(type='PackSelfSupInputs'),
    ]))
