_base_ = '../mocov2/mocov2_resnet18_8xb32-coslr-200e_cifar100.py'
# DimCL (Nguyen et al. 2023) as a regulariser of MoCo v2: (1 - 0.1) * L + 0.1 * L_DimCL (tau 0.1) on the
# online projections of both views over each GPU's batch, as the authors' code
# (thanhkaist/DimCL solo/methods/mocov2plus.py L205: ours_loss_func(q1_ori, q2_ori); the single-GPU loss,
# not gathered, unlike their BYOL).
model = dict(dimcl=dict(type='DimCLLoss', temperature=0.1), dimcl_weight=0.1)
