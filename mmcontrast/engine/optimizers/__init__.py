"""Optimizers and learning-rate helpers of self-supervised pretraining (LARS, fixed-lr groups).

Configs that use them import this package:
``custom_imports = dict(imports=['mmcontrast', 'mmcontrast.engine.optimizers'], allow_failed_imports=False)``
(the LARS/SimSiam schedule bases under ``configs/_base_/schedules/`` do).
"""
from .fixed_lr_hook import FixedLRHook
from .lars import LARS
from .registry import OPTIMIZERS

__all__ = ['FixedLRHook', 'LARS', 'OPTIMIZERS']
