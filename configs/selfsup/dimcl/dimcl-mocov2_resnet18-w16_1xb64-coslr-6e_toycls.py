_base_ = '../mocov2/mocov2_resnet18-w16_1xb64-coslr-6e_toycls.py'
# DimCL regulariser on the mocov2 toy run: (1 - 0.1) * L_mocov2 + 0.1 * L_DimCL (tau 0.1).
model = dict(dimcl=dict(type='DimCLLoss', temperature=0.1), dimcl_weight=0.1)
