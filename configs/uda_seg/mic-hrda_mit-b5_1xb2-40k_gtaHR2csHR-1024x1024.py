# MIC(HRDA) (Hoyer et al., CVPR 2023), GTA5 -> Cityscapes. Paper: 75.9 mIoU.
# MIC adds masked image consistency to HRDA's training only: a MIC checkpoint is an HRDA model
# (lhoyer/MIC seg/mmseg/models/uda/masking_consistency_module.py holds no weights), so this is
# HRDA's config, for the published MIC checkpoints. Training is not implemented.
_base_ = ['./hrda_mit-b5_1xb2-40k_gtaHR2csHR-1024x1024.py']
