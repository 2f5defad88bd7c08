# Stock mmseg DeepLabV3 (R-18-D8, Cityscapes), untouched, plus two injected terms:
#   supcon: pixel-level SupCon on the decode head's features (the input of its classifier
#           conv_seg, 128 channels) against the ground-truth map resized to that resolution,
#           ignore label 255 dropped, 1024 random pixels per batch, 64-d projection;
#   pcl:    PCL consistency between the class logits of the decode head and of the auxiliary
#           FCN head (both 19 channels at 1/8 resolution), 1024 random pixels.
# Logged as loss_supcon and loss_pcl; the SupCon weight warms up over 1000 iterations.
_base_ = 'mmseg::deeplabv3/deeplabv3_r18-d8_4xb2-80k_cityscapes-512x1024.py'
custom_imports = dict(imports=['mmcontrast'], allow_failed_imports=False)

model = dict(
    _delete_=True,
    type='mmcontrast.ContrastiveInjector',
    model=_base_.model,
    terms=[
        dict(
            name='supcon',
            loss=dict(type='mmcontrast.SupConLoss', temperature=0.1, loss_weight=0.1),
            inputs=dict(features='decode_head.conv_seg:input', labels='data:gt_sem_seg'),
            projectors=dict(features=dict(out_channels=64)),
            ignore_index=255,
            max_samples=1024),
        dict(
            name='pcl',
            loss=dict(type='mmcontrast.PCLLoss', loss_weight=0.1),
            inputs=dict(logits_a='decode_head.conv_seg', logits_b='auxiliary_head.conv_seg'),
            max_samples=1024)
    ])
custom_hooks = [
    dict(type='mmcontrast.LossWeightWarmupHook', param='terms.supcon.loss.loss_weight', warmup_iters=1000)
]
