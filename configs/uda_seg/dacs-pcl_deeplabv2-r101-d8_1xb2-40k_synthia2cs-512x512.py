# SYNTHIA -> Cityscapes, self-training + class/pixel PCL (weight 0.008, the paper's) with DeepLabV2-R101.
_base_ = [
    '../_base_/uda/dacs_deeplabv2-r101-d8.py', '../_base_/uda/synthia2cs-512x512.py',
    '../_base_/uda/uda_runtime_adamw-poly_40k.py'
]
train_dataloader = dict(dataset=dict(rare_class_sampling=dict(class_temp=0.01, min_pixels=3000, min_crop_ratio=0.5)))
default_hooks = dict(checkpoint=dict(save_best='teacher/mIoU16'))
model = dict(
    class_pcl=dict(type='mmcontrast.ClassPCLLoss', scale=7.0, loss_weight=0.008),
    pixel_pcl=dict(type='mmcontrast.PixelPCLLoss', scale=20.0, max_pixels=4096, loss_weight=0.008))
