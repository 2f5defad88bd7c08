# Self-training (DAFormer's recipe) on the embedded toy UDA benchmark (source -> foggy target),
# CPU-sized. The stock toy DeepLabV3 (narrow R-18) is wrapped as the student; the EMA teacher
# makes pseudo-labels on target crops. Children configs switch on PCL / FCL.
# Toy deviations from the recipe: EMA 0.99 (a 2k schedule: the teacher must follow the student
# within ~100 steps), no pseudo-label margins (no ego hood), no ImageNet feature distance.
_base_ = [
    '../models/deeplabv3_r18-narrow.py', '../datasets/toy_uda_seg.py', '../default_runtime_seg.py',
    '../schedules/schedule_toy_2k.py', './recipes/daformer.py', '../models/toy_pretrained_backbone.py'
]
model = dict(
    _delete_=True,
    type='mmcontrast.DACSSegmentor',
    segmentor=dict(_base_.model, backbone=dict(_base_.model.backbone, init_cfg=_base_.toy_pretrained)),
    **_base_.uda,
)
model.update(
    teacher=dict(type='mmcontrast.DAFormerTeacher', alpha=0.99),
    pseudo_label=dict(threshold=0.968, ignore_top=0, ignore_bottom=0, quality='batch'),
    imnet_feature_dist=None)
train_dataloader = dict(
    batch_size=4,
    num_workers=1,
    dataset=dict(
        _delete_=True, type='mmcontrast.UDADataset', source={{_base_.source_train}},
        target={{_base_.target_train}}))
optim_wrapper = _base_.toy_finetune_optim_wrapper
val_dataloader = dict(num_workers=1)
test_dataloader = val_dataloader
# Evaluates the student and the teacher (metrics student/mIoU and teacher/mIoU), labelled.
val_cfg = dict(_delete_=True, type='mmcontrast.LabelledTeacherStudentValLoop')
model_wrapper_cfg = dict(type='mmcontrast.UDADistributedDataParallel')
custom_hooks = [dict(type='mmcontrast.PseudoLabelVisualizationHook', interval=500)]
