# Self-training + PCL as the PCL paper's segmentation code (EHTDI views: both ClassMixed, class
# labels from the student's weak view above 0.95 plus the pasted source labels; class- and
# pixel-level PCL at 0.01) on the toy UDA benchmark. Pixel PCL samples 1024 pixels per image on
# the CPU (EHTDI: all pixels).
_base_ = ['../_base_/uda/dacs_deeplabv3-r18-narrow_toy-src2tgt.py', '../_base_/uda/recipes/ehtdi.py']
model = dict(contrast=_base_.pcl_contrast)
model['contrast']['losses']['pixel_pcl']['max_pixels'] = 1024
