# Bring your own data, segmentation (docs/byo_data.md): what a stock mmseg config lacks to train
# mmcontrast.DACSSegmentor. It defines only names that stock mmseg configs do not, so it composes
# with any of them: _base_ = ['mmseg::<config>.py', '<this file>']. Then, in the user config:
#   model = dict(_delete_=True, type='mmcontrast.DACSSegmentor', segmentor=_base_.model, **_base_.uda)
#   train_dataloader = dict(dataset=dict(type='mmcontrast.UDADataset', source=..., target=...))
_base_ = ['../recipes/daformer.py']  # defines `uda`: DAFormer's self-training recipe
custom_imports = dict(imports=['mmcontrast'], allow_failed_imports=False)
# The recipe without what is specific to GTA5/Cityscapes: the pseudo-label margins of the
# Cityscapes ego hood and rectification border, and the ImageNet feature distance on the
# Cityscapes "thing" class ids (set both back for Cityscapes-like targets: recipes/daformer.py).
uda = dict(pseudo_label=dict(ignore_top=0, ignore_bottom=0), imnet_feature_dist=None)
# Sequential backward under DDP: one gradient all-reduce per iteration after the last stage.
model_wrapper_cfg = dict(type='mmcontrast.UDADistributedDataParallel')
# Target | pseudo-label | confidence | weight | mixed image | mixed label, saved every 1000 iterations.
custom_hooks = [dict(type='mmcontrast.PseudoLabelVisualizationHook', interval=1000)]
