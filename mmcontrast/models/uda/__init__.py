from . import det, seg  # noqa: F401
from .ddp import UDADistributedDataParallel

__all__ = ['UDADistributedDataParallel']
