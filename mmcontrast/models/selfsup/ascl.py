"""ASCL: Feng & Patras, "Adaptive Soft Contrastive Learning", ICPR 2022."""
from typing import Optional

from mmcontrast.registry import MODELS
from .moco import MoCo


@MODELS.register_module()
class ASCL(MoCo):
    """MoCo v2 with ASCL's adaptive soft targets (``ASCLLoss``).

    The key (teacher) encoder sees a weakly augmented view and the query encoder a
    strongly augmented one; the similarity of the key to the queue gives soft
    positives, sharpened with ``t2`` and weighted by an entropy-based confidence
    (all inside ``ASCLLoss``). Pipelines give ``MultiView`` views in the order
    ``[weak, strong]`` (``configs/_base_/datasets/*_ascl.py``).

    Defaults are the official CIFAR ones (``main.py``: queue 4096, momentum 0.99;
    ``t1=0.1``, ``t2=0.05``) and, in the configs, a ``feat -> 2048 -> 128``
    projector; the official ImageNet code (``ImageNet-1K/builder.py``) uses queue
    65536 and momentum 0.999 (``configs/_base_/models/selfsup/ascl_resnet50.py``).
    On one process BN is split into 8 groups like the official ``SplitBatchNorm``
    (see :class:`MoCo`).

    Args:
        backbone (dict): Backbone config.
        neck (dict): Projector config.
        head (dict): Called as ``head(q, k, queue)``. Defaults to
            ``ASCLLoss(t1=0.1, t2=0.05, num_neighbors=1, mode='ascl')``.
        queue_len (int): Defaults to 4096.
        feat_dim (int): Defaults to 128.
        momentum (float): Paper momentum. Defaults to 0.99.
        query_view (int): The strong view. Defaults to 1.
        key_view (int): The weak view. Defaults to 0.
        **kwargs: Other :class:`MoCo` arguments (``shuffle_bn``, ``dimcl`` ...).
    """

    def __init__(self,
                 backbone: dict,
                 neck: dict,
                 head: dict = dict(type='ASCLLoss', t1=0.1, t2=0.05, num_neighbors=1, mode='ascl'),
                 queue_len: int = 4096,
                 feat_dim: int = 128,
                 momentum: float = 0.99,
                 query_view: int = 1,
                 key_view: int = 0,
                 init_cfg: Optional[dict] = None,
                 **kwargs) -> None:
        super().__init__(backbone, neck, head=head, queue_len=queue_len, feat_dim=feat_dim, momentum=momentum,
                         query_view=query_view, key_view=key_view, init_cfg=init_cfg, **kwargs)
