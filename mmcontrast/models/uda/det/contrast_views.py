"""How :class:`DomainAdaptiveTeacher` builds the two views its contrastive losses compare.

The ``contrast.views`` part of the detector's config; one class per detector family::

    contrast=dict(
        views=dict(type='mmcontrast.RoIBoxPairViews', target='cls_score', boxes=('pseudo', 'proposals'),
                   pseudo_thr=None, num_proposals=64, min_box_wh=(4.0, 4.0), stages='last'),
        losses=dict(pcl=dict(type='mmcontrast.PCLLoss', scale=20.0, loss_weight=0.1)))

Both pick boxes in the weak target view (teacher pseudo-boxes, for RoI views also teacher
RPN proposals), project them into the strong view, keep the pairs that are large enough
in both, and read the student's outputs for them in each view:

- :class:`RoIBoxPairViews` (two-stage detectors): the RoI head's class logits (C+1 with
  background) or classifier-input features of the boxes, of the last or every stage of a
  cascade.
- :class:`DenseBoxPairViews` (single-stage detectors): the classification logits at the
  locations the head's own assigner gives each box in that view, averaged per box.

A views object provides ``check_student``, ``select_boxes``, ``pair_boxes`` and
``pair_outputs`` (and may set ``weak_grad``, True when absent: whether the student's
forward of the weak view carries gradient); the detector calls every loss as
``loss(outputs_weak [N, D], outputs_strong [N, D])`` for each pair of outputs.

PCL for detection is our design: the paper (Li et al., arXiv:2111.06021) reports detection
results but its detection code was never published.
"""
from typing import Any, List, Optional, Sequence, Tuple

import torch
from mmdet.models.dense_heads import AnchorHead, ATSSHead, FCOSHead, RTMDetHead
from mmdet.models.task_modules.prior_generators import anchor_inside_flags
from mmdet.structures import SampleList
from mmdet.structures.bbox import bbox2roi, bbox_project, distance2bbox
from mmengine.structures import InstanceData
from torch import Tensor, nn

from mmcontrast.models.utils import Source, TapRecorder
from mmcontrast.registry import MODELS

# The classifier fc's input is the RoI feature FCL contrasts; tapped relative to the bbox head.
_ROI_FEAT_SOURCE = Source.parse('fc_cls:input')


def project_pairs(boxes: Sequence[Tensor], weak_samples: SampleList, strong_samples: SampleList,
                  min_box_wh: Tuple[float, float]) -> Tuple[List[Tensor], List[Tensor], List[Tensor]]:
    """Project weak-view boxes into the strong view; keep those large enough in both.

    Boxes go to the strong view through ``H_strong @ inv(H_weak)`` (both homographies map
    the original image to the view).

    Args:
        boxes (Sequence[Tensor]): Per image, weak-view boxes ``[K, 4]``.
        weak_samples (list[DetDataSample]): Weak-view samples (``homography_matrix``).
        strong_samples (list[DetDataSample]): Strong-view samples (``homography_matrix``,
            ``img_shape``).
        min_box_wh (tuple[float, float]): Minimum width and height in both views.

    Returns:
        tuple[list[Tensor], list[Tensor], list[Tensor]]: Per image, the kept boxes in the
        weak view, the same boxes in the strong view, and the boolean keep mask.
    """
    min_w, min_h = min_box_wh
    weak_boxes, strong_boxes, keeps = [], [], []
    for image_boxes, weak, strong in zip(boxes, weak_samples, strong_samples):
        weak_to_strong = (
            torch.from_numpy(strong.homography_matrix).to(image_boxes) @ torch.from_numpy(
                weak.homography_matrix).to(image_boxes).inverse())
        # teacher boxes and proposals are already clipped to the weak view
        in_strong = bbox_project(image_boxes, weak_to_strong, strong.img_shape)
        keep = torch.ones(len(image_boxes), dtype=torch.bool, device=image_boxes.device)
        for view in (image_boxes, in_strong):
            keep &= (view[:, 2] - view[:, 0] >= min_w) & (view[:, 3] - view[:, 1] >= min_h)
        weak_boxes.append(image_boxes[keep])
        strong_boxes.append(in_strong[keep])
        keeps.append(keep)
    return weak_boxes, strong_boxes, keeps


def _check_common(pseudo_thr: Optional[float], min_box_wh: Sequence[float], weak_grad: bool) -> None:
    if not isinstance(weak_grad, bool):
        raise TypeError(f'contrast.views.weak_grad must be a bool, got {weak_grad!r}')
    if pseudo_thr is not None and not 0.0 <= pseudo_thr <= 1.0:
        raise ValueError(f'contrast.views.pseudo_thr must be in [0, 1] or None, got {pseudo_thr}')
    if len(min_box_wh) != 2:
        raise ValueError(f'contrast.views.min_box_wh must be (width, height), got {min_box_wh!r}')


@MODELS.register_module()
class RoIBoxPairViews:
    """Pairs of the same boxes in the weak and strong target views, and the RoI outputs for them.

    For two-stage detectors (``StandardRoIHead``, ``CascadeRoIHead``). Holds no
    parameters; the detector builds it from ``contrast['views']``.

    Args:
        target (str): What the losses compare. 'cls_score': RoI class logits
            (C+1 with background; PCL turns them into probabilities).
            'roi_feat': the input of the classifier fc (for FCL). Defaults to
            'cls_score'.
        boxes (Sequence[str]): The box pool, any of 'pseudo' (teacher boxes with
            score >= ``pseudo_thr``), 'proposals' (``num_proposals`` teacher RPN
            proposals drawn at random: mostly background) and 'balanced_proposals'
            (teacher RPN proposals drawn foreground-balanced, see ``fg_score_thr``
            and ``fg_fraction``; exclusive with 'proposals'). Defaults to
            ('pseudo', 'proposals').
        pseudo_thr (float, optional): Teacher score threshold of the 'pseudo'
            boxes. None uses the detector's ``cls_pseudo_thr``. Defaults to None.
        num_proposals (int): Proposals sampled per image. Defaults to 64.
        min_box_wh (Tuple[float, float]): Pairs where the box is smaller than
            this (pixels) in either view after projection are dropped (e.g.
            cropped away in the strong view). Defaults to (4.0, 4.0).
        fg_score_thr (float): 'balanced_proposals' only: a proposal is foreground
            when the teacher's RoI head gives it a foreground probability
            ``1 - p(background)`` >= this. Defaults to 0.5.
        fg_fraction (float): 'balanced_proposals' only: at most
            ``round(num_proposals * fg_fraction)`` foreground proposals per image,
            and at most ``(1 - fg_fraction) / fg_fraction`` background proposals per
            sampled foreground one (so an image without a foreground proposal adds
            none). Defaults to 0.5 (as many background as foreground proposals).
        stages (str): Which RoI stages of a cascade are contrasted: 'last' (the
            stage whose boxes are the final ones) or 'every' (the loss is averaged
            over the stages). One-stage RoI heads have one stage either way.
            Defaults to 'last'.
        weak_grad (bool): Whether the student's weak-view outputs carry gradient (both
            views are trained, as in the segmentation reproduction mode). False runs
            the weak view's backbone without a graph and contrasts its outputs as
            constants: a named deviation that skips its backward (docs/benchmark.md).
            Defaults to True.
    """

    TARGETS = ('cls_score', 'roi_feat')
    BOXES = ('pseudo', 'proposals', 'balanced_proposals')
    STAGES = ('last', 'every')
    DEFAULTS = dict(
        target='cls_score',
        boxes=('pseudo', 'proposals'),
        pseudo_thr=None,
        num_proposals=64,
        min_box_wh=(4.0, 4.0),
        fg_score_thr=0.5,
        fg_fraction=0.5,
        stages='last',
        weak_grad=True)

    def __init__(self,
                 target: str = 'cls_score',
                 boxes: Sequence[str] = ('pseudo', 'proposals'),
                 pseudo_thr: Optional[float] = None,
                 num_proposals: int = 64,
                 min_box_wh: Tuple[float, float] = (4.0, 4.0),
                 fg_score_thr: float = 0.5,
                 fg_fraction: float = 0.5,
                 stages: str = 'last',
                 weak_grad: bool = True,
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
        if {'proposals', 'balanced_proposals'} <= set(boxes):
            raise ValueError("contrast.views.boxes: 'proposals' (random) and 'balanced_proposals' are two ways of "
                             f'drawing the same teacher proposals; pick one, got {boxes}')
        _check_common(pseudo_thr, min_box_wh, weak_grad)
        if not isinstance(num_proposals, int) or num_proposals < 0:
            raise ValueError(f'contrast.views.num_proposals must be an int >= 0, got {num_proposals!r}')
        if not 0.0 <= fg_score_thr <= 1.0:
            raise ValueError(f'contrast.views.fg_score_thr must be in [0, 1], got {fg_score_thr}')
        if not 0.0 < fg_fraction <= 1.0:
            raise ValueError(f'contrast.views.fg_fraction must be in (0, 1], got {fg_fraction}')
        if stages not in self.STAGES:
            raise ValueError(f'contrast.views.stages must be one of {self.STAGES}, got {stages!r}')
        self.target = target
        self.boxes = boxes
        self.pseudo_thr = pseudo_thr
        self.num_proposals = num_proposals
        self.min_box_wh = tuple(min_box_wh)
        self.fg_score_thr = fg_score_thr
        self.fg_fraction = fg_fraction
        self.stages = stages
        self.weak_grad = weak_grad

    @property
    def needs_proposal_scores(self) -> bool:
        """Whether :meth:`select_boxes` reads the teacher's foreground score of each proposal."""
        return 'balanced_proposals' in self.boxes

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(target={self.target!r}, boxes={self.boxes}, pseudo_thr={self.pseudo_thr}, '
                f'num_proposals={self.num_proposals}, min_box_wh={self.min_box_wh}, '
                f'fg_score_thr={self.fg_score_thr}, fg_fraction={self.fg_fraction}, stages={self.stages!r}, '
                f'weak_grad={self.weak_grad})')

    # ------------------------------------------------------------------ checks
    @staticmethod
    def _bbox_heads(roi_head: nn.Module) -> List[nn.Module]:
        heads = roi_head.bbox_head
        return list(heads) if isinstance(heads, nn.ModuleList) else [heads]

    def check_student(self, student: nn.Module) -> None:
        """Fail at build time if the student cannot give what ``target`` and ``boxes`` need.

        Args:
            student (nn.Module): The student detector.
        """
        roi_head = getattr(student, 'roi_head', None)
        if roi_head is None or not getattr(student, 'with_rpn', False):
            raise TypeError(f'contrast.views: RoIBoxPairViews reads RoI-head outputs of a two-stage detector; '
                            f'{type(student).__name__} has none. Single-stage detectors use '
                            "views=dict(type='mmcontrast.DenseBoxPairViews')")
        # The classifier of the contrasted stages must be softmax over C+1 for PCL; the foreground score of
        # 'balanced_proposals' is read from stage 0.
        checked = list(self._stage_indices(roi_head)) if self.target == 'cls_score' else []
        if self.needs_proposal_scores:
            checked.append(0)
        heads = self._bbox_heads(roi_head)
        for index in sorted(set(checked)):
            head = heads[index]
            if head.custom_cls_channels or head.fc_cls is None or head.fc_cls.out_features != head.num_classes + 1:
                what = ('PCL on RoI class probabilities (contrast.views.target="cls_score")'
                        if index in self._stage_indices(roi_head) and self.target == 'cls_score' else
                        "the teacher's foreground score of 'balanced_proposals'")
                raise ValueError(f'{what} needs a softmax classifier with num_classes + 1 = {head.num_classes + 1} '
                                 f'outputs (background last) in RoI stage {index}')

    def _stage_indices(self, roi_head: nn.Module) -> Sequence[int]:
        num_stages = len(self._bbox_heads(roi_head))
        return range(num_stages) if self.stages == 'every' else (num_stages - 1, )

    # ------------------------------------------------------------------ boxes
    def select_boxes(self, result: InstanceData, proposal: Optional[InstanceData], default_pseudo_thr: float) -> Tensor:
        """Weak-view boxes of one image.

        Args:
            result (InstanceData): Teacher detections (``bboxes``, ``scores``) in
                weak-view coordinates.
            proposal (InstanceData): Teacher RPN proposals in weak-view coordinates;
                with 'balanced_proposals' also ``fg_scores`` (the teacher's
                foreground probability of each proposal).
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
        if 'balanced_proposals' in self.boxes:
            boxes.append(proposal.bboxes[self._balanced_index(proposal)])
        return torch.cat(boxes)

    def _balanced_index(self, proposal: InstanceData) -> Tensor:
        """Indices of foreground-balanced proposals (see ``fg_score_thr``, ``fg_fraction``)."""
        if 'fg_scores' not in proposal:
            raise KeyError("contrast.views.boxes='balanced_proposals' needs the teacher's foreground score of "
                           'every proposal (proposal.fg_scores); DomainAdaptiveTeacher records it when the views '
                           'report needs_proposal_scores')
        is_fg = proposal.fg_scores >= self.fg_score_thr
        fg = is_fg.nonzero().squeeze(1)
        bg = (~is_fg).nonzero().squeeze(1)
        num_fg = min(len(fg), round(self.num_proposals * self.fg_fraction))
        # Background may fill the rest of num_proposals, but never outnumber the foreground beyond the
        # set ratio: with few confident regions the pool would otherwise be background again.
        num_bg = min(len(bg), self.num_proposals - num_fg, round(num_fg * (1.0 - self.fg_fraction) / self.fg_fraction))
        fg = fg[torch.randperm(len(fg), device=fg.device)[:num_fg]]
        bg = bg[torch.randperm(len(bg), device=bg.device)[:num_bg]]
        return torch.cat([fg, bg])

    def pair_boxes(self, contrast_boxes: Sequence[Tensor], weak_samples: SampleList,
                   strong_samples: SampleList) -> Tuple[List[Tensor], List[Tensor]]:
        """Project weak-view boxes into the strong view and keep the pairs large enough in both.

        Args:
            contrast_boxes (Sequence[Tensor]): Per image, weak-view boxes ``[K, 4]``.
            weak_samples (list[DetDataSample]): Weak-view samples (``homography_matrix``).
            strong_samples (list[DetDataSample]): Strong-view samples
                (``homography_matrix``, ``img_shape``).

        Returns:
            tuple[list[Tensor], list[Tensor]]: Per image, the kept boxes in the
            weak view and the same boxes in the strong view.
        """
        weak_boxes, strong_boxes, _ = project_pairs(contrast_boxes, weak_samples, strong_samples, self.min_box_wh)
        return weak_boxes, strong_boxes

    # ------------------------------------------------------------------ outputs
    def pair_outputs(self, student: nn.Module, weak_feats: Tuple[Tensor], weak_boxes: List[Tensor],
                     weak_samples: SampleList, strong_feats: Tuple[Tensor], strong_boxes: List[Tensor],
                     strong_samples: SampleList) -> List[Tuple[Tensor, Tensor]]:
        """The student's RoI outputs for the paired boxes, one (weak, strong) pair per contrasted stage.

        Args:
            student (nn.Module): The student detector.
            weak_feats (tuple[Tensor]): The student's features of the weak view.
            weak_boxes (list[Tensor]): Per image, boxes in the weak view.
            weak_samples (list[DetDataSample]): Weak-view samples (unused here).
            strong_feats (tuple[Tensor]): The student's features of the strong view.
            strong_boxes (list[Tensor]): Per image, the same boxes in the strong view.
            strong_samples (list[DetDataSample]): Strong-view samples (unused here).

        Returns:
            list[tuple[Tensor, Tensor]]: ``[N, D]`` outputs of both views per stage;
            empty when there is no pair.
        """
        if sum(len(b) for b in weak_boxes) == 0:
            return []
        roi_head = student.roi_head
        outputs = []
        for stage in self._stage_indices(roi_head):
            # One RoI forward per view and stage, shared by all losses.
            outputs.append((self.roi_outputs(roi_head, weak_feats, weak_boxes,
                                             stage), self.roi_outputs(roi_head, strong_feats, strong_boxes, stage)))
        return outputs

    def roi_outputs(self, roi_head: nn.Module, feats: Tuple[Tensor], boxes: List[Tensor], stage: int = 0) -> Tensor:
        """RoI-head class logits ``[N, C+1]`` or classifier-input features ``[N, D]`` for ``boxes``.

        Args:
            roi_head (nn.Module): The student's RoI head.
            feats (tuple[Tensor]): The student's features of one view.
            boxes (list[Tensor]): Per image, boxes in that view.
            stage (int): The RoI stage of a cascade. Defaults to 0.

        Returns:
            Tensor: One row per box, images concatenated in order.
        """
        rois = bbox2roi(boxes)
        cascade = isinstance(roi_head.bbox_head, nn.ModuleList)

        def forward() -> dict:
            # A cascade stage pools and classifies the given boxes with its own extractor and head.
            return roi_head._bbox_forward(stage, feats, rois) if cascade else roi_head._bbox_forward(feats, rois)

        if self.target == 'cls_score':
            return forward()['cls_score']
        bbox_head = roi_head.bbox_head[stage] if cascade else roi_head.bbox_head
        # Hooks live only for this forward, so copies of the student (EMA, deepcopy) never carry them.
        recorder = TapRecorder(bbox_head, [_ROI_FEAT_SOURCE])
        try:
            with recorder.recording():
                forward()
            return recorder.get(_ROI_FEAT_SOURCE).flatten(1)
        finally:
            recorder.remove()


# ---------------------------------------------------------------------- dense (single-stage) heads
def _assigner_kind(head: nn.Module) -> Optional[str]:
    """Which target code of mmdet the head runs, by the ``_get_targets_single`` it inherits.

    A head that overrides it with code of its own (YOLOX, GFL, PAA, ...) is not read, since
    the meaning of its arguments and return values is unknown here.
    """
    method = getattr(type(head), '_get_targets_single', None)
    for kind, owner in (('rtmdet', RTMDetHead), ('atss', ATSSHead), ('fcos', FCOSHead), ('anchor', AnchorHead)):
        if method is owner._get_targets_single:
            return kind
    return None


@MODELS.register_module()
class DenseBoxPairViews:
    """Teacher boxes in both target views, read at the locations the dense head's assigner gives them.

    For single-stage detectors (RetinaNet, FCOS, ATSS, RTMDet and other heads that run
    the target code of ``AnchorHead``, ``ATSSHead``, ``FCOSHead`` or ``RTMDetHead``).
    In each view, the student's head assigns its priors (anchors or points) to the
    teacher boxes exactly as in its training loss (the boxes and their teacher labels
    stand for ground truth; RTMDet's dynamic assigner also reads the student's
    predictions of that view); the classification logits of a box are averaged over its
    positive locations. Boxes without a location in either view are dropped. A sigmoid
    classifier's C logits get a background logit 0 appended, so the C+1 softmax that PCL
    takes is ``sigmoid`` for one class and the multinomial with background as reference
    in general; a softmax classifier (C+1 outputs) is used as it is.

    Args:
        target (str): Only 'cls_score' (dense heads have no RoI feature). Defaults to
            'cls_score'.
        boxes (Sequence[str]): Only ('pseudo', ): teacher boxes with score >=
            ``pseudo_thr``. Defaults to ('pseudo', ).
        pseudo_thr (float, optional): Teacher score threshold. None uses the
            detector's ``cls_pseudo_thr``. Defaults to None.
        min_box_wh (Tuple[float, float]): Pairs smaller than this (pixels) in either
            view are dropped. Defaults to (4.0, 4.0).
        weak_grad (bool): Whether the weak-view outputs carry gradient; see
            :class:`RoIBoxPairViews`. Defaults to True.
    """

    DEFAULTS = dict(target='cls_score', boxes=('pseudo', ), pseudo_thr=None, min_box_wh=(4.0, 4.0), weak_grad=True)

    def __init__(self,
                 target: str = 'cls_score',
                 boxes: Sequence[str] = ('pseudo', ),
                 pseudo_thr: Optional[float] = None,
                 min_box_wh: Tuple[float, float] = (4.0, 4.0),
                 weak_grad: bool = True,
                 **unknown: Any) -> None:
        if unknown:
            raise ValueError(f'unknown contrast.views keys {sorted(unknown)} for DenseBoxPairViews; '
                             f'valid: {sorted(self.DEFAULTS)}')
        if target != 'cls_score':
            raise ValueError("contrast.views.target of DenseBoxPairViews must be 'cls_score' (a dense head has no "
                             f"RoI feature for FCL), got {target!r}")
        boxes = (boxes, ) if isinstance(boxes, str) else tuple(boxes)
        if boxes != ('pseudo', ):
            raise ValueError("contrast.views.boxes of DenseBoxPairViews must be ('pseudo',): a single-stage "
                             f'detector has no proposals, got {boxes}')
        _check_common(pseudo_thr, min_box_wh, weak_grad)
        self.target = target
        self.boxes = boxes
        self.pseudo_thr = pseudo_thr
        self.min_box_wh = tuple(min_box_wh)
        self.weak_grad = weak_grad

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(target={self.target!r}, boxes={self.boxes}, pseudo_thr={self.pseudo_thr}, '
                f'min_box_wh={self.min_box_wh}, weak_grad={self.weak_grad})')

    def check_student(self, student: nn.Module) -> None:
        """Fail at build time for detectors whose assignment this class cannot read.

        Args:
            student (nn.Module): The student detector.
        """
        head = getattr(student, 'bbox_head', None)
        if head is None or hasattr(student, 'roi_head'):
            raise TypeError('contrast.views: DenseBoxPairViews reads the dense head of a single-stage detector; '
                            f"{type(student).__name__} is not one. Two-stage detectors use "
                            "views=dict(type='mmcontrast.RoIBoxPairViews')")
        kind = _assigner_kind(head)
        if kind is None:
            raise TypeError(f'contrast.views: DenseBoxPairViews cannot read the assignment of {type(head).__name__}: '
                            'it overrides _get_targets_single with target code of its own; supported heads run '
                            'that of AnchorHead (RetinaNet), ATSSHead, FCOSHead or RTMDetHead')
        if kind != 'fcos' and head.train_cfg is None:  # FCOS assigns without a train_cfg
            raise ValueError(f'contrast.views: {type(head).__name__} has no train_cfg (assigner); '
                             'build the detector with its train_cfg')

    def select_boxes(self, result: InstanceData, proposal: Optional[InstanceData],
                     default_pseudo_thr: float) -> InstanceData:
        """Teacher boxes (with their labels) of one image in the weak view.

        Args:
            result (InstanceData): Teacher detections (``bboxes``, ``scores``, ``labels``).
            proposal (InstanceData, optional): Unused (single-stage detectors have none).
            default_pseudo_thr (float): Threshold used when ``pseudo_thr`` is None.

        Returns:
            InstanceData: ``bboxes`` and ``labels`` of the kept boxes.
        """
        thr = default_pseudo_thr if self.pseudo_thr is None else self.pseudo_thr
        keep = result.scores >= thr
        return InstanceData(bboxes=result.bboxes[keep], labels=result.labels[keep])

    def pair_boxes(self, contrast_boxes: Sequence[InstanceData], weak_samples: SampleList,
                   strong_samples: SampleList) -> Tuple[List[InstanceData], List[InstanceData]]:
        """Project the boxes into the strong view and keep the pairs large enough in both.

        Returns:
            tuple[list[InstanceData], list[InstanceData]]: Per image, the kept boxes
            (with labels) in the weak and in the strong view.
        """
        weak, strong, keeps = project_pairs([b.bboxes for b in contrast_boxes], weak_samples, strong_samples,
                                            self.min_box_wh)
        weak_pairs, strong_pairs = [], []
        for pool, weak_boxes, strong_boxes, keep in zip(contrast_boxes, weak, strong, keeps):
            weak_pairs.append(InstanceData(bboxes=weak_boxes, labels=pool.labels[keep]))
            strong_pairs.append(InstanceData(bboxes=strong_boxes, labels=pool.labels[keep]))
        return weak_pairs, strong_pairs

    def pair_outputs(self, student: nn.Module, weak_feats: Tuple[Tensor], weak_boxes: List[InstanceData],
                     weak_samples: SampleList, strong_feats: Tuple[Tensor], strong_boxes: List[InstanceData],
                     strong_samples: SampleList) -> List[Tuple[Tensor, Tensor]]:
        """Per box, the student's classification logits averaged over its assigned locations, both views.

        Returns:
            list[tuple[Tensor, Tensor]]: One ``([N, C+1], [N, C+1])`` pair (empty when no
            box has a location in both views).
        """
        if sum(len(b) for b in weak_boxes) == 0:
            return []
        head = student.bbox_head
        weak_logits, weak_has = self._box_logits(head, weak_feats, weak_boxes, weak_samples)
        strong_logits, strong_has = self._box_logits(head, strong_feats, strong_boxes, strong_samples)
        keep = weak_has & strong_has
        return [(self._with_background(head, weak_logits[keep]), self._with_background(head, strong_logits[keep]))]

    @staticmethod
    def _with_background(head: nn.Module, logits: Tensor) -> Tensor:
        if not getattr(head, 'use_sigmoid_cls', True):
            return logits  # already C+1 softmax logits
        return torch.cat([logits, logits.new_zeros(len(logits), 1)], dim=1)

    def _box_logits(self, head: nn.Module, feats: Tuple[Tensor], boxes: List[InstanceData],
                    samples: SampleList) -> Tuple[Tensor, Tensor]:
        """Mean class logits of each box over its positive locations, and whether it has any."""
        outs = head(feats)
        cls_scores = outs[0]
        num_imgs = len(samples)
        channels = head.cls_out_channels
        # [B, sum_l H_l W_l A, C], the prior order of mmdet's generators (level, y, x, anchor).
        flat_logits = torch.cat([s.permute(0, 2, 3, 1).reshape(num_imgs, -1, channels) for s in cls_scores], dim=1)
        with torch.no_grad():
            gt_inds = self._assign(head, outs, flat_logits.detach(), boxes, samples)
        rows, has = [], []
        for i, (inds, image_boxes) in enumerate(zip(gt_inds, boxes)):
            num = len(image_boxes)
            if num == 0:
                continue
            # gt_inds: 0 = not positive, k = box k - 1; average each box's positive rows.
            onehot = torch.zeros(num, len(inds), device=inds.device, dtype=flat_logits.dtype)
            pos = (inds > 0).nonzero().squeeze(1)
            onehot[inds[pos] - 1, pos] = 1.0
            counts = onehot.sum(1)
            rows.append(onehot @ flat_logits[i] / counts.clamp(min=1.0)[:, None])
            has.append(counts > 0)
        return torch.cat(rows), torch.cat(has)

    def _assign(self, head: nn.Module, outs: tuple, flat_logits: Tensor, boxes: List[InstanceData],
                samples: SampleList) -> List[Tensor]:
        """Per image, the (1-based) box index each prior is assigned to by the head's own target code."""
        metas = [sample.metainfo for sample in samples]
        cls_scores = outs[0]
        featmap_sizes = [s.shape[-2:] for s in cls_scores]
        device = cls_scores[0].device
        kind = _assigner_kind(head)
        if kind == 'fcos':
            return self._assign_fcos(head, featmap_sizes, cls_scores[0].dtype, device, boxes)
        anchor_list, valid_flag_list = head.get_anchors(featmap_sizes, metas, device=device)
        if kind == 'rtmdet':
            decoded = torch.cat([
                distance2bbox(anchor.reshape(-1, 4),
                              pred.permute(0, 2, 3, 1).reshape(len(samples), -1, 4))
                for anchor, pred in zip(anchor_list[0], outs[1])
            ],
                                dim=1)
        gt_inds = []
        for i, (image_boxes, meta) in enumerate(zip(boxes, metas)):
            flat_anchors = torch.cat(anchor_list[i])
            valid = torch.cat(valid_flag_list[i])
            num_priors = len(flat_anchors)
            inds = torch.zeros(num_priors, dtype=torch.long, device=device)
            if len(image_boxes) == 0:
                gt_inds.append(inds)
                continue
            gt = InstanceData(bboxes=image_boxes.bboxes, labels=image_boxes.labels)
            if kind == 'anchor':
                result = head._get_targets_single(flat_anchors, valid, gt, meta, None, unmap_outputs=True)
            elif kind == 'atss':
                num_level = [len(a) for a in anchor_list[i]]
                result = head._get_targets_single(flat_anchors, valid, num_level, gt, meta, None, unmap_outputs=True)
            else:  # rtmdet
                result = head._get_targets_single(
                    flat_logits[i], decoded[i], flat_anchors, valid, gt, meta, None, unmap_outputs=True)
            sampling = result[-1]
            if sampling is None:  # no prior inside the image
                gt_inds.append(inds)
                continue
            # pos_inds index the priors inside the image (anchor_inside_flags), as in the head's own code.
            inside = anchor_inside_flags(flat_anchors, valid, meta['img_shape'][:2],
                                         head.train_cfg.get('allowed_border', -1)).nonzero().squeeze(1)
            inds[inside[sampling.pos_inds]] = sampling.pos_assigned_gt_inds + 1
            gt_inds.append(inds)
        return gt_inds

    @staticmethod
    def _assign_fcos(head: nn.Module, featmap_sizes: list, dtype: torch.dtype, device: torch.device,
                     boxes: List[InstanceData]) -> List[Tensor]:
        """FCOS: a point is positive for the box its regression targets point to (min area, in range)."""
        points = head.prior_generator.grid_priors(featmap_sizes, dtype=dtype, device=device)
        ranges = torch.cat([p.new_tensor(r)[None].expand_as(p) for p, r in zip(points, head.regress_ranges)])
        num_points = [len(p) for p in points]
        flat_points = torch.cat(points)
        gt_inds = []
        for image_boxes in boxes:
            inds = torch.zeros(len(flat_points), dtype=torch.long, device=device)
            if len(image_boxes):
                gt = InstanceData(bboxes=image_boxes.bboxes, labels=image_boxes.labels)
                labels, targets = head._get_targets_single(gt, flat_points, ranges, num_points)
                pos = (labels < head.num_classes).nonzero().squeeze(1)
                # The targets are (left, top, right, bottom) distances to the assigned box: rebuild it
                # and find which box it is (exact up to rounding).
                x, y = flat_points[pos, 0], flat_points[pos, 1]
                rebuilt = torch.stack(
                    [x - targets[pos, 0], y - targets[pos, 1], x + targets[pos, 2], y + targets[pos, 3]], dim=1)
                inds[pos] = torch.cdist(rebuilt, image_boxes.bboxes, p=1).argmin(dim=1) + 1
            gt_inds.append(inds)
        return gt_inds
