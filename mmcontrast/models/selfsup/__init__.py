from .ascl import ASCL
from .base import BaseSelfSupervisor
from .byol import BYOL
from .data_preprocessor import SelfSupDataPreprocessor
from .ema import CosineEMA, EncoderPair
from .moco import MoCo, batch_shuffle_ddp, batch_unshuffle_ddp
from .pauc import PAUC
from .protonce import ProtoNCE
from .simsiam import SimSiam

__all__ = [
    'ASCL', 'BaseSelfSupervisor', 'BYOL', 'CosineEMA', 'EncoderPair', 'MoCo', 'PAUC', 'ProtoNCE', 'SelfSupDataPreprocessor', 'SimSiam',
    'batch_shuffle_ddp', 'batch_unshuffle_ddp'
]
