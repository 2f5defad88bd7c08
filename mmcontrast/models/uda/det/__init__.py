from .contrast_views import DenseBoxPairViews, RoIBoxPairViews
from .domain_adaptive_teacher import DomainAdaptiveTeacher, detector_family
from .domain_discriminator import ImageDomainDiscriminator, gradient_reversal

__all__ = [
    'DomainAdaptiveTeacher', 'ImageDomainDiscriminator', 'RoIBoxPairViews', 'DenseBoxPairViews', 'gradient_reversal',
    'detector_family'
]
