# DAFormer's recipe + the FCL baseline (l2-normalised InfoNCE on the classifier input, EHTDI views) with DeepLabV2-R101,
# GTA5 -> Cityscapes: the PCL-vs-FCL comparison.
_base_ = [
    '../_base_/uda/deeplabv2red_r101-d8.py', '../_base_/uda/gta2cs-512x512.py',
    '../_base_/uda/uda_runtime_adamw-poly_40k.py', '../_base_/uda/recipes/daformer.py'
]
train_dataloader = dict(dataset=dict(rare_class_sampling=dict(class_temp=0.01, min_pixels=3000, min_crop_ratio=0.5)))
model = dict(
    _delete_=True,
    type='mmcontrast.DACSSegmentor',
    segmentor=_base_.model,
    **_base_.uda,
    contrast=dict(
        views=dict(type='mmcontrast.EHTDIViews', feature_pixels=256),
        losses=dict(fcl=dict(type='mmcontrast.InfoNCELoss', temperature=0.1, loss_weight=0.01))))
