"""Predictor + negative cosine loss of BYOL and SimSiam."""
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import Tensor

from mmcontrast.registry import MODELS
from mmcontrast.utils.scope import build_in_scope


@MODELS.register_module()
class LatentPredictHead(BaseModule):
    """Predict the target's latent from the online latent; ``shift - scale * cos``.

    BYOL uses ``shift=2, scale=2`` (``||p/|p| - z/|z| ||^2``), SimSiam ``shift=0,
    scale=1`` (negative cosine). The target never receives gradients.

    Args:
        predictor (dict): The predictor MLP config (e.g. ``NonLinearNeck``).
        shift (float): Defaults to 2.0.
        scale (float): Defaults to 2.0.
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self, predictor: dict, shift: float = 2.0, scale: float = 2.0, init_cfg=None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.predictor = build_in_scope(predictor)
        self.shift, self.scale = shift, scale

    def forward(self, z: Tensor) -> Tensor:
        """The prediction ``p`` of an online latent ``z`` ``[N, D]``."""
        return self.predictor(z)

    def loss(self, pred: Tensor, target: Tensor) -> Tensor:
        """Mean loss of predictions ``[N, D]`` against (detached) targets ``[N, D]``."""
        if pred.shape != target.shape:
            raise ValueError(f'pred {tuple(pred.shape)} and target {tuple(target.shape)} must match')
        cos = F.cosine_similarity(pred.float(), target.detach().float(), dim=1)
        return (self.shift - self.scale * cos).mean()
