# Self-training UDA (DACS + the DAFormer recipe) around the stock SegFormer MiT-B5 segmentor.
# Unlisted DACSSegmentor arguments keep their (paper) defaults: EMA 0.999, threshold 0.968,
# colour jitter 0.2 w.p. 0.2 + blur w.p. 0.5, prediction with the teacher.
_base_ = ['./segformer_mit-b5.py']
model = dict(
    _delete_=True,
    type='mmcontrast.DACSSegmentor',
    segmentor={{_base_.model}},
    pseudo_ignore_top=15,  # Cityscapes crops: rectification border
    pseudo_ignore_bottom=120,  # ego-vehicle hood
    # ImageNet feature distance on thing classes; skipped with a warning without ImageNet weights.
    imnet_feature_dist=dict(loss_weight=0.005, classes=[6, 7, 11, 12, 13, 14, 15, 16, 17, 18]))
