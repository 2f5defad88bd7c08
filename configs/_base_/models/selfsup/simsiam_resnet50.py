# SimSiam (Chen & He 2021): 3-layer projector 2048 (last BN without affine), predictor
# bottleneck 512, negative cosine, stop-gradient.
model = dict(
    type='SimSiam',
    backbone=dict(
        type='mmdet.ResNet',
        depth=50,
        num_stages=4,
        out_indices=(3, ),
        norm_cfg=dict(type='SyncBN'),
        norm_eval=False,
        zero_init_residual=True,
        style='pytorch'),
    neck=dict(type='NonLinearNeck', in_channels=2048, hid_channels=2048, out_channels=2048, num_layers=3,
              with_last_bn=True, with_last_bn_affine=False, norm_cfg=dict(type='SyncBN')),
    head=dict(
        type='LatentPredictHead',
        shift=0.0,
        scale=1.0,
        predictor=dict(type='NonLinearNeck', in_channels=2048, hid_channels=512, out_channels=2048,
                       norm_cfg=dict(type='SyncBN'))))
