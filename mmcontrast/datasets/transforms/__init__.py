from .cls_formatting import PackClsInputs, PackSelfSupInputs
from .multi_view import MultiView
from .random_erasing import TorchvisionRandomErasing
from .ssl_augment import ColorJitter, GaussianBlur, RandomGrayscale, RandomResizedCrop, Solarize
