# Cityscapes (labelled source) -> Foggy Cityscapes beta=0.02 (unlabelled target), 8 classes.
# DA-Faster's split (beta 0.02 only); city2foggy_all-densities.py is Adaptive Teacher's.
# Boxes are the visible instance extents from *_gtFine_instanceIds.png.
# Prepare with tools/dataset_converters/cityscapes_foggy.py (see docs/uda_det.md):
#   data/cityscapes/leftImg8bit/{train,val}/<city>/*_leftImg8bit.png
#   data/cityscapes/leftImg8bit_foggy/{train,val}/<city>/*_leftImg8bit_foggy_beta_0.02.png
#   data/cityscapes/gtFine/{train,val}/<city>/*_gtFine_{polygons.json,instanceIds.png}
#   data/cityscapes/annotations/{cityscapes,foggy_cityscapes_beta_0.02}_{train,val}_8cls.json
_base_ = ['./semi_pipelines_600.py']

dataset_type = 'CityscapesDataset'  # mmdet's: COCO JSON with the 8 Cityscapes instance classes
data_root = 'data/cityscapes/'
source_dataset = dict(
    type=dataset_type,
    data_root=data_root,
    ann_file='annotations/cityscapes_train_8cls.json',
    data_prefix=dict(img='leftImg8bit/train/'),
    filter_cfg=dict(filter_empty_gt=True, min_size=32),
    pipeline={{_base_.sup_pipeline}})
target_dataset = dict(
    type=dataset_type,
    data_root=data_root,
    ann_file='annotations/foggy_cityscapes_beta_0.02_train_8cls.json',
    data_prefix=dict(img='leftImg8bit_foggy/train/'),
    filter_cfg=dict(filter_empty_gt=False),
    pipeline={{_base_.unsup_pipeline}})
target_val_dataset = dict(
    type=dataset_type,
    data_root=data_root,
    ann_file='annotations/foggy_cityscapes_beta_0.02_val_8cls.json',
    data_prefix=dict(img='leftImg8bit_foggy/val/'),
    test_mode=True,
    pipeline={{_base_.test_pipeline}})
val_ann_file = data_root + 'annotations/foggy_cityscapes_beta_0.02_val_8cls.json'
num_classes = 8
