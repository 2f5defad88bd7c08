# GTA5 -> Cityscapes, self-training + the FCL baseline (l2-normalised InfoNCE on the features entering the classifier) with DeepLabV2-R101, for the PCL-vs-FCL comparison.
_base_ = [
    '../_base_/uda/dacs_deeplabv2-r101-d8.py', '../_base_/uda/gta2cs-512x512.py',
    '../_base_/uda/uda_runtime_adamw-poly_40k.py'
]
train_dataloader = dict(dataset=dict(rare_class_sampling=dict(class_temp=0.01, min_pixels=3000, min_crop_ratio=0.5)))
model = dict(fcl=dict(type='mmcontrast.InfoNCELoss', temperature=0.1, loss_weight=0.01), fcl_num_pixels=256)
