"""Build modules whatever the caller's default registry scope is."""
from typing import Optional

import torch.nn as nn
from mmengine.registry import DefaultScope, Registry


def build_in_scope(cfg: Optional[dict], scope: str = 'mmcontrast',
                   registry: Optional[Registry] = None) -> Optional[nn.Module]:
    """``registry.build(cfg)`` with unprefixed types, nested ones included, resolved in ``scope``.

    A model of ours may be built from a config of any default scope (a seg config says
    ``'mmseg'``, a test may have left ``'mmdet'`` behind). Its children must still resolve:
    the stock segmentor of a UDA wrapper in ``'mmseg'``, our own heads and necks in
    ``'mmcontrast'``. Prefixed types (``'mmdet.ResNet'``) keep working inside.

    Args:
        cfg (dict, optional): The config to build; ``None`` passes through.
        scope (str): Scope of unprefixed types. Defaults to 'mmcontrast'.
        registry (Registry, optional): Registry to build with. Defaults to
            ``mmcontrast.registry.MODELS``.

    Returns:
        nn.Module | None: The built module.
    """
    if cfg is None:
        return None
    if registry is None:
        from mmcontrast.registry import MODELS as registry
    with DefaultScope.overwrite_default_scope(scope):
        return registry.build(cfg)
