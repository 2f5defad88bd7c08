"""The ``mmcontrast`` child of mmengine's optimizer registry.

``mmcontrast.registry`` has no optimizer registry; this module adds one (or reuses it
once ``mmcontrast.registry`` defines ``OPTIMIZERS``), so that ``type='LARS'`` resolves
under ``default_scope='mmcontrast'`` and ``type='mmcontrast.LARS'`` from any scope.
"""
from mmengine.registry import OPTIMIZERS as MMENGINE_OPTIMIZERS
from mmengine.registry import Registry

import mmcontrast.registry as _registry


def _child_registry() -> Registry:
    existing = getattr(_registry, 'OPTIMIZERS', None)
    if existing is not None:
        return existing
    child = MMENGINE_OPTIMIZERS._search_child('mmcontrast')
    if child is not None and child is not MMENGINE_OPTIMIZERS:
        return child
    return Registry('optimizer', parent=MMENGINE_OPTIMIZERS, scope='mmcontrast',
                    locations=['mmcontrast.engine.optimizers'])


OPTIMIZERS = _child_registry()
