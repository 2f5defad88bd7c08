"""Faster R-CNN RoI head with a contrastive proposal encoding branch (FSCE-style).

Sun et al., "FSCE: Few-Shot Object Detection via Contrastive Proposal Encoding",
CVPR 2021: a projection branch maps the RoI features of foreground proposals to a
contrastive embedding, and a supervised contrastive loss over their assigned
labels (here ``SupConLoss`` or ``RankedSupConLoss``) is added to the detection
losses. Only proposals whose IoU with their ground truth reaches a threshold
take part, optionally re-weighted by that IoU.
"""
import inspect
from typing import List, Optional, Tuple

import torch
from mmdet.models.roi_heads import StandardRoIHead
from mmdet.models.task_modules.samplers import SamplingResult
from mmdet.structures.bbox import bbox_overlaps
from torch import Tensor

from mmcontrast.registry import MODELS

_REWEIGHTS = ('none', 'linear', 'exp')


@MODELS.register_module()
class ContrastiveRoIHead(StandardRoIHead):
    """:class:`StandardRoIHead` plus a contrastive loss on foreground RoI features.

    The RoI feature is the input of the bbox head's classifier (``fc_cls``),
    i.e. the output of the shared FCs of a ``Shared2FCBBoxHead``; the stock bbox
    head is used unchanged. A projection MLP (``contrast_head``) maps it to the
    embedding the loss sees. Proposals count when they are positives of the
    RoI sampler and their IoU with the assigned ground truth is at least
    ``iou_threshold``; their label is the assigned ground-truth label.

    Args:
        contrast_head (dict): :class:`ProjectionMLP` arguments; ``in_channels``
            defaults to the classifier's input features. Defaults to
            ``dict(out_channels=128)``.
        loss_contrast (dict): Loss taking ``(features, labels)`` (and
            ``weight`` when ``iou_reweight`` is not ``'none'``), e.g.
            ``SupConLoss`` or ``RankedSupConLoss``. Logged as ``loss_contrast``.
            Defaults to ``dict(type='mmcontrast.SupConLoss', temperature=0.2,
            loss_weight=0.5)`` (FSCE's tau and weight).
        iou_threshold (float): Minimum IoU of a proposal with its assigned
            ground truth to enter the loss. Defaults to 0.7 (FSCE).
        iou_reweight (str): Per-proposal weight g(IoU): ``'none'`` (1),
            ``'linear'`` (IoU) or ``'exp'`` (exp(IoU) - 1, normalised to 1 at
            IoU 1). Defaults to ``'none'``.
        **kwargs: Arguments of :class:`StandardRoIHead`.
    """

    def __init__(self,
                 *args,
                 contrast_head: Optional[dict] = None,
                 loss_contrast: Optional[dict] = None,
                 iou_threshold: float = 0.7,
                 iou_reweight: str = 'none',
                 **kwargs) -> None:
        super().__init__(*args, **kwargs)
        fc_cls = getattr(self.bbox_head, 'fc_cls', None)
        if not isinstance(fc_cls, torch.nn.Linear):
            raise ValueError(f'ContrastiveRoIHead reads the input of bbox_head.fc_cls; '
                             f'{type(self.bbox_head).__name__} has {type(fc_cls).__name__} there')
        if not 0.0 <= iou_threshold <= 1.0:
            raise ValueError(f'ContrastiveRoIHead: iou_threshold must be in [0, 1], got {iou_threshold}')
        if iou_reweight not in _REWEIGHTS:
            raise ValueError(f'ContrastiveRoIHead: iou_reweight must be one of {_REWEIGHTS}, got {iou_reweight!r}')
        contrast_head = dict(contrast_head or dict(out_channels=128))
        contrast_head.setdefault('type', 'mmcontrast.ProjectionMLP')
        contrast_head.setdefault('in_channels', fc_cls.in_features)
        if contrast_head['in_channels'] != fc_cls.in_features:
            raise ValueError(f'ContrastiveRoIHead: contrast_head.in_channels={contrast_head["in_channels"]} but '
                             f'bbox_head.fc_cls takes {fc_cls.in_features} features')
        self.contrast_head = MODELS.build(contrast_head)
        self.loss_contrast = MODELS.build(
            loss_contrast or dict(type='mmcontrast.SupConLoss', temperature=0.2, loss_weight=0.5))
        self.iou_threshold = iou_threshold
        self.iou_reweight = iou_reweight
        if iou_reweight != 'none' and 'weight' not in inspect.signature(self.loss_contrast.forward).parameters:
            raise ValueError(f"ContrastiveRoIHead: iou_reweight={iou_reweight!r} needs a loss that takes per-sample "
                             f"'weight'; {type(self.loss_contrast).__name__}.forward does not")
        self._roi_feats = None
        # The stock bbox head stays untouched: read its classifier input with a pre-hook.
        self.bbox_head.fc_cls.register_forward_pre_hook(self._keep_roi_feats)

    def _keep_roi_feats(self, module: torch.nn.Module, args: Tuple[Tensor]) -> None:
        if self.training:
            self._roi_feats = args[0]

    def _weights(self, ious: Tensor) -> Tensor:
        if self.iou_reweight == 'linear':
            return ious
        if self.iou_reweight == 'exp':
            return (ious.exp() - 1) / (torch.e - 1)
        return torch.ones_like(ious)

    def contrast_targets(self, sampling_results: List[SamplingResult]) -> Tuple[Tensor, Tensor, Tensor]:
        """Rows of the sampled RoIs that enter the contrastive loss.

        Args:
            sampling_results (List[SamplingResult]): Per-image samples, in the
                order ``bbox2roi([res.priors ...])`` stacked them.

        Returns:
            Tuple[Tensor, Tensor, Tensor]: Row indices into the stacked RoIs,
            their assigned labels and their weights.
        """
        rows, labels, ious = [], [], []
        offset = 0
        for res in sampling_results:
            num_pos = res.pos_priors.shape[0]
            if num_pos:
                rows.append(torch.arange(offset, offset + num_pos, device=res.pos_priors.device))
                labels.append(res.pos_gt_labels)
                ious.append(bbox_overlaps(res.pos_priors, res.pos_gt_bboxes, is_aligned=True))
            offset += num_pos + res.neg_priors.shape[0]
        if not rows:
            device = sampling_results[0].pos_priors.device
            empty = torch.zeros(0, device=device)
            return empty.long(), empty.long(), empty
        rows, labels, ious = torch.cat(rows), torch.cat(labels), torch.cat(ious)
        keep = ious >= self.iou_threshold
        return rows[keep], labels[keep], self._weights(ious[keep])

    def bbox_loss(self, x: Tuple[Tensor], sampling_results: List[SamplingResult]) -> dict:
        """Standard bbox losses plus ``loss_contrast``."""
        self._roi_feats = None
        bbox_results = super().bbox_loss(x, sampling_results)
        feats, self._roi_feats = self._roi_feats, None
        rows, labels, weights = self.contrast_targets(sampling_results)
        embeddings = self.contrast_head(feats[rows])
        kwargs = dict(weight=weights) if self.iou_reweight != 'none' else {}
        # SupCon gives a graph-connected zero when fewer than two rows share a label.
        bbox_results['loss_bbox']['loss_contrast'] = self.loss_contrast(embeddings, labels, **kwargs)
        return bbox_results
