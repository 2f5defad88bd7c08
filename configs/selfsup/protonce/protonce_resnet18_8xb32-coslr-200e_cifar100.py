_base_ = [
    '../../_base_/models/selfsup/protonce_resnet50.py',
    '../../_base_/datasets/cifar100_ssl.py',
    '../../_base_/schedules/selfsup_sgd_coslr-200e.py',
    '../../_base_/default_runtime_selfsup.py',
]
# ProtoNCE on CIFAR100: CIFAR-stem ResNet-18, queue 4096, m 0.99 (MoCo's CIFAR recipe), 200 epochs;
# granularities scaled from ImageNet-1k by the number of images (our choice, not from the paper).
model = dict(
    queue_len=4096,
    momentum=0.99,
    backbone=dict(type='ResNetCIFAR', depth=18),
    neck=dict(in_channels=512, hid_channels=512))
optim_wrapper = dict(optimizer=dict(lr=0.06, weight_decay=0.0005))
param_scheduler = [dict(type='CosineAnnealingLR', T_max=200, by_epoch=True, begin=0, end=200)]
train_cfg = dict(max_epochs=200)
auto_scale_lr = dict(base_batch_size=256)
custom_hooks = [
    _base_.custom_hooks[0],
    dict(type='PrototypeClusteringHook', dataloader=_base_.knn_bank_dataloader,
         num_clusters=(1000, 2000, 4000), warmup_epochs=20, temperature=0.2),
]
