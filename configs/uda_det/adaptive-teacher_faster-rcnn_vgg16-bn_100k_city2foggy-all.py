# Adaptive Teacher's recipe (facebookresearch/adaptive_teacher, configs/faster_rcnn_VGG_cross_city.yaml) on its
# split: Cityscapes -> Foggy Cityscapes at all three densities (train 3 x 2975, val 3 x 500 images), 8 classes,
# 8 GPUs x (2 source + 2 target). AT reports 50.9 AP50 (teacher). Backbone: VGG16-BN with torchvision's
# ImageNet weights, as the paper states; AT's code trains it from scratch (adaptive_teacher issues 29 and 36):
# adaptive-teacher_faster-rcnn_vgg16-bn-scratch_100k_city2foggy-all.py. Deviations: docs/uda_det.md.
_base_ = [
    '../_base_/uda_det/adaptive-teacher_faster-rcnn_vgg16-bn_100k.py', '../_base_/uda_det/city2foggy_all-densities.py',
    '../_base_/uda_det/adaptive-teacher_pipelines.py'
]

model = dict(detector=dict(roi_head=dict(bbox_head=dict(num_classes={{_base_.num_classes}}))))
source_dataset = _base_.source_dataset
source_dataset.pipeline = _base_.at_sup_pipeline
target_dataset = _base_.target_dataset
target_dataset.pipeline = _base_.at_unsup_pipeline
target_val_dataset = _base_.target_val_dataset
target_val_dataset.pipeline = _base_.at_test_pipeline
train_dataloader = dict(dataset=dict(datasets=[source_dataset, target_dataset]))
val_dataloader = dict(dataset=target_val_dataset)
test_dataloader = val_dataloader
val_evaluator = dict(ann_file={{_base_.val_ann_file}})
test_evaluator = val_evaluator
