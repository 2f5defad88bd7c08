_base_ = '../protonce/protonce_resnet18-w16_1xb64-coslr-6e_toycls.py'
# CPU toy run: the ProtoNCE toy recipe (clustering hook, warm-up) with PAUC's loss.
# Correlation weight 0 instead of 1: a batch of 64 holds at most 10-40 occupied prototypes,
# n fewer than the D = 128 feature dimensions, so the correlation matrix of the prototype
# features has rank < n and its off-diagonal term cannot fall below D / (n - 1) - 1 (2.3 for
# n = 40, 13 for n = 10); PAUCLoss warns about it. Measured: at weight 1 (first toy set) kNN
# fell to chance; at 0.1 (seed 0, queue 128, no projector BN) it fell from 24.1 to 16.1 once
# the prototype terms switched on, and at 0 it rose to 42.3 in the same setting.
model = dict(
    type='PAUC',
    head=dict(_delete_=True, type='PAUCLoss', temperature=0.2, num_neg_prototypes=1000, corr_weight=0.0))
