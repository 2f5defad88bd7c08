# MoCo v2 (Chen et al. 2020): ResNet-50, 2-layer MLP 2048-2048-128, queue 65536, m 0.999, t 0.2.
model = dict(
    type='MoCo',
    queue_len=65536,
    feat_dim=128,
    momentum=0.999,
    backbone=dict(
        type='mmdet.ResNet',
        depth=50,
        num_stages=4,
        out_indices=(3, ),
        norm_cfg=dict(type='BN'),
        norm_eval=False,
        zero_init_residual=False,
        style='pytorch'),
    neck=dict(type='NonLinearNeck', in_channels=2048, hid_channels=2048, out_channels=128, with_bias=True,
              with_bn=False),
    head=dict(type='ContrastiveHead', temperature=0.2))
