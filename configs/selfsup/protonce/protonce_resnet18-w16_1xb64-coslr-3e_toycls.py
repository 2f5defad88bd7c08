_base_ = '../mocov2/mocov2_resnet18-w16_1xb64-coslr-3e_toycls.py'
# CPU toy run of ProtoNCE: the MoCo v2 toy recipe plus prototypes at three granularities
# (the data has 10 classes), one warm-up epoch of InfoNCE only.
model = dict(
    type='ProtoNCE',
    head=dict(_delete_=True, type='ProtoNCELoss', temperature=0.2, num_neg_prototypes=1000))
custom_hooks = [
    _base_.custom_hooks[0],
    dict(type='PrototypeClusteringHook', dataloader=_base_.knn_bank_dataloader, num_clusters=(10, 20, 40),
         warmup_epochs=1, temperature=0.2),
]
