# Cityscapes (labelled source) -> Foggy Cityscapes, all three densities (unlabelled target), 8 classes.
# The split Adaptive Teacher reports its 50.9 AP50 on: every foggy image of the folder, i.e. each
# Cityscapes image at beta 0.005, 0.01 and 0.02, in training (3 x 2975 target images) and in
# validation (3 x 500 images); AT's adapteacher/data/datasets/cityscapes_foggy.py:26,37 (load_only_002 =
# False) and builtin.py:118-119. city2foggy.py is DA-Faster's beta = 0.02 split.
# Prepare with (see docs/uda_det.md):
#   python tools/dataset_converters/cityscapes_foggy.py data/cityscapes --foggy-beta 0.02 all
#   -> data/cityscapes/annotations/foggy_cityscapes_all-densities_{train,val}_8cls.json
#   images: data/cityscapes/leftImg8bit_foggy/{train,val}/<city>/*_leftImg8bit_foggy_beta_{0.005,0.01,0.02}.png
_base_ = ['./city2foggy.py']

target_dataset = dict(ann_file='annotations/foggy_cityscapes_all-densities_train_8cls.json')
target_val_dataset = dict(ann_file='annotations/foggy_cityscapes_all-densities_val_8cls.json')
val_ann_file = 'data/cityscapes/annotations/foggy_cityscapes_all-densities_val_8cls.json'
