_base_ = '../mocov2/mocov2_resnetv1c18-w16_1xb64-coslr-100e_toyworld.py'
# ASCL on the toy world (the chain table of configs/uda_seg/README.md): the toy MoCo v2 recipe with
# ASCL's soft targets (official CIFAR t1 0.1, t2 0.05, one neighbour), weak key view, strong query
# view, projector hidden width 2048 as ASCL's CIFAR code (model.py L72-76).
model = dict(
    type='ASCL',
    head=dict(_delete_=True, type='ASCLLoss', t1=0.1, t2=0.05, num_neighbors=1, mode='ascl'),
    neck=dict(hid_channels=2048))
train_dataloader = dict(dataset=dict(pipeline=[
    dict(type='LoadImageFromFile'),
    dict(type='MultiView', num_views=[1, 1], transforms=[_base_.weak_view_pipeline, _base_.view_pipeline]),
    dict(type='PackSelfSupInputs'),
]))
