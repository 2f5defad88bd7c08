# HRDA (MiT-B5 + DAFormerHead at two scales + scale attention, DAFormer's recipe),
# SYNTHIA -> Cityscapes at full resolution. Paper: 65.8 mIoU16.
# For the published HRDA checkpoint (tools/model_converters/daformer_to_mmcontrast.py, then
# tools/test.py or export_uda_model.py): training HRDA is not implemented (its loss raises).
_base_ = [
    '../_base_/uda/hrda_daformer_mit-b5.py', '../_base_/uda/synthiaHR2csHR-1024x1024.py',
    '../_base_/uda/uda_runtime_adamw-poly_40k.py', '../_base_/uda/recipes/daformer.py'
]
model = dict(_delete_=True, type='mmcontrast.DACSSegmentor', segmentor=_base_.model, **_base_.uda)
# HRDA: min_crop_ratio 2.0 (4x the pixels of DAFormer's 512x512 crops).
train_dataloader = dict(dataset=dict(rare_class_sampling=dict(class_temp=0.01, min_pixels=3000, min_crop_ratio=2.0)))
