# Self-training + FCL baseline (l2-normalised InfoNCE on the decoder features entering the
# classifier, same views and locations as PCL) on the toy UDA benchmark.
_base_ = ['../_base_/uda/dacs_deeplabv3-r18-narrow_toy-src2tgt.py']
model = dict(
    fcl=dict(type='mmcontrast.InfoNCELoss', temperature=0.1, loss_weight=0.01),
    fcl_num_pixels=256,
    contrast_view='target')
