# ASCL's CIFAR schedule (MrChenFeng/ASCL_ICPR2022 main.py L22, L29-L33, L59 and utils.py L6-18):
# SGD lr 0.03 at batch 256, momentum 0.9, weight decay 5e-4; the lr rises linearly from 0 over
# the first 5 epochs and then follows a cosine to 0 over the remaining 195, both per iteration.
# mmengine's LinearLR cannot start at exactly 0 (it scales multiplicatively): 1e-6 instead.
_base_ = ['../default_runtime_selfsup.py']
optim_wrapper = dict(type='OptimWrapper', optimizer=dict(type='SGD', lr=0.03, momentum=0.9, weight_decay=5e-4))
max_epochs = 200
warmup_epochs = 5
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6, end_factor=1.0, by_epoch=True, begin=0, end=warmup_epochs,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=max_epochs - warmup_epochs, eta_min=0.0, by_epoch=True,
         begin=warmup_epochs, end=max_epochs, convert_to_iter_based=True),
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs)
auto_scale_lr = dict(base_batch_size=256)
