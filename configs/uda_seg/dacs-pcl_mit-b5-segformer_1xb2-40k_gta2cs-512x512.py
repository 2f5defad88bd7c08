# GTA5 -> Cityscapes, self-training + class/pixel PCL (weight 0.01, the paper's) with SegFormer MiT-B5 (DAFormer-style).
_base_ = [
    '../_base_/uda/dacs_segformer_mit-b5.py', '../_base_/uda/gta2cs-512x512.py',
    '../_base_/uda/uda_runtime_adamw-poly_40k.py'
]
train_dataloader = dict(dataset=dict(rare_class_sampling=dict(class_temp=0.01, min_pixels=3000, min_crop_ratio=0.5)))
model = dict(
    class_pcl=dict(type='mmcontrast.ClassPCLLoss', scale=7.0, loss_weight=0.01),
    pixel_pcl=dict(type='mmcontrast.PixelPCLLoss', scale=20.0, max_pixels=4096, loss_weight=0.01))
