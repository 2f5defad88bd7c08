_base_ = '../mocov2/mocov2_resnet18-w16_1xb64-coslr-6e_toycls.py'
# CPU toy run of ProtoNCE: the MoCo v2 toy recipe plus prototypes at three granularities
# (the data has 10 classes). Warm-up: 2 of 6 epochs of InfoNCE only (the paper: 20 of 200;
# prototypes of a network after a single toy epoch are still mostly noise).
model = dict(
    type='ProtoNCE',
    head=dict(_delete_=True, type='ProtoNCELoss', temperature=0.2, num_neg_prototypes=1000))
custom_hooks = [
    _base_.custom_hooks[0],
    dict(type='PrototypeClusteringHook', dataloader=_base_.knn_bank_dataloader, num_clusters=(10, 20, 40),
         warmup_epochs=2, temperature=0.2),
]
