# GTA5 -> Cityscapes, self-training (DACS, RCS, ImageNet FD) with SegFormer MiT-B5 (DAFormer-style).
_base_ = [
    '../_base_/uda/dacs_segformer_mit-b5.py', '../_base_/uda/gta2cs-512x512.py',
    '../_base_/uda/uda_runtime_adamw-poly_40k.py'
]
train_dataloader = dict(dataset=dict(rare_class_sampling=dict(class_temp=0.01, min_pixels=3000, min_crop_ratio=0.5)))
