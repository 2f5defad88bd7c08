from .contrast_views import RoIBoxPairViews
from .domain_adaptive_teacher import DomainAdaptiveTeacher
from .domain_discriminator import ImageDomainDiscriminator, gradient_reversal

__all__ = ['DomainAdaptiveTeacher', 'ImageDomainDiscriminator', 'RoIBoxPairViews', 'gradient_reversal']
