_base_ = '../simsiam/simsiam_resnet18-w16_1xb64-coslr-6e_toycls.py'
# DimCL regulariser on the simsiam toy run: (1 - 0.1) * L_simsiam + 0.1 * L_DimCL (tau 0.1) on the online
# projector outputs of both views, both with gradient, as the authors' code (thanhkaist/DimCL
# z1_ori, z2_ori: solo/methods/simsiam.py L163).
model = dict(dimcl=dict(type='DimCLLoss', temperature=0.1), dimcl_weight=0.1)
