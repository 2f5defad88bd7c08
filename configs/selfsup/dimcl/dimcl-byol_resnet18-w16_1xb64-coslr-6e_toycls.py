_base_ = '../byol/byol_resnet18-w16_1xb64-coslr-6e_toycls.py'
# DimCL regulariser on the byol toy run: (1 - 0.1) * L_byol + 0.1 * L_DimCL (tau 0.1) on the online
# projector outputs of both views, both with gradient, as the authors' code (thanhkaist/DimCL
# Z[0], Z[1]: solo/methods/byol.py L175).
model = dict(dimcl=dict(type='DimCLLoss', temperature=0.1), dimcl_weight=0.1)
