"""Linear classification head (classifiers, linear probes)."""
from typing import Dict, List, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule
from mmengine.structures import BaseDataElement
from torch import Tensor

from mmcontrast.registry import MODELS
from mmcontrast.utils.scope import build_in_scope


def stack_gt_labels(data_samples: Sequence[BaseDataElement], device: torch.device) -> Tensor:
    """``[B]`` long labels of the samples; raises if one has none."""
    if any('gt_label' not in s for s in data_samples):
        raise KeyError('every data sample needs gt_label (PackClsInputs sets it from the dataset)')
    return torch.stack([s.gt_label.reshape(()) for s in data_samples]).long().to(device)


@MODELS.register_module()
class LinearClsHead(BaseModule):
    """One linear layer on pooled features, trained with cross-entropy.

    Args:
        num_classes (int): Number of classes.
        in_channels (int): Width of the pooled feature.
        loss (dict): Classification loss config, called as
            ``loss(logits, labels)``. Defaults to mmdet's ``CrossEntropyLoss``.
        topk (Sequence[int]): Accuracies logged with the loss. Defaults to (1, ).
        init_cfg (dict, optional): Defaults to ``Normal(std=0.01)`` on the linear
            layer, bias 0 (the linear-probe protocol of MoCo).
    """

    def __init__(self,
                 num_classes: int,
                 in_channels: int,
                 loss: dict = dict(type='mmdet.CrossEntropyLoss', loss_weight=1.0),
                 topk: Sequence[int] = (1, ),
                 init_cfg: dict = dict(type='Normal', layer='Linear', std=0.01, bias=0.)) -> None:
        super().__init__(init_cfg=init_cfg)
        if num_classes <= 0:
            raise ValueError(f'num_classes must be positive, got {num_classes}')
        self.num_classes = num_classes
        self.topk = tuple(topk)
        self.fc = nn.Linear(in_channels, num_classes)
        self.loss_module = build_in_scope(loss)

    def forward(self, feats: Tensor) -> Tensor:
        """``[B, in_channels] -> [B, num_classes]`` logits."""
        return self.fc(feats)

    def loss(self, feats: Tensor, data_samples: List[BaseDataElement]) -> Dict[str, Tensor]:
        logits = self(feats)
        labels = stack_gt_labels(data_samples, logits.device)
        if labels.min() < 0 or labels.max() >= self.num_classes:
            raise ValueError(f'labels must lie in [0, {self.num_classes}), got range '
                             f'[{int(labels.min())}, {int(labels.max())}]')
        losses = dict(loss=self.loss_module(logits, labels))
        with torch.no_grad():
            for k, acc in zip(self.topk, topk_accuracy(logits, labels, self.topk)):
                losses[f'accuracy_top-{k}'] = acc
        return losses

    def predict(self, feats: Tensor, data_samples: List[BaseDataElement]) -> List[BaseDataElement]:
        scores = F.softmax(self(feats), dim=1)
        for sample, score in zip(data_samples, scores):
            sample.pred_score = score.detach()
            sample.pred_label = score.argmax().detach()
        return data_samples


def topk_accuracy(scores: Tensor, labels: Tensor, topk: Tuple[int, ...] = (1, )) -> List[Tensor]:
    """Top-k accuracies in percent of ``[N, C]`` scores against ``[N]`` labels."""
    if scores.dim() != 2 or labels.shape != scores.shape[:1]:
        raise ValueError(f'need scores [N, C] and labels [N], got {tuple(scores.shape)}, {tuple(labels.shape)}')
    maxk = min(max(topk), scores.shape[1])
    pred = scores.topk(maxk, dim=1).indices
    correct = pred == labels[:, None]
    n = max(labels.numel(), 1)
    return [correct[:, :min(k, maxk)].any(1).float().sum() * (100.0 / n) for k in topk]
