# Self-training + the FCL baseline (l2-normalised InfoNCE on the decoder features entering the
# classifier, same EHTDI views as PCL, 256 locations per image) on the toy UDA benchmark.
_base_ = ['../_base_/uda/dacs_deeplabv3-r18-narrow_toy-src2tgt.py']
model = dict(
    contrast=dict(
        views=dict(type='mmcontrast.EHTDIViews', feature_pixels=256),
        losses=dict(fcl=dict(type='mmcontrast.InfoNCELoss', temperature=0.1, loss_weight=0.01))))
