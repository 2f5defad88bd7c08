"""SimSiam: Chen & He, "Exploring Simple Siamese Representation Learning", CVPR 2021."""
from typing import Dict, List, Optional

from mmengine.structures import BaseDataElement
from torch import Tensor

from mmcontrast.registry import MODELS
from .base import BaseSelfSupervisor


@MODELS.register_module()
class SimSiam(BaseSelfSupervisor):
    """SimSiam: a predictor and a stop-gradient, no momentum encoder, no negatives.

    ``loss = (D(p1, sg(z2)) + D(p2, sg(z1))) / 2`` with ``D = -cos`` (set by the
    head: ``LatentPredictHead(shift=0, scale=1)``). With ``dimcl``, DimCL contrasts
    the projections ``z1, z2`` themselves, with gradient on both (the authors'
    ``z1_ori, z2_ori``), not the predictions nor the stop-gradient targets. The
    official recipe keeps the predictor's learning rate fixed
    (``paramwise_cfg=dict(custom_keys={'head.predictor': dict(fix_lr=True)})`` and
    ``FixedLRHook`` in the configs).

    Args:
        backbone (dict): Backbone config.
        neck (dict): Projector config (3 layers, last BN without affine).
        head (dict): ``LatentPredictHead`` with the predictor.
        dimcl (dict, optional): DimCL config. Defaults to None.
        dimcl_weight (float): Defaults to 0.1.
        data_preprocessor (dict, optional): Defaults to ``SelfSupDataPreprocessor``.
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self,
                 backbone: dict,
                 neck: dict,
                 head: dict,
                 dimcl: Optional[dict] = None,
                 dimcl_weight: float = 0.1,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(backbone, neck, head, dimcl=dimcl, dimcl_weight=dimcl_weight,
                         data_preprocessor=data_preprocessor, init_cfg=init_cfg)

    def loss(self, inputs: List[Tensor], data_samples: Optional[List[BaseDataElement]] = None) -> Dict[str, Tensor]:
        z1 = self.neck(self.backbone(inputs[0]))
        z2 = self.neck(self.backbone(inputs[1]))
        p1, p2 = self.head(z1), self.head(z2)
        t1, t2 = z1.detach(), z2.detach()
        simsiam = 0.5 * (self.head.loss(p1, t2) + self.head.loss(p2, t1))
        return self.mix_dimcl(simsiam, z1, z2)
