"""How :class:`DomainAdaptiveTeacher` builds the two views its contrastive losses compare.

``RoIBoxPairViews`` is the ``contrast.views`` part of the detector's config::

    contrast=dict(
        views=dict(type='mmcontrast.RoIBoxPairViews', target='cls_score', boxes=('pseudo', 'proposals'),
                   pseudo_thr=None, num_proposals=64, min_box_wh=(4.0, 4.0)),
        losses=dict(pcl=dict(type='mmcontrast.PCLLoss', scale=20.0, loss_weight=0.1)))

It picks boxes in the weak target view (teacher pseudo-boxes and/or teacher RPN
proposals), projects them into the strong view, keeps the pairs that are large
enough in both, and reads the student's RoI-head outputs for them. The detector
then calls every loss as ``loss(outputs_weak [N, D], outputs_strong [N, D])``.
"""
from typing import Any, List, Optional, Sequence, Tuple

import torch
from mmdet.structures import SampleList
from mmdet.structures.bbox import bbox2roi, bbox_project
from mmengine.structures import InstanceData
from torch import Tensor, nn

from mmcontrast.models.utils import Source, TapRecorder
from mmcontrast.registry import MODELS

# The classifier fc's input is the RoI feature FCL contrasts; tapped relative to the bbox head.
_ROI_FEAT_SOURCE = Source.parse('fc_cls:input')


@MODELS.register_module()
class RoIBoxPairViews:
    """Pairs of the same boxes in the weak and strong target views, and the RoI outputs for them.

    Holds no parameters; the detector builds it from ``contrast['views']``.

    Args:
        target (str): What the losses compare. 'cls_score': RoI class logits
            (C+1 with background; PCL turns them into probabilities).
            'roi_feat': the input of the classifier fc (for FCL). Defaults to
            'cls_score'.
        boxes (Sequence[str]): Any of 'pseudo' (teacher boxes with score >=
            ``pseudo_thr``) and 'proposals' (random teacher RPN proposals).
            Defaults to ('pseudo', 'proposals').
        pseudo_thr (float, optional): Teacher score threshold of the 'pseudo'
            boxes. None uses the detector's ``cls_pseudo_thr``. Defaults to None.
        num_proposals (int): Proposals sampled per image. Defaults to 64.
        min_box_wh (Tuple[float, float]): Pairs where the box is smaller than
            this (pixels) in either view after projection are dropped (e.g.
            cropped away in the strong view). Defaults to (4.0, 4.0).
    """

    TARGETS = ('cls_score', 'roi_feat')
    BOXES = ('pseudo', 'proposals')
    DEFAULTS = dict(target='cls_score', boxes=BOXES, pseudo_thr=None, num_proposals=64, min_box_wh=(4.0, 4.0))

    def __init__(self,
                 target: str = 'cls_score',
                 boxes: Sequence[str] = BOXES,
                 pseudo_thr: Optional[float] = None,
                 num_proposals: int = 64,
                 min_box_wh: Tuple[float, float] = (4.0, 4.0),
                 **unknown: Any) -> None:
        # ``**unknown`` only exists to turn a typo into an error that lists the valid keys,
        # instead of Python's "unexpected keyword argument".
        if unknown:
            raise ValueError(f'unknown contrast.views keys {sorted(unknown)} for RoIBoxPairViews; '
                             f'valid: {sorted(self.DEFAULTS)}')
        if target not in self.TARGETS:
            raise ValueError(f'contrast.views.target must be one of {self.TARGETS}, got {target!r}')
        boxes = (boxes, ) if isinstance(boxes, str) else tuple(boxes)
        if not boxes or not set(boxes) <= set(self.BOXES):
            raise ValueError(f'contrast.views.boxes must be a non-empty subset of {self.BOXES}, got {boxes}')
        if pseudo_thr is not None and not 0.0 <= pseudo_thr <= 1.0:
            raise ValueError(f'contrast.views.pseudo_thr must be in [0, 1] or None, got {pseudo_thr}')
        if not isinstance(num_proposals, int) or num_proposals < 0:
            raise ValueError(f'contrast.views.num_proposals must be an int >= 0, got {num_proposals!r}')
        if len(min_box_wh) != 2:
            raise ValueError(f'contrast.views.min_box_wh must be (width, height), got {min_box_wh!r}')
        self.target = target
        self.boxes = boxes
        self.pseudo_thr = pseudo_thr
        self.num_proposals = num_proposals
        self.min_box_wh = tuple(min_box_wh)

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(target={self.target!r}, boxes={self.boxes}, pseudo_thr={self.pseudo_thr}, '
                f'num_proposals={self.num_proposals}, min_box_wh={self.min_box_wh})')

    def check_bbox_head(self, bbox_head: nn.Module) -> None:
        """Fail at build time if the student's bbox head cannot give what ``target`` needs.

        Args:
            bbox_head (nn.Module): The student's RoI bbox head.
        """
        if self.target == 'cls_score' and (bbox_head.custom_cls_channels
                                           or bbox_head.fc_cls.out_features != bbox_head.num_classes + 1):
            raise ValueError('PCL on RoI class probabilities (contrast.views.target="cls_score") needs a softmax '
                             f'classifier with num_classes + 1 = {bbox_head.num_classes + 1} outputs '
                             '(background last)')

    def select_boxes(self, result: InstanceData, proposal: InstanceData, default_pseudo_thr: float) -> Tensor:
        """Weak-view boxes of one image.

        Args:
            result (InstanceData): Teacher detections (``bboxes``, ``scores``) in
                weak-view coordinates.
            proposal (InstanceData): Teacher RPN proposals in weak-view coordinates.
            default_pseudo_thr (float): Threshold used when ``pseudo_thr`` is None.

        Returns:
            Tensor: Boxes ``[K, 4]``: pseudo-boxes first, then sampled proposals.
        """
        boxes = [result.bboxes.new_zeros((0, 4))]
        if 'pseudo' in self.boxes:
            thr = default_pseudo_thr if self.pseudo_thr is None else self.pseudo_thr
            boxes.append(result.bboxes[result.scores >= thr])
        if 'proposals' in self.boxes:
            num = min(self.num_proposals, len(proposal))
            index = torch.randperm(len(proposal), device=proposal.bboxes.device)[:num]
            boxes.append(proposal.bboxes[index])
        return torch.cat(boxes)

    def pair_boxes(self, contrast_boxes: Sequence[Tensor], weak_samples: SampleList,
                   strong_samples: SampleList) -> Tuple[List[Tensor], List[Tensor]]:
        """Project weak-view boxes into the strong view and keep the pairs large enough in both.

        Boxes go to the strong view through ``H_strong @ inv(H_weak)`` (both
        homographies map the original image to the view).

        Args:
            contrast_boxes (Sequence[Tensor]): Per image, weak-view boxes ``[K, 4]``.
            weak_samples (list[DetDataSample]): Weak-view samples (``homography_matrix``).
            strong_samples (list[DetDataSample]): Strong-view samples
                (``homography_matrix``, ``img_shape``).

        Returns:
            tuple[list[Tensor], list[Tensor]]: Per image, the kept boxes in the
            weak view and the same boxes in the strong view.
        """
        min_w, min_h = self.min_box_wh
        weak_boxes, strong_boxes = [], []
        for boxes, weak, strong in zip(contrast_boxes, weak_samples, strong_samples):
            weak_to_strong = (torch.from_numpy(strong.homography_matrix).to(boxes)
                              @ torch.from_numpy(weak.homography_matrix).to(boxes).inverse())
            # teacher boxes and proposals are already clipped to the weak view
            in_strong = bbox_project(boxes, weak_to_strong, strong.img_shape)
            keep = torch.ones(len(boxes), dtype=torch.bool, device=boxes.device)
            for view in (boxes, in_strong):
                keep &= (view[:, 2] - view[:, 0] >= min_w) & (view[:, 3] - view[:, 1] >= min_h)
            weak_boxes.append(boxes[keep])
            strong_boxes.append(in_strong[keep])
        return weak_boxes, strong_boxes

    def roi_outputs(self, roi_head: nn.Module, feats: Tuple[Tensor], boxes: List[Tensor]) -> Tensor:
        """RoI-head class logits ``[N, C+1]`` or classifier-input features ``[N, D]`` for ``boxes``.

        Args:
            roi_head (nn.Module): The student's RoI head.
            feats (tuple[Tensor]): The student's FPN features of one view.
            boxes (list[Tensor]): Per image, boxes in that view.

        Returns:
            Tensor: One row per box, images concatenated in order.
        """
        rois = bbox2roi(boxes)
        if self.target == 'cls_score':
            return roi_head._bbox_forward(feats, rois)['cls_score']
        # Hooks live only for this forward, so copies of the student (EMA, deepcopy) never carry them.
        recorder = TapRecorder(roi_head.bbox_head, [_ROI_FEAT_SOURCE])
        try:
            with recorder.recording():
                roi_head._bbox_forward(feats, rois)
            return recorder.get(_ROI_FEAT_SOURCE).flatten(1)
        finally:
            recorder.remove()
