_base_ = [
    '../../_base_/models/selfsup/simsiam_resnet50.py',
    '../../_base_/datasets/imagenet_ssl.py',
    '../../_base_/schedules/selfsup_sgd_coslr-200e.py',
    '../../_base_/default_runtime_selfsup.py',
]
# SimSiam on ImageNet-1k: ResNet-50, 100 epochs, batch 512 (8 x 64), SGD lr 0.05 x bs/256, wd 1e-4.
train_dataloader = dict(batch_size=64)
optim_wrapper = dict(optimizer=dict(lr=0.1, weight_decay=0.0001))
param_scheduler = [dict(type='CosineAnnealingLR', T_max=100, by_epoch=True, begin=0, end=100)]
train_cfg = dict(max_epochs=100)
auto_scale_lr = dict(base_batch_size=512)
