from .ascl import ASCL
from .base import BaseSelfSupervisor
from .byol import BYOL
from .data_preprocessor import SelfSupDataPreprocessor
from .ema import CosineEMA, EncoderPair, MomentumEncoder
from .moco import MoCo, batch_shuffle_ddp, batch_unshuffle_ddp
from .pauc import PAUC
from .protonce import ProtoNCE
from .simsiam import SimSiam
from .split_bn import split_bn_forward

__all__ = [
    'ASCL', 'BaseSelfSupervisor', 'BYOL', 'CosineEMA', 'EncoderPair', 'MoCo', 'MomentumEncoder', 'PAUC', 'ProtoNCE',
    'SelfSupDataPreprocessor', 'SimSiam', 'batch_shuffle_ddp', 'batch_unshuffle_ddp', 'split_bn_forward'
]
