_base_ = '../protonce/protonce_resnet18-w16_1xb64-coslr-3e_toycls.py'
# CPU toy run: the ProtoNCE toy recipe (clustering hook, warm-up) with PAUC's loss.
model = dict(type='PAUC', head=dict(_delete_=True, type='PAUCLoss', temperature=0.2, num_neg_prototypes=1000))
