# Supervised single-view loaders on the toy 10-class set with two classes withheld as OOD
# (cross, diamond). Prepare once, and again whenever the toy generator version changes (the
# withheld copy is plain CIFAR10 data, not regenerated automatically):
#   python tools/dataset_converters/make_toy_cls.py --out data/toy_cls
#   python tools/dataset_converters/withhold_classes.py data/toy_cls data/toy_cls_withheld \
#       --withhold cross diamond
dataset_type = 'CIFAR10'
data_root = 'data/toy_cls_withheld/id'
ood_data_root = 'data/toy_cls_withheld/ood'
id_classes = ['disk', 'square', 'triangle', 'plus', 'ring', 'hbars', 'vbars', 'checker']
data_preprocessor = dict(type='ImgDataPreprocessor', mean=[127.5] * 3, std=[64.0] * 3, bgr_to_rgb=True)

train_pipeline = [
    dict(type='RandomResizedCrop', size=32, scale=(0.5, 1.0)),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackClsInputs'),
]
test_pipeline = [dict(type='PackClsInputs')]
train_dataloader = dict(
    batch_size=128,
    num_workers=0,
    persistent_workers=False,
    drop_last=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type=dataset_type, data_root=data_root, split='train', pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=256,
    num_workers=0,
    persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, data_root=data_root, split='test', pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='Accuracy', topk=(1, ))
test_evaluator = val_evaluator
