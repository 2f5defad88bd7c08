_base_ = './cifar10_ssl.py'
# The toy 10-class 32x32 set (tools/dataset_converters/make_toy_cls.py; generated on first
# use by ToyCls) through the real CIFAR-10 loader, sized for a CPU run of a few minutes.
# Colour is pure nuisance in this data (one random hue per image shared by motif and
# background, class = the tiled motif), so the colour jitter rotates hue over the whole circle
# (hue 0.5) instead of CIFAR's 0.1; crops keep at least half of the 32x32 image (the motif is
# readable from any crop; larger crops only make a few-minute run learn faster).
dataset_type = 'ToyCls'
data_root = 'data/toy_cls'
mean, std = [127.5, 127.5, 127.5], [64.0, 64.0, 64.0]
data_preprocessor = dict(mean=mean, std=std)
view_pipeline = [
    dict(type='RandomResizedCrop', size=32, scale=(0.5, 1.0)),
    dict(type='RandomApply', transforms=[dict(type='ColorJitter', brightness=0.4, contrast=0.4, saturation=0.4,
                                              hue=0.5)], prob=0.8),
    dict(type='RandomGrayscale', prob=0.2),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
]
weak_view_pipeline = [
    dict(type='RandomResizedCrop', size=32, scale=(0.5, 1.0)),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
]
solarize_view_pipeline = view_pipeline + [
    dict(type='RandomApply', transforms=[dict(type='Solarize', threshold=128)], prob=0.2)
]
train_pipeline = [
    dict(type='MultiView', num_views=2, transforms=[view_pipeline]),
    dict(type='PackSelfSupInputs'),
]
_loader = dict(num_workers=0, persistent_workers=False)
train_dataloader = dict(
    batch_size=64, **_loader, dataset=dict(type=dataset_type, data_root=data_root, pipeline=train_pipeline))
knn_bank_dataloader = dict(
    _base_.knn_bank_dataloader, **_loader,
    dataset=dict(_base_.knn_bank_dataloader.dataset, type=dataset_type, data_root=data_root))
knn_query_dataloader = dict(
    _base_.knn_query_dataloader, **_loader,
    dataset=dict(_base_.knn_query_dataloader.dataset, type=dataset_type, data_root=data_root))
custom_hooks = [dict(_base_.custom_hooks[0], bank_dataloader=knn_bank_dataloader,
                     query_dataloader=knn_query_dataloader, interval=1)]
