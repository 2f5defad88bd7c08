_base_ = [
    '../../_base_/models/selfsup/protonce_resnet50.py',
    '../../_base_/datasets/imagenet_ssl.py',
    '../../_base_/schedules/selfsup_sgd_coslr-200e.py',
    '../../_base_/default_runtime_selfsup.py',
]
# ProtoNCE on ImageNet-1k with the PCL schedule: ResNet-50, 200 epochs, batch 256, lr 0.03, 20 warm-up
# epochs of InfoNCE, clusters (25000, 50000, 100000) of the momentum features every epoch.
optim_wrapper = dict(optimizer=dict(lr=0.03, weight_decay=0.0001))
param_scheduler = [dict(type='CosineAnnealingLR', T_max=200, by_epoch=True, begin=0, end=200)]
train_cfg = dict(max_epochs=200)
auto_scale_lr = dict(base_batch_size=256)
custom_hooks = [
    _base_.custom_hooks[0],
    dict(type='PrototypeClusteringHook', dataloader=_base_.knn_bank_dataloader,
         num_clusters=(25000, 50000, 100000), warmup_epochs=20, temperature=0.2),
]
