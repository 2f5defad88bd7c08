_base_ = './mocov2_resnet50.py'
# ASCL (Feng & Patras, ICPR 2022) on ImageNet-1k as the official code (MrChenFeng/ASCL_ICPR2022
# ImageNet-1K/builder.py L14 and L24): queue 65536, m 0.999, t1 0.1, t2 0.05, one neighbour, MoCo v2's
# MLP head (feat -> feat -> 128; the CIFAR code uses feat -> 2048 -> 128, model.py L72-76).
# The key (teacher) sees the weak view, the query the strong one.
model = dict(
    type='ASCL',
    queue_len=65536,
    momentum=0.999,
    head=dict(_delete_=True, type='ASCLLoss', t1=0.1, t2=0.05, num_neighbors=1, mode='ascl'))
