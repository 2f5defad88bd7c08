from .class_mix import class_mix, class_mix_masks, mix
from .dacs_segmentor import DACSSegmentor
from .dlv2_head import ASPPClassifier, DLV2Head
from .ema_teacher import EMATeacher
from .feature_distance import ImageNetFeatureDistance, downscale_label_ratio
from .pseudo_label import PseudoLabels, make_pseudo_labels
from .strong_aug import StrongAugmentation, StrongViews, color_jitter, gaussian_blur

__all__ = [
    'DACSSegmentor', 'DLV2Head', 'ASPPClassifier', 'EMATeacher', 'ImageNetFeatureDistance', 'downscale_label_ratio',
    'PseudoLabels', 'make_pseudo_labels', 'StrongAugmentation', 'StrongViews', 'color_jitter', 'gaussian_blur',
    'class_mix', 'class_mix_masks', 'mix'
]
