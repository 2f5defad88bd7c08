# The DeepLabV2 behind the published UDA numbers (DACS, DAFormer's DeepLabV2 rows, EHTDI/PCL):
# only the dilation-6 and dilation-12 classifiers are summed, because AdaptSegNet's
# Classifier_Module returns inside its loop (vikolss/DACS model/deeplabv2.py L117-121). DAFormer
# keeps this on purpose as deeplabv2red (configs/_base_/models/deeplabv2red_r50-d8.py).
# The full 4-branch sum is configs/_base_/uda/deeplabv2_r101-d8.py.
_base_ = ['./deeplabv2_r101-d8.py']
model = dict(decode_head=dict(dilations=(6, 12)))
