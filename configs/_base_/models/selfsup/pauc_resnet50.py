_base_ = './protonce_resnet50.py'
# PAUC: ProtoNCE plus alignment, uniformity and correlation terms on the prototypes.
model = dict(type='PAUC', head=dict(_delete_=True, type='PAUCLoss', temperature=0.2, num_neg_prototypes=16000))
