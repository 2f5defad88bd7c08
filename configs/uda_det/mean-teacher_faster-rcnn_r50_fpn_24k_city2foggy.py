# Domain-adaptive mean teacher, Faster R-CNN R-50-FPN, city2foggy. Target val: COCO AP / AP50.
_base_ = ['../_base_/uda_det/mean-teacher_faster-rcnn_r50_fpn_24k.py', '../_base_/uda_det/city2foggy.py']

model = dict(detector=dict(roi_head=dict(bbox_head=dict(num_classes={{_base_.num_classes}}))))
train_dataloader = dict(
    dataset=dict(datasets=[{{_base_.source_dataset}}, {{_base_.target_dataset}}]))
val_dataloader = dict(dataset={{_base_.target_val_dataset}})
test_dataloader = val_dataloader
val_evaluator = dict(ann_file={{_base_.val_ann_file}})
test_evaluator = val_evaluator
