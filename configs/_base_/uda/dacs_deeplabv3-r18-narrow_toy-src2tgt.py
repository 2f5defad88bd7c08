# DACS self-training on the embedded toy UDA benchmark (source -> foggy target), CPU-sized.
# The stock toy DeepLabV3 (narrow R-18) is wrapped as the student; the EMA teacher makes
# pseudo-labels on target crops. Children configs switch on PCL / FCL.
_base_ = [
    '../models/deeplabv3_r18-narrow.py', '../datasets/toy_uda_seg.py', '../default_runtime_seg.py',
    '../schedules/schedule_toy_2k.py'
]
model = dict(
    _delete_=True,
    type='mmcontrast.DACSSegmentor',
    segmentor={{_base_.model}},
    ema_alpha=0.99,  # short schedule: the teacher must follow the student within ~100 steps
    pseudo_threshold=0.968,
    pseudo_ignore_top=0,
    pseudo_ignore_bottom=0,
    strong_aug=dict(color_jitter_strength=0.2, color_jitter_prob=0.2, blur_prob=0.5, flip_prob=0.0),
    predict_on='teacher')
train_dataloader = dict(
    batch_size=4,
    num_workers=1,
    dataset=dict(
        _delete_=True, type='mmcontrast.UDADataset', source={{_base_.source_train}},
        target={{_base_.target_train}}))
val_dataloader = dict(num_workers=1)
test_dataloader = val_dataloader
# Evaluates the teacher and the student (metrics teacher/mIoU and student/mIoU).
val_cfg = dict(_delete_=True, type='mmdet.TeacherStudentValLoop')
default_hooks = dict(checkpoint=dict(save_best='teacher/mIoU', rule='greater'))
custom_hooks = [dict(type='mmcontrast.PseudoLabelVisualizationHook', interval=500)]
