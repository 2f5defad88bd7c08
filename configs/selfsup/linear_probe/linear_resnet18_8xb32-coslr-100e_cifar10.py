# Linear probe on CIFAR-10: frozen CIFAR-stem ResNet-18 (BN statistics frozen too), one linear
# layer on the pooled features, SGD lr 10 -> cosine, 100 epochs, top-1. Point the backbone at a
# pretraining checkpoint:
#   --cfg-options model.backbone.init_cfg.checkpoint=work_dirs/<run>/epoch_200.pth
_base_ = ['../../_base_/default_runtime_selfsup.py']
model = dict(
    type='ImageClassifier',
    frozen=True,
    data_preprocessor=dict(type='ImgDataPreprocessor', mean=[125.307, 122.961, 113.8575],
                           std=[51.5865, 50.847, 51.255], bgr_to_rgb=True),
    backbone=dict(type='ResNetCIFAR', depth=18, out_indices=(3, ),
                  init_cfg=dict(type='Pretrained', checkpoint=None, prefix='backbone.')),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='LinearClsHead', num_classes=10, in_channels=512, topk=(1, 5)))
dataset_type = 'CIFAR10'
data_root = 'data/cifar10'
train_pipeline = [
    dict(type='RandomResizedCrop', size=32, scale=(0.6, 1.0)),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackClsInputs'),
]
test_pipeline = [dict(type='PackClsInputs')]
train_dataloader = dict(
    batch_size=32, num_workers=4, persistent_workers=True, sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type=dataset_type, data_root=data_root, split='train', pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=128, num_workers=4, persistent_workers=True, sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, data_root=data_root, split='test', pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='Accuracy', topk=(1, 5))
test_evaluator = val_evaluator
optim_wrapper = dict(type='OptimWrapper', optimizer=dict(type='SGD', lr=10.0, momentum=0.9, weight_decay=0.))
param_scheduler = [dict(type='CosineAnnealingLR', T_max=100, by_epoch=True, begin=0, end=100)]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=100, val_interval=10)
val_cfg = dict()
test_cfg = dict()
default_hooks = dict(checkpoint=dict(interval=10, max_keep_ckpts=1, save_best='accuracy/top1'))
auto_scale_lr = dict(base_batch_size=256)
