_base_ = [
    '../../_base_/models/selfsup/ascl_resnet50.py',
    '../../_base_/datasets/cifar100_ssl.py',
    '../../_base_/schedules/selfsup_sgd_warmup5e-iter-coslr-200e.py',
]
# ASCL on CIFAR-100 with the official settings (MrChenFeng/ASCL_ICPR2022):
# - model.py: CIFAR-stem ResNet-18 (L40-69), projector 512 -> 2048 -> 128 with biases (L72-76);
# - main.py: queue 4096 (L36), m 0.99 (L34), t1 0.1 / t2 0.05 (L42-43), batch 256 (L32), 200 epochs
#   (L27); 5 neighbours as in the README's example run (the default --K is 1);
# - the schedule base: SGD lr 0.03, wd 5e-4, 5 warm-up epochs, per-iteration cosine (utils.py L6-18);
# - dataloader.py: weak key view (L268-273), strong query view with blur (L237-245).
# 8 x 32 = 256 images per step with shuffling BN over the 8 GPUs; the official code runs one GPU
# with batch 256 and SplitBatchNorm over 8 groups (model.py L48), which is what this config does on
# one process (MoCo's bn_splits default) with train_dataloader.batch_size=256.
model = dict(
    queue_len=4096,
    momentum=0.99,
    backbone=dict(type='ResNetCIFAR', depth=18),
    neck=dict(in_channels=512, hid_channels=2048),
    head=dict(num_neighbors=5))
train_dataloader = dict(dataset=dict(pipeline=[
    dict(type='MultiView', num_views=[1, 1],
         transforms=[_base_.weak_view_pipeline, _base_.ascl_strong_view_pipeline]),
    dict(type='PackSelfSupInputs'),
]))
# The official CIFAR-100 normalisation (dataloader.py L232-233) instead of our dataset base's.
data_preprocessor = dict(mean=[0.5071 * 255, 0.4867 * 255, 0.4408 * 255],
                         std=[0.2675 * 255, 0.2565 * 255, 0.2761 * 255])
