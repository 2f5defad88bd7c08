_base_ = [
    '../../_base_/models/selfsup/protonce_resnet50.py',
    '../../_base_/datasets/imagenet100_ssl.py',
    '../../_base_/schedules/selfsup_sgd_coslr-200e.py',
    '../../_base_/default_runtime_selfsup.py',
]
# ProtoNCE on ImageNet-100 (126k images): ResNet-18; granularities scaled from ImageNet-1k by the
# number of images (our choice, not from the paper).
model = dict(backbone=dict(depth=18), neck=dict(in_channels=512, hid_channels=512))
optim_wrapper = dict(optimizer=dict(lr=0.03, weight_decay=0.0001))
param_scheduler = [dict(type='CosineAnnealingLR', T_max=200, by_epoch=True, begin=0, end=200)]
train_cfg = dict(max_epochs=200)
auto_scale_lr = dict(base_batch_size=256)
custom_hooks = [
    _base_.custom_hooks[0],
    dict(type='PrototypeClusteringHook', dataloader=_base_.knn_bank_dataloader,
         num_clusters=(2500, 5000, 10000), warmup_epochs=20, temperature=0.2),
]
