# BYOL (Grill et al. 2020): projector and predictor 4096-256 with BN, target EMA 0.996 -> 1.
model = dict(
    type='BYOL',
    base_momentum=0.996,
    end_momentum=1.0,
    backbone=dict(
        type='mmdet.ResNet',
        depth=50,
        num_stages=4,
        out_indices=(3, ),
        norm_cfg=dict(type='SyncBN'),
        norm_eval=False,
        zero_init_residual=False,
        style='pytorch'),
    neck=dict(type='NonLinearNeck', in_channels=2048, hid_channels=4096, out_channels=256,
              norm_cfg=dict(type='SyncBN')),
    head=dict(
        type='LatentPredictHead',
        shift=2.0,
        scale=2.0,
        predictor=dict(type='NonLinearNeck', in_channels=256, hid_channels=4096, out_channels=256,
                       norm_cfg=dict(type='SyncBN'))))
