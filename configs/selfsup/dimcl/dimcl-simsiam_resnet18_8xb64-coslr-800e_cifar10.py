_base_ = '../simsiam/simsiam_resnet18_8xb64-coslr-800e_cifar10.py'
# DimCL (Nguyen et al. 2023) as a regulariser: (1 - 0.1) * L + 0.1 * L_DimCL with tau 0.1.
model = dict(dimcl=dict(type='DimCLLoss', temperature=0.1), dimcl_weight=0.1)
