_base_ = '../byol/byol_resnet18_8xb32-coslr-400e_in100.py'
# DimCL (Nguyen et al. 2023) as a regulariser: (1 - 0.1) * L + 0.1 * L_DimCL with tau 0.1.
model = dict(dimcl=dict(type='DimCLLoss', temperature=0.1), dimcl_weight=0.1)
