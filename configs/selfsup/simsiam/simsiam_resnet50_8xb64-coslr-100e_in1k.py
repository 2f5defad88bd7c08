_base_ = [
    '../../_base_/models/selfsup/simsiam_resnet50.py',
    '../../_base_/datasets/imagenet_ssl.py',
    '../../_base_/schedules/selfsup_simsiam_sgd-fixpred_coslr-100e.py',
]
# SimSiam on ImageNet-1k as the official recipe (facebookresearch/simsiam README and main_simsiam.py):
# ResNet-50, 100 epochs, batch 512 (8 x 64), SGD lr 0.05 x 512/256 = 0.1, weight decay 1e-4, cosine,
# --fix-pred-lr (the schedule base).
train_dataloader = dict(batch_size=64)
custom_hooks = [_base_.custom_hooks[0], dict(type='FixedLRHook')]
