# Self-training + PCL (class- and pixel-level, on the student's decoder logits of a weak
# and a photometric strong view of the same target crop) on the toy UDA benchmark.
_base_ = ['../_base_/uda/dacs_deeplabv3-r18-narrow_toy-src2tgt.py']
model = dict(
    class_pcl=dict(type='mmcontrast.ClassPCLLoss', scale=7.0, loss_weight=0.01),
    pixel_pcl=dict(type='mmcontrast.PixelPCLLoss', scale=20.0, max_pixels=1024, loss_weight=0.01),
    contrast_view='target')
