from .cls_formatting import PackClsInputs, PackSelfSupInputs
from .multi_view import MultiView
from .ssl_augment import ColorJitter, GaussianBlur, RandomGrayscale, RandomResizedCrop, Solarize
from .random_erasing import TorchvisionRandomErasing
