from .resnet_cifar import ResNetCIFAR

__all__ = ['ResNetCIFAR']
