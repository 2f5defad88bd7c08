from .resnet_cifar import ResNetCIFAR
from .strict_pretrained import StrictPretrainedInit, compare_state_dicts
from .vgg import VGG

__all__ = ['ResNetCIFAR', 'StrictPretrainedInit', 'VGG', 'compare_state_dicts']
