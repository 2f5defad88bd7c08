from . import transforms  # noqa: F401
from .cifar import CIFAR10, CIFAR100
from .gta import GTADataset
from .image_folder import ImageFolder
from .stl10 import STL10
from .synthia import SynthiaDataset
from .toy_cls import TOY_CLASSES, ToyCls, ensure_toy_cls, make_toy_cls
from .toy_uda import (
                      DEFAULT_TOY_UDA_ROOT,
                      TOY_DET_CLASSES,
                      TOY_SEG_CLASSES,
                      TOY_TRAIN_IDS,
                      ensure_toy_uda,
                      generate_toy_uda,
)
from .toy_uda_dataset import ToyUDACocoDataset, ToyUDASegDataset
from .toy_world import ToyWorldImages, ensure_toy_world, generate_toy_world
from .uda_dataset import UDADataset, label_class_stats, rcs_class_probs, unlabelled_pipeline
from .uda_det_dataset import UDADetDataset, mean_teacher_pipelines

__all__ = [
    'CIFAR10', 'CIFAR100', 'ImageFolder', 'STL10', 'TOY_CLASSES', 'ToyCls', 'ensure_toy_cls', 'make_toy_cls',
    'DEFAULT_TOY_UDA_ROOT', 'TOY_DET_CLASSES', 'TOY_SEG_CLASSES', 'TOY_TRAIN_IDS', 'ensure_toy_uda',
    'generate_toy_uda', 'ToyUDACocoDataset', 'ToyUDASegDataset'
]
__all__ += ['GTADataset', 'SynthiaDataset', 'UDADataset', 'label_class_stats', 'rcs_class_probs']
__all__ += ['UDADetDataset', 'mean_teacher_pipelines', 'unlabelled_pipeline']
__all__ += ['ToyWorldImages', 'ensure_toy_world', 'generate_toy_world']
