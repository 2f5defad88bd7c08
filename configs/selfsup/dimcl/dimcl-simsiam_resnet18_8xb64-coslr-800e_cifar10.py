_base_ = '../simsiam/simsiam_resnet18_8xb64-coslr-800e_cifar10.py'
# DimCL (Nguyen et al. 2023) as a regulariser of SimSiam: (1 - 0.1) * L + 0.1 * L_DimCL (tau 0.1) on the
# online projections of both views over each GPU's batch, as the authors' code
# (thanhkaist/DimCL solo/methods/simsiam.py L163: ours_loss_func(z1_ori, z2_ori); the single-GPU loss,
# not gathered, unlike their BYOL).
model = dict(dimcl=dict(type='DimCLLoss', temperature=0.1), dimcl_weight=0.1)
