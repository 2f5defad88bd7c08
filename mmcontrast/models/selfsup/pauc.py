"""PAUC: Mo et al., "Rethinking Prototypical Contrastive Learning through Alignment, Uniformity and
Correlation", BMVC 2022."""
from mmcontrast.registry import MODELS
from .protonce import ProtoNCE


@MODELS.register_module()
class PAUC(ProtoNCE):
    """ProtoNCE whose loss adds alignment, uniformity and correlation on the prototypes.

    The training procedure (momentum encoder, queue, per-epoch multi-granularity
    k-means by ``PrototypeClusteringHook``, warm-up) is ProtoNCE's; only the loss
    differs (``PAUCLoss``; its three extra terms follow our reading of the paper,
    which has no public code, see ``docs/losses.md``).

    Args:
        backbone (dict): Backbone config.
        neck (dict): Projector config.
        head (dict): Defaults to ``PAUCLoss(temperature=0.2)`` with unit weights.
        **kwargs: Other :class:`ProtoNCE` arguments.
    """

    def __init__(self, backbone: dict, neck: dict, head: dict = dict(type='PAUCLoss', temperature=0.2),
                 **kwargs) -> None:
        super().__init__(backbone, neck, head=head, **kwargs)
