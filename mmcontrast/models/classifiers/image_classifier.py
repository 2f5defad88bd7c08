"""Backbone + neck + head image classifier (supervised training and linear probes)."""
from typing import Dict, List, Optional, Union

import torch
from mmengine.model import BaseModel
from mmengine.structures import BaseDataElement
from torch import Tensor

from mmcontrast.registry import MODELS
from mmcontrast.utils.scope import build_in_scope


@MODELS.register_module()
class ImageClassifier(BaseModel):
    """An image classifier: ``head(neck(backbone(x)))``.

    With ``frozen=True`` (the linear-probe protocol) the backbone runs in eval mode
    (BN statistics frozen) without gradients, and only the neck and head train.
    Load pretrained weights through the backbone's ``init_cfg``, e.g.
    ``dict(type='Pretrained', checkpoint='pretrain.pth', prefix='backbone.')``.

    Args:
        backbone (dict): Backbone config, e.g. ``dict(type='mmdet.ResNet', depth=50)``
            or ``dict(type='ResNetCIFAR', depth=18)``.
        head (dict): Head config, e.g. ``LinearClsHead``.
        neck (dict, optional): Defaults to ``GlobalAveragePooling``.
        frozen (bool): Freeze the backbone. Defaults to False.
        data_preprocessor (dict, optional): Defaults to mmengine's
            ``ImgDataPreprocessor`` with ImageNet mean/std and ``bgr_to_rgb=True``.
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self,
                 backbone: dict,
                 head: dict,
                 neck: Optional[dict] = dict(type='GlobalAveragePooling'),
                 frozen: bool = False,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        if data_preprocessor is None:
            data_preprocessor = dict(type='ImgDataPreprocessor', mean=[123.675, 116.28, 103.53],
                                     std=[58.395, 57.12, 57.375], bgr_to_rgb=True)
        if isinstance(data_preprocessor, dict):  # our registry also finds mmengine's preprocessors
            data_preprocessor = build_in_scope(data_preprocessor)
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.backbone = build_in_scope(backbone)
        self.neck = build_in_scope(neck)
        self.head = build_in_scope(head)
        self.frozen = frozen
        if frozen:
            self.backbone.requires_grad_(False)
            self.backbone.eval()

    def train(self, mode: bool = True) -> 'ImageClassifier':
        super().train(mode)
        if self.frozen:
            self.backbone.eval()
        return self

    def extract_feat(self, inputs: Tensor) -> Tensor:
        """Pooled features ``[B, C]`` (the neck's output) of normalised images."""
        with torch.set_grad_enabled(torch.is_grad_enabled() and not self.frozen):
            x = self.backbone(inputs)
        return self.neck(x) if self.neck is not None else x

    def forward(self,
                inputs: Tensor,
                data_samples: Optional[List[BaseDataElement]] = None,
                mode: str = 'tensor') -> Union[Tensor, Dict[str, Tensor], List[BaseDataElement]]:
        """``mode``: ``'tensor'`` (logits), ``'loss'`` or ``'predict'``."""
        if mode == 'tensor':
            return self.head(self.extract_feat(inputs))
        if mode == 'loss':
            return self.head.loss(self.extract_feat(inputs), data_samples)
        if mode == 'predict':
            if data_samples is None:
                data_samples = [BaseDataElement() for _ in range(inputs.shape[0])]
            return self.head.predict(self.extract_feat(inputs), data_samples)
        raise ValueError(f"mode must be 'tensor', 'loss' or 'predict', got {mode!r}")
