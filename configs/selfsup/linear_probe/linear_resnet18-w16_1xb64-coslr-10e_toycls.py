_base_ = './linear_resnet18_8xb32-coslr-100e_cifar10.py'
# CPU toy linear probe of the toy pretraining runs (16-wide CIFAR-stem ResNet-18, first stage
# strided as in the toy pretraining configs):
#   --cfg-options model.backbone.init_cfg.checkpoint=work_dirs/<method>/epoch_6.pth
model = dict(
    data_preprocessor=dict(mean=[127.5, 127.5, 127.5], std=[64.0, 64.0, 64.0]),
    backbone=dict(_delete_=True, type='ResNetCIFAR', depth=18, base_channels=16, strides=(2, 2, 2, 2),
                  out_indices=(3, ),
                  norm_eval=True, init_cfg=dict(type='Pretrained', checkpoint=None, prefix='backbone.')),
    head=dict(in_channels=128, topk=(1, )))
train_dataloader = dict(batch_size=64, num_workers=0, persistent_workers=False,
                        dataset=dict(type='ToyCls', data_root='data/toy_cls'))
val_dataloader = dict(num_workers=0, persistent_workers=False, dataset=dict(type='ToyCls', data_root='data/toy_cls'))
test_dataloader = val_dataloader
val_evaluator = dict(topk=(1, ))
test_evaluator = val_evaluator
optim_wrapper = dict(optimizer=dict(lr=1.0))
param_scheduler = [dict(type='CosineAnnealingLR', T_max=10, by_epoch=True, begin=0, end=10)]
train_cfg = dict(max_epochs=10, val_interval=5)
default_hooks = dict(logger=dict(interval=20), checkpoint=dict(interval=10, save_best=None))
