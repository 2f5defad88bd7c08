# Sim10k (labelled source, car) -> Cityscapes (unlabelled target), car only.
# Prepare with tools/dataset_converters/sim10k.py (see docs/uda_det.md):
#   data/sim10k/VOC2012/JPEGImages/*.jpg, data/sim10k/annotations/sim10k_car.json
#   data/cityscapes/leftImg8bit/{train,val}/..., data/cityscapes/annotations/cityscapes_{train,val}_car.json
# Sim10k boxes as DA-Faster's converter (XML corners, no -1 shift; difficult boxes kept); Cityscapes car
# boxes are the visible extents from *_gtFine_instanceIds.png.
_base_ = ['./semi_pipelines_600.py']

dataset_type = 'CocoDataset'
metainfo = dict(classes=('car', ), palette=[(0, 0, 142)])
source_dataset = dict(
    type=dataset_type,
    metainfo=metainfo,
    data_root='data/sim10k/',
    ann_file='annotations/sim10k_car.json',
    data_prefix=dict(img='VOC2012/JPEGImages/'),
    filter_cfg=dict(filter_empty_gt=True, min_size=32),
    pipeline={{_base_.sup_pipeline}})
target_dataset = dict(
    type=dataset_type,
    metainfo=metainfo,
    data_root='data/cityscapes/',
    ann_file='annotations/cityscapes_train_car.json',
    data_prefix=dict(img='leftImg8bit/train/'),
    filter_cfg=dict(filter_empty_gt=False),
    pipeline={{_base_.unsup_pipeline}})
target_val_dataset = dict(
    type=dataset_type,
    metainfo=metainfo,
    data_root='data/cityscapes/',
    ann_file='annotations/cityscapes_val_car.json',
    data_prefix=dict(img='leftImg8bit/val/'),
    test_mode=True,
    pipeline={{_base_.test_pipeline}})
val_ann_file = 'data/cityscapes/annotations/cityscapes_val_car.json'
num_classes = 1
