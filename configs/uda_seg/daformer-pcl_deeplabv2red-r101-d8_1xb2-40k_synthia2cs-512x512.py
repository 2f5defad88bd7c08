# DAFormer's recipe + PCL as EHTDI (class/pixel PCL at 0.008) with DeepLabV2-R101 (dilations 6/12),
# SYNTHIA -> Cityscapes.
_base_ = [
    '../_base_/uda/deeplabv2red_r101-d8.py', '../_base_/uda/synthia2cs-512x512.py',
    '../_base_/uda/uda_runtime_adamw-poly_40k.py', '../_base_/uda/recipes/daformer.py',
    '../_base_/uda/recipes/ehtdi.py'
]
model = dict(_delete_=True, type='mmcontrast.DACSSegmentor', segmentor=_base_.model, **_base_.uda,
             contrast=_base_.pcl_contrast_synthia)
train_dataloader = dict(dataset=dict(rare_class_sampling=dict(class_temp=0.01, min_pixels=3000, min_crop_ratio=0.5)))
