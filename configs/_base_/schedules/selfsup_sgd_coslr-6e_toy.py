# CPU toy schedule of the *_toycls pretraining configs: 6 epochs of SGD (lr 0.06, weight decay
# 5e-4), cosine decay per epoch, logs every 20 iterations, one checkpoint at the end. It carries
# the selfsup runtime too, because the checkpoint cadence follows the epochs defined here.
_base_ = ['./selfsup_sgd_coslr-200e.py', '../default_runtime_selfsup.py']
optim_wrapper = dict(optimizer=dict(lr=0.06, weight_decay=5e-4))
max_epochs = 6
param_scheduler = [dict(type='CosineAnnealingLR', T_max=max_epochs, by_epoch=True, begin=0, end=max_epochs)]
train_cfg = dict(max_epochs=max_epochs)
default_hooks = dict(logger=dict(interval=20), checkpoint=dict(interval=max_epochs, max_keep_ckpts=1))
