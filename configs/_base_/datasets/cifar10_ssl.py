# CIFAR-10 two-view pretraining (MoCo v2 / SimCLR augmentations at 32x32, no blur as in
# solo-learn's CIFAR recipes) and a kNN monitor on the plain train/test images.
dataset_type = 'CIFAR10'
data_root = 'data/cifar10'  # holds cifar-10-batches-py
mean, std = [125.307, 122.961, 113.8575], [51.5865, 50.847, 51.255]  # RGB
data_preprocessor = dict(type='SelfSupDataPreprocessor', mean=mean, std=std, bgr_to_rgb=True)

view_pipeline = [
    dict(type='RandomResizedCrop', size=32, scale=(0.2, 1.0)),
    dict(type='RandomApply', transforms=[dict(type='ColorJitter', brightness=0.4, contrast=0.4, saturation=0.4,
                                              hue=0.1)], prob=0.8),
    dict(type='RandomGrayscale', prob=0.2),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
]
# ASCL's weak (key/teacher) view (MrChenFeng/ASCL_ICPR2022 dataloader.py L268-273: crop and flip).
weak_view_pipeline = [
    dict(type='RandomResizedCrop', size=32, scale=(0.2, 1.0)),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
]
# ASCL's strong (query/student) view on CIFAR (dataloader.py L237-245): the MoCo v2 view *with*
# Gaussian blur (p 0.5, sigma 0.1-2), unlike solo-learn's blur-free CIFAR views.
ascl_strong_view_pipeline = view_pipeline + [
    dict(type='RandomApply', transforms=[dict(type='GaussianBlur', sigma_min=0.1, sigma_max=2.0)], prob=0.5)
]
# BYOL's asymmetric second view: the first plus solarisation (p 0.2; no blur at 32x32,
# as in solo-learn's CIFAR recipes).
solarize_view_pipeline = view_pipeline + [
    dict(type='RandomApply', transforms=[dict(type='Solarize', threshold=128)], prob=0.2)
]
train_pipeline = [
    dict(type='MultiView', num_views=2, transforms=[view_pipeline]),
    dict(type='PackSelfSupInputs'),
]
test_pipeline = [dict(type='PackClsInputs')]

train_dataloader = dict(
    batch_size=32,
    num_workers=4,
    persistent_workers=True,
    drop_last=True,  # MoCo's batch shuffle needs equal batches on every rank
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type=dataset_type, data_root=data_root, split='train', pipeline=train_pipeline))

knn_bank_dataloader = dict(
    batch_size=256,
    num_workers=4,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, data_root=data_root, split='train', pipeline=test_pipeline))
knn_query_dataloader = dict(
    batch_size=256,
    num_workers=4,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, data_root=data_root, split='test', pipeline=test_pipeline))
custom_hooks = [
    dict(type='KNNMonitorHook', bank_dataloader=knn_bank_dataloader, query_dataloader=knn_query_dataloader,
         k=200, temperature=0.1, interval=10)
]
