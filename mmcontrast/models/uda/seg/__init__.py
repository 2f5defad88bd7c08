from .backward import BackwardSchedule, SequentialBackward, SummedBackward
from .class_mix import DAFormerClassMix, PerImageClassMix, class_mix, class_mix_masks, mix
from .contrast_views import ContrastViewBuilder, ContrastViews, EHTDIViews, MixedViews, TargetViews, UDAStep
from .dacs_segmentor import DACSSegmentor
from .daformer_head import DAFormerHead
from .dlv2_head import ASPPClassifier, DLV2Head
from .ema_teacher import DAFormerTeacher, EMATeacher, EvalModeTeacher
from .feature_distance import ImageNetFeatureDistance, downscale_label_ratio
from .hrda import HRDAEncoderDecoder, HRDAHead
from .pseudo_label import PseudoLabels, make_pseudo_labels
from .strong_aug import (
                         DAFormerStrongAug,
                         IndependentStrongAug,
                         StrongAugmentation,
                         StrongViews,
                         build_strong_aug,
                         color_jitter,
                         daformer_color_jitter,
                         daformer_kernel_size,
                         gaussian_blur,
)

__all__ = [
    'DACSSegmentor', 'DLV2Head', 'ASPPClassifier', 'EMATeacher', 'ImageNetFeatureDistance', 'downscale_label_ratio',
    'PseudoLabels', 'make_pseudo_labels', 'StrongAugmentation', 'StrongViews', 'color_jitter', 'gaussian_blur',
    'class_mix', 'class_mix_masks', 'mix', 'DAFormerHead', 'DAFormerStrongAug', 'IndependentStrongAug',
    'build_strong_aug', 'daformer_color_jitter', 'daformer_kernel_size', 'BackwardSchedule', 'SequentialBackward',
    'SummedBackward', 'DAFormerClassMix', 'PerImageClassMix', 'ContrastViewBuilder', 'ContrastViews', 'EHTDIViews',
    'MixedViews', 'TargetViews', 'UDAStep', 'DAFormerTeacher', 'EvalModeTeacher',
    'HRDAEncoderDecoder', 'HRDAHead'
]
