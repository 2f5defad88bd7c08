"""Build our sub-modules whatever the caller's default scope is."""
from typing import Optional

import torch.nn as nn
from mmengine.registry import DefaultScope

from mmcontrast.registry import MODELS


def build_scoped(cfg: Optional[dict]) -> Optional[nn.Module]:
    """``MODELS.build(cfg)`` with unprefixed types resolved in the mmcontrast scope.

    Our configs name our classes unprefixed (``type='NonLinearNeck'``); a model of
    ours built from an mmdet/mmseg config (``default_scope='mmdet'``, our class as
    ``type='mmcontrast.ImageClassifier'``) must still find them. Upstream classes
    keep working through their scope prefix (``mmdet.ResNet``) or mmengine's root
    registry (``ImgDataPreprocessor``). ``None`` passes through.
    """
    if cfg is None:
        return None
    with DefaultScope.overwrite_default_scope('mmcontrast'):
        return MODELS.build(cfg)
