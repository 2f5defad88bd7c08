_base_ = '../protonce/protonce_resnet18_8xb32-coslr-200e_cifar10.py'
# PAUC: the ProtoNCE recipe (schedule, clustering hook, warm-up) with PAUCLoss, whose alignment /
# uniformity / correlation terms are our reading of the paper (no public code; docs/selfsup.md, "PAUC,
# term by term"). The prototype-level terms see the batch of all 8 GPUs (gather_distributed): 256
# images cover about 226 (CIFAR, 1000 clusters) to 255 (ImageNet, 25000) prototypes, more than the 128
# feature dimensions, so the dimension-form correlation term can reach 0. Per GPU (32 images, at most
# 32 prototypes) it could not (configs/selfsup/README.md).
model = dict(type='PAUC', head=dict(_delete_=True, type='PAUCLoss', temperature=0.2, num_neg_prototypes=16000,
                                    corr_form='dimension', gather_distributed=True))
