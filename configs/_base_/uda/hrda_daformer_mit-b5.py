# HRDA's network (Hoyer et al., ECCV 2022; lhoyer/HRDA configs/hrda/gtaHR2csHR_hrda.py) on mmseg 1.x:
# DAFormer's MiT-B5 + DAFormerHead applied to a half-resolution context view and to 512x512
# detail crops of the full-resolution image, fused by a class-wise scale attention (a second
# DAFormerHead with a 1x1 conv fusion). Test: 1024x1024 sliding windows, stride 512; inside each
# window the detail view is covered by overlapping 512 crops. Evaluation and export only:
# mmcontrast.HRDAEncoderDecoder does not train (its loss raises).
_base_ = ['./daformer_mit-b5.py']
model = dict(
    type='mmcontrast.HRDAEncoderDecoder',
    data_preprocessor=dict(size=(1024, 1024)),
    decode_head=dict(
        type='mmcontrast.HRDAHead',
        # Use the DAFormer decoder for each scale.
        single_scale_head='mmcontrast.DAFormerHead',
        # Learn a scale attention for each class channel of the prediction.
        attention_classwise=True,
        # Detail loss weight lambda_d = 0.1 (training, not implemented).
        hr_loss_weight=0.1),
    # Full resolution for the detail crop, half resolution for the context.
    scales=[1, 0.5],
    # Relative detail crop size 0.5 (= 512 / 1024).
    hr_crop_size=[512, 512],
    # LR features for the ImageNet feature distance, as in DAFormer.
    feature_scale=0.5,
    # Crop coordinates divisible by 8 (output stride 4, downscale 2) for aligned fusion.
    crop_coord_divisible=8,
    # Overlapping slide inference for the detail crops (pseudo-labels and test).
    hr_slide_inference=True,
    # Whole Cityscapes images (2048x1024) in 1024x1024 windows with stride 512.
    test_cfg=dict(mode='slide', stride=(512, 512), crop_size=(1024, 1024)))
