_base_ = '../protonce/protonce_resnet50_8xb32-coslr-200e_in1k.py'
# PAUC: the ProtoNCE recipe (schedule, clustering hook, warm-up) with PAUCLoss, whose
# alignment / uniformity / correlation terms follow our reading of the paper (no public code).
model = dict(type='PAUC', head=dict(_delete_=True, type='PAUCLoss', temperature=0.2, num_neg_prototypes=16000))
