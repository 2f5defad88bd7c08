_base_ = './mocov2_resnet50.py'
# ProtoNCE (PCL, Li et al. ICLR 2021): MoCo v2 + prototypes from per-epoch k-means of the
# momentum features (PrototypeClusteringHook, in the method configs). Official: queue 16384,
# m 0.999, t 0.2, 16000 negative prototypes.
model = dict(
    type='ProtoNCE',
    queue_len=16384,
    head=dict(_delete_=True, type='ProtoNCELoss', temperature=0.2, num_neg_prototypes=16000))
