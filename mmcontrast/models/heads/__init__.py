from .contrastive_head import ContrastiveHead
from .contrastive_roi_head import ContrastiveRoIHead  # noqa: F401
from .latent_pred_head import LatentPredictHead
from .linear_cls_head import LinearClsHead
