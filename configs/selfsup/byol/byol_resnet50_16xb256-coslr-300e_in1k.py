_base_ = [
    '../../_base_/models/selfsup/byol_resnet50.py',
    '../../_base_/datasets/imagenet_ssl.py',
    '../../_base_/schedules/selfsup_lars_warmup10e-coslr-300e.py',
]
# BYOL on ImageNet-1k as in the paper (Grill et al. 2020, Sec. 3.2 / App. C): ResNet-50, batch 4096
# (16 x 256), LARS (lr 0.2 x 4096/256 = 3.2, weight decay 1.5e-6, trust coefficient 1e-3, biases and
# BN excluded), 10 warm-up epochs, cosine; asymmetric views; 300 epochs (the paper's main runs
# use 1000; the schedule scales with max_epochs).
train_dataloader = dict(dataset=dict(pipeline=[
    dict(type='LoadImageFromFile'),
    dict(type='MultiView', num_views=[1, 1], transforms=[_base_.byol_view1_pipeline, _base_.byol_view2_pipeline]),
    dict(type='PackSelfSupInputs'),
]))
train_dataloader.update(batch_size=256)
