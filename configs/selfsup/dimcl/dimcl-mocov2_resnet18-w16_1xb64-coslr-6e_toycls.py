_base_ = '../mocov2/mocov2_resnet18-w16_1xb64-coslr-6e_toycls.py'
# DimCL regulariser on the mocov2 toy run: (1 - 0.1) * L_mocov2 + 0.1 * L_DimCL (tau 0.1) on the online
# projector outputs of both views, both with gradient, as the authors' code (thanhkaist/DimCL
# q1_ori, q2_ori: solo/methods/mocov2plus.py L205; the key view also goes through the online encoder).
model = dict(dimcl=dict(type='DimCLLoss', temperature=0.1), dimcl_weight=0.1)
