"""BYOL: Grill et al., "Bootstrap Your Own Latent", NeurIPS 2020."""
from typing import Dict, List, Optional

import torch
from mmengine.structures import BaseDataElement
from torch import Tensor

from mmcontrast.registry import MODELS
from .base import BaseSelfSupervisor
from .ema import CosineEMA, EncoderPair, paper_momentum_to_mmengine


@MODELS.register_module()
class BYOL(BaseSelfSupervisor):
    """BYOL: the online predictor regresses the target network's projection.

    ``loss = D(p1, z2') + D(p2, z1')`` with ``p`` the online predictions, ``z'``
    the target projections (an EMA of backbone + projector whose momentum rises
    from ``base_momentum`` to ``end_momentum`` on a cosine; it keeps its own BN
    statistics) and ``D = 2 - 2 cos``. With ``dimcl``, DimCL contrasts the online
    projections ``z1, z2`` of the two views (the authors' ``Z[0], Z[1]``), so its
    gradient reaches the projector of both views and never passes the predictor.

    Args:
        backbone (dict): Backbone config.
        neck (dict): Projector config (``fc-BN-ReLU-fc``).
        head (dict): ``LatentPredictHead`` with the predictor.
        base_momentum (float): Paper momentum at the start. Defaults to 0.996.
        end_momentum (float): Paper momentum at the end. Defaults to 1.0.
        dimcl (dict, optional): DimCL config. Defaults to None.
        dimcl_weight (float): Defaults to 0.1.
        data_preprocessor (dict, optional): Defaults to ``SelfSupDataPreprocessor``.
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self,
                 backbone: dict,
                 neck: dict,
                 head: dict,
                 base_momentum: float = 0.996,
                 end_momentum: float = 1.0,
                 dimcl: Optional[dict] = None,
                 dimcl_weight: float = 0.1,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(backbone, neck, head, dimcl=dimcl, dimcl_weight=dimcl_weight,
                         data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.target_net = CosineEMA(
            EncoderPair(self.backbone, self.neck),
            momentum=paper_momentum_to_mmengine(base_momentum),
            end_momentum=paper_momentum_to_mmengine(end_momentum))

    def loss(self, inputs: List[Tensor], data_samples: Optional[List[BaseDataElement]] = None) -> Dict[str, Tensor]:
        v1, v2 = inputs[0], inputs[1]
        z1, z2 = self.neck(self.backbone(v1)), self.neck(self.backbone(v2))
        p1, p2 = self.head(z1), self.head(z2)
        with torch.no_grad():
            self.target_net.update_parameters(EncoderPair(self.backbone, self.neck))
            t1, t2 = self.target_net(v1), self.target_net(v2)
        byol = self.head.loss(p1, t2) + self.head.loss(p2, t1)
        return self.mix_dimcl(byol, z1, z2)
