_base_ = '../byol/byol_resnet18_8xb32-coslr-400e_in100.py'
# DimCL (Nguyen et al. 2023) as a regulariser of BYOL: (1 - 0.1) * L_byol + 0.1 * L_DimCL (tau 0.1) on
# the online projections of both views, gathered across GPUs after a per-GPU standardisation, as the
# authors' BYOL (thanhkaist/DimCL solo/methods/byol.py L175: ours_loss_func_multigpu(Z[0], Z[1]);
# solo/losses/oursloss.py L102-111).
model = dict(dimcl=dict(type='DimCLLoss', temperature=0.1, gather_distributed=True, norm_per_rank=True),
             dimcl_weight=0.1)
