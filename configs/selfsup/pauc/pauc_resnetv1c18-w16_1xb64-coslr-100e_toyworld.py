_base_ = '../mocov2/mocov2_resnetv1c18-w16_1xb64-coslr-100e_toyworld.py'
# PAUC on the toy world (the chain table of configs/uda_seg/README.md): the toy MoCo v2 recipe plus
# prototypes of the whole scenes at three granularities, clustered once per epoch after a warm-up of
# 10 of 100 epochs (ProtoNCE's 20 of 200), with PAUC's loss; correlation weight 0 as in the toy-texture
# PAUC config (configs/selfsup/pauc/pauc_resnet18-w16_1xb64-coslr-6e_toycls.py says why).
model = dict(
    type='PAUC',
    head=dict(_delete_=True, type='PAUCLoss', temperature=0.2, num_neg_prototypes=1000, corr_weight=0.0))
custom_hooks = [
    dict(type='PrototypeClusteringHook', dataloader=_base_.cluster_dataloader, num_clusters=(25, 50, 100),
         warmup_epochs=10, temperature=0.2),
]
