# Adaptive Teacher as its code runs: VGG16-BN trained from scratch (faster_rcnn_VGG_cross_city.yaml sets no
# MODEL.WEIGHTS; the authors confirm it in adaptive_teacher issues 29 and 36), AT's weight initialisation
# (vgg.py L108-119: Kaiming-normal fan-out, BN 1/0, the VGG backbone's default init_cfg) and detectron2's input
# normalisation (BGR, caffe mean, std 1: MODEL.PIXEL_MEAN / PIXEL_STD / INPUT.FORMAT defaults).
_base_ = ['./adaptive-teacher_faster-rcnn_vgg16-bn_100k_city2foggy-all.py']

preprocessor = dict(
    type='DetDataPreprocessor',
    mean=[103.53, 116.28, 123.675],
    std=[1.0, 1.0, 1.0],
    bgr_to_rgb=False,
    pad_size_divisor=1)
model = dict(
    data_preprocessor=dict(data_preprocessor=preprocessor),
    detector=dict(data_preprocessor=preprocessor, backbone=dict(init_cfg=None)))
