"""Base class of the self-supervised pretraining algorithms."""
from abc import abstractmethod
from typing import Dict, List, Optional, Tuple, Union

from mmengine.model import BaseModel
from mmengine.structures import BaseDataElement
from torch import Tensor

from mmcontrast.utils.scope import build_in_scope


class BaseSelfSupervisor(BaseModel):
    """Backbone + neck + head trained without labels on several views.

    Subclasses implement :meth:`loss`. ``forward(mode='tensor')`` returns the
    backbone features of the (first) view, so the pretrained backbone is always at
    ``self.backbone`` and its checkpoint keys are ``backbone.*``, as mmdet and
    mmseg expect (see ``tools/model_converters/extract_backbone.py``).

    DimCL (Nguyen et al., 2023) is an option of every algorithm:
    ``loss = (1 - dimcl_weight) * L_method + dimcl_weight * L_dimcl``, where
    ``L_dimcl`` contrasts the feature *dimensions* of the online projector outputs
    of the two views, both with gradient, as the authors' code does (BYOL
    ``Z[0], Z[1]``, MoCo v2+ ``q1_ori, q2_ori``, SimSiam ``z1_ori, z2_ori`` in
    thanhkaist/DimCL ``solo/methods/{byol,mocov2plus,simsiam}.py``): never a
    momentum/stop-gradient target, never a predictor output.

    Args:
        backbone (dict): Backbone config (``mmdet.ResNet``, ``ResNetCIFAR`` ...).
        neck (dict, optional): Projector config.
        head (dict, optional): Head (loss) config.
        dimcl (dict, optional): DimCL loss config, e.g.
            ``dict(type='DimCLLoss', temperature=0.1)``. Defaults to None (off).
        dimcl_weight (float): ``lam`` of DimCL. Defaults to 0.1.
        data_preprocessor (dict, optional): Defaults to ``SelfSupDataPreprocessor``.
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self,
                 backbone: dict,
                 neck: Optional[dict] = None,
                 head: Optional[dict] = None,
                 dimcl: Optional[dict] = None,
                 dimcl_weight: float = 0.1,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        if data_preprocessor is None:
            data_preprocessor = dict(type='SelfSupDataPreprocessor')
        if isinstance(data_preprocessor, dict):  # our registry also finds mmengine's preprocessors
            data_preprocessor = build_in_scope(data_preprocessor)
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.backbone = build_in_scope(backbone)
        self.neck = build_in_scope(neck)
        self.head = build_in_scope(head)
        if not 0 <= dimcl_weight <= 1:
            raise ValueError(f'dimcl_weight must be in [0, 1], got {dimcl_weight}')
        self.dimcl = build_in_scope(dimcl)
        self.dimcl_weight = dimcl_weight

    def extract_feat(self, inputs: Tensor) -> Tuple[Tensor, ...]:
        """Backbone feature maps of a ``[B, C, H, W]`` batch."""
        return self.backbone(inputs)

    def forward(self,
                inputs: Union[Tensor, List[Tensor]],
                data_samples: Optional[List[BaseDataElement]] = None,
                mode: str = 'tensor'):
        """``mode='loss'`` trains; ``'tensor'`` returns backbone features of view 0."""
        if mode == 'loss':
            views = self._check_views(inputs)
            return self.loss(views, data_samples)
        if mode == 'tensor':
            return self.extract_feat(inputs if isinstance(inputs, Tensor) else inputs[0])
        raise ValueError(f"{type(self).__name__} supports mode 'loss' and 'tensor', got {mode!r} "
                         '(evaluate pretraining with KNNMonitorHook or a linear probe)')

    def _check_views(self, inputs) -> List[Tensor]:
        min_views = getattr(self, 'min_views', 2)
        if isinstance(inputs, Tensor) or len(inputs) < min_views:
            got = 1 if isinstance(inputs, Tensor) else len(inputs)
            raise ValueError(f'{type(self).__name__} needs {min_views} views per image, got {got}: use '
                             'MultiView and PackSelfSupInputs in the pipeline')
        return list(inputs)

    @abstractmethod
    def loss(self, inputs: List[Tensor], data_samples: Optional[List[BaseDataElement]]) -> Dict[str, Tensor]:
        """Losses of a list of ``[B, C, H, W]`` views."""

    def mix_dimcl(self, method_loss: Tensor, z1: Tensor, z2: Tensor) -> Dict[str, Tensor]:
        """Return the method's loss, with DimCL mixed in when it is configured.

        Args:
            method_loss (Tensor): The algorithm's own scalar loss.
            z1 (Tensor): ``[N, D]`` online projector outputs of the first view.
            z2 (Tensor): ``[N, D]`` online projector outputs of the second view.

        Returns:
            dict: ``loss`` (weighted by ``1 - lam`` under DimCL) and, with DimCL,
            ``loss_dimcl`` (weighted by ``lam``).
        """
        if self.dimcl is None:
            return dict(loss=method_loss)
        return dict(loss=(1 - self.dimcl_weight) * method_loss, loss_dimcl=self.dimcl_weight * self.dimcl(z1, z2))
