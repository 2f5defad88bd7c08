"""Domain-adaptive mean teacher around a stock mmdet detector, with PCL between target views.

Data flow of one training step (branch names are those of mmdet's ``MultiBranch``)::

    source  semi_train_cfg.source_branches ('sup', or AT's 'sup' + 'sup_weak', one batch)
                                  --------------------------> student --> detection loss (sup_*)
    target  'unsup_teacher' (weak view)  --> EMA teacher --> pseudo-boxes (score > cls_pseudo_thr)
                                                         + the contrastive box pool (see the views)
    target  'unsup_student' (strong view) --> student <-- pseudo-boxes projected into the strong view
                                                      --> detection loss (unsup_*)
    target  weak view + strong view --> student outputs for the *same* boxes in both views
                                        (projected through ``homography_matrix``) --> PCL / FCL
    two branches' student features --> gradient reversal --> domain discriminator (optional)

Families: two-stage detectors with an RPN and a ``StandardRoIHead`` or ``CascadeRoIHead``
(Faster R-CNN, Cascade R-CNN, Mask R-CNN: the mask head learns from source masks only) and
single-stage dense detectors (RetinaNet, FCOS, ATSS, RTMDet, ...). Others are refused at
construction with the reason.
"""
import copy
from contextlib import contextmanager
from typing import Any, Dict, Iterator, List, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmdet.models.detectors import SemiBaseDetector, SingleStageDetector, TwoStageDetector
from mmdet.models.roi_heads import CascadeRoIHead, StandardRoIHead
from mmdet.models.utils import filter_gt_instances, rename_loss_dict, reweight_loss_dict
from mmdet.registry import MODELS as MMDET_MODELS
from mmdet.structures import SampleList
from mmdet.structures.bbox import bbox_project
from mmdet.utils import ConfigType, OptConfigType, OptMultiConfig
from mmengine.config import ConfigDict
from mmengine.logging import MessageHub, print_log
from mmengine.registry import DefaultScope
from mmengine.structures import InstanceData
from torch import Tensor, nn

from mmcontrast.models.utils import Source, TapRecorder
from mmcontrast.registry import MODELS
from mmcontrast.utils.scope import build_in_scope
from ..seg.ema_teacher import _is_stochastic_depth
from .contrast_views import DenseBoxPairViews, RoIBoxPairViews  # noqa: F401  (registers the views)

TWO_STAGE, SINGLE_STAGE = 'two_stage', 'single_stage'
_DEFAULT_VIEWS = {TWO_STAGE: 'mmcontrast.RoIBoxPairViews', SINGLE_STAGE: 'mmcontrast.DenseBoxPairViews'}
# What a ``contrast.views`` object must provide (see RoIBoxPairViews).
_VIEWS_METHODS = ('check_student', 'select_boxes', 'pair_boxes', 'pair_outputs')
_EMPTY_PSEUDO = ('skip_batch', 'skip_image', 'background')
_TEACHER_BN = ('running', 'target_batch')
# Loss names of box regression and of box-quality targets, which pseudo-boxes do not train
# when pseudo_box_reg=False: L1/IoU/GIoU (bbox), FCOS/ATSS centerness, GFL's distribution focal loss.
_REGRESSION_TERMS = ('bbox', 'centerness', 'dfl', 'iou')


def _refuse_by_class(detector_cls: type) -> None:
    """Refuse, before anything is built, detector classes whose training this wrapper cannot drive."""
    name = detector_cls.__name__
    if any(base.__name__ == 'DetectionTransformer' for base in detector_cls.__mro__):
        raise TypeError(f'DomainAdaptiveTeacher cannot wrap {name}: a DETR-style detector predicts a set of queries '
                        'matched to boxes by its own Hungarian loss; its head takes decoder outputs, not the '
                        'image features this wrapper shares between the pseudo-label, contrastive and adversarial '
                        'terms, and it has no dense locations or RoIs to contrast')
    if not issubclass(detector_cls, (TwoStageDetector, SingleStageDetector)):
        raise TypeError(f'DomainAdaptiveTeacher wraps two-stage detectors with an RPN and a RoI head (Faster/'
                        f'Cascade/Mask R-CNN) and single-stage dense detectors (RetinaNet, FCOS, ATSS, RTMDet, ...), '
                        f'got {name}')


def detector_family(student: nn.Module) -> str:
    """``'two_stage'`` or ``'single_stage'``, or a TypeError that says why the detector is refused.

    Args:
        student (nn.Module): The built detector.

    Returns:
        str: The family.
    """
    _refuse_by_class(type(student))
    name = type(student).__name__
    if isinstance(student, TwoStageDetector):
        if not student.with_rpn:
            raise TypeError(f'DomainAdaptiveTeacher cannot wrap {name}: a two-stage detector without an RPN takes '
                            'precomputed proposals, which the unlabelled target images do not have')
        rpn = type(student.rpn_head).__name__
        if rpn == 'EmbeddingRPNHead':
            raise TypeError(f'DomainAdaptiveTeacher cannot wrap {name}: its learned query proposals '
                            f'({rpn}) and query-based RoI head have no per-box class logits for a given box, '
                            'which the pseudo-label and contrastive terms read')
        roi_head = student.roi_head
        if not isinstance(roi_head,
                          (StandardRoIHead, CascadeRoIHead)) or type(roi_head).__name__ in ('SparseRoIHead',
                                                                                            'HybridTaskCascadeRoIHead',
                                                                                            'SCNetRoIHead'):
            raise TypeError(f'DomainAdaptiveTeacher cannot wrap {name} with {type(roi_head).__name__}: supported '
                            'RoI heads are StandardRoIHead (Faster/Mask R-CNN) and CascadeRoIHead (Cascade '
                            '[Mask] R-CNN); heads with extra inputs (semantic branches, queries) need their own '
                            'pseudo-label targets')
        return TWO_STAGE
    return SINGLE_STAGE


def is_box_regression(key: str) -> bool:
    """Whether a loss key is box regression (or box quality), e.g. ``'s0.loss_bbox'``, ``'loss_centerness'``."""
    name = key.split('.')[-1]
    return name.startswith('loss') and any(term in name for term in _REGRESSION_TERMS)


@contextmanager
def without_mask_head(roi_head: nn.Module) -> Iterator[None]:
    """Hide a RoI head's mask head for one loss call (pseudo-boxes carry no masks)."""
    if not getattr(roi_head, 'with_mask', False):
        yield
        return
    mask_head = roi_head.mask_head
    roi_head.mask_head = None
    try:
        yield
    finally:
        roi_head.mask_head = mask_head


def concat_branches(inputs: Sequence[Tensor], samples: Sequence[SampleList]) -> Tuple[Tensor, SampleList]:
    """One batch from several branches (e.g. AT's strong and weak source views), padded to one size.

    Args:
        inputs (Sequence[Tensor]): ``[B_i, C, H_i, W_i]`` per branch.
        samples (Sequence[list[DetDataSample]]): Data samples per branch.

    Returns:
        tuple[Tensor, list[DetDataSample]]: The concatenated batch.
    """
    if len(inputs) == 1:
        return inputs[0], list(samples[0])
    height = max(x.shape[-2] for x in inputs)
    width = max(x.shape[-1] for x in inputs)
    # Zero is the padding value after normalisation, as in DetDataPreprocessor.
    batch = torch.cat([F.pad(x, (0, width - x.shape[-1], 0, height - x.shape[-2])) for x in inputs])
    merged = []
    for branch in samples:
        for sample in branch:
            sample.set_metainfo(dict(batch_input_shape=(height, width), pad_shape=(height, width)))
            merged.append(sample)
    return batch, merged


@MODELS.register_module()
class DomainAdaptiveTeacher(SemiBaseDetector):
    """Mean-teacher domain adaptation for two-stage and single-stage mmdet detectors.

    Source images supervise the student; the EMA teacher (updated by mmdet's
    ``MeanTeacherHook``) labels the weak target view and its confident boxes supervise
    the student on the strong target view. Optionally, contrastive losses tie the
    student's outputs for the same boxes in the weak and strong target views (PCL on
    class probabilities, FCL on RoI features), and an image-level domain discriminator
    with gradient reversal aligns two branches' features as in Adaptive Teacher.

    Args:
        detector (dict): Config of a stock mmdet detector (student and teacher): a
            two-stage detector with an RPN and a Standard/Cascade RoI head, or a
            single-stage dense detector.
        semi_train_cfg (dict, optional): Training options; missing keys take defaults:

            - ``freeze_teacher`` (bool): True. The teacher only gets EMA updates.
            - ``sup_weight`` / ``unsup_weight`` (float): 1.0 / 1.0.
            - ``cls_pseudo_thr`` (float): 0.8. Pseudo-boxes are teacher boxes with a
              score above it.
            - ``pseudo_box_reg`` (bool): False. Whether pseudo-boxes also train box
              regression (and box-quality targets such as centerness) in every stage;
              off as in Unbiased/Adaptive Teacher, since confident classes do not imply
              accurate boxes.
            - ``min_pseudo_bbox_wh`` (tuple): (1e-2, 1e-2), in the strong view.
            - ``burn_in_iters`` (int): 0. Source-only iterations; at the end the
              teacher is reset to the student (a no-op when resuming later).
            - ``empty_pseudo_images`` (str): 'skip_batch'. Target images without a
              pseudo-box: 'skip_batch' switches the pseudo-label loss off only when no
              image of the batch has one (mmdet's ``SemiBaseDetector``); 'skip_image'
              leaves such images out of it; 'background' trains all their proposals
              (anchors, points) as background, as Adaptive Teacher does.
            - ``teacher_bn_stats`` (str): 'running'. How the teacher's BatchNorm
              normalises the weak target view when it labels: 'running' (eval mode,
              the running statistics the EMA hook gives it) or 'target_batch' (train
              mode with dropout/drop-path off, i.e. the target batch's own statistics,
              as DAFormer's and Adaptive Teacher's teachers; the teacher's running
              statistics then also follow these target batches).
            - ``source_branches`` (tuple[str]): ('sup',). Labelled branches trained as
              one batch; Adaptive Teacher supervises both source views
              (('sup', 'sup_weak')).
            - ``teacher_rpn_cfg`` (dict, optional): None. Proposal settings of the
              teacher's RPN when it labels (two-stage only); None uses its
              ``test_cfg.rpn``. Adaptive Teacher's teacher labels in train mode, i.e.
              with the training proposal settings (``rpn_proposal``).
        semi_test_cfg (dict, optional): ``predict_on`` ('teacher' or 'student').
            Defaults to ``dict(predict_on='teacher')``.
        contrast (dict, optional): Contrastive losses across the two target views, the
            same shape as in the UDA segmentation wrapper. None (default) or no losses
            disables them::

                contrast=dict(
                    views=dict(type='mmcontrast.RoIBoxPairViews', target='cls_score',
                               boxes=('pseudo', 'proposals'), num_proposals=64),
                    losses=dict(pcl=dict(type='mmcontrast.PCLLoss', scale=20.0, loss_weight=0.1)))

            - ``views`` (dict, optional): How the two views are built; ``type``
              defaults to ``'mmcontrast.RoIBoxPairViews'`` for two-stage detectors and
              ``'mmcontrast.DenseBoxPairViews'`` for single-stage ones; the other keys
              are its options. Defaults to ``dict()``.
            - ``losses`` (dict, optional): Name -> loss config; a None config is dropped
              (so a derived config can switch one off). Each loss is called as
              ``loss(outputs_weak [N, D], outputs_strong [N, D])`` on the same box pairs
              (averaged over the contrasted RoI stages of a cascade) and logged as
              ``unsup_loss_<name>``. Defaults to ``dict()`` (off).
        domain_discriminator (dict, optional): e.g.
            ``dict(type='mmcontrast.ImageDomainDiscriminator', in_channels=256)``; its
            ``source_branch`` and ``target_branch`` name the student features it
            separates. None disables adversarial alignment.
        data_preprocessor (dict, optional): Usually ``MultiBranchDataPreprocessor``.
        init_cfg (dict or list[dict], optional): Initialisation config.
        contrast_loss: Removed; passing it raises a TypeError that prints the
            equivalent ``contrast=dict(...)``.
        contrast_cfg: Removed; as ``contrast_loss`` (its keys are now ``contrast.views``).
    """

    def __init__(self,
                 detector: ConfigType,
                 semi_train_cfg: OptConfigType = None,
                 semi_test_cfg: OptConfigType = None,
                 contrast: OptConfigType = None,
                 domain_discriminator: OptConfigType = None,
                 data_preprocessor: OptConfigType = None,
                 init_cfg: OptMultiConfig = None,
                 contrast_loss: OptConfigType = None,
                 contrast_cfg: OptConfigType = None) -> None:
        if contrast_loss is not None or contrast_cfg is not None:
            # Fail before building anything, so the message is the first thing the user sees.
            raise TypeError(_removed_arguments_message(contrast_loss, contrast_cfg))
        train_cfg = dict(
            freeze_teacher=True,
            sup_weight=1.0,
            unsup_weight=1.0,
            cls_pseudo_thr=0.8,
            pseudo_box_reg=False,
            min_pseudo_bbox_wh=(1e-2, 1e-2),
            burn_in_iters=0,
            empty_pseudo_images='skip_batch',
            teacher_bn_stats='running',
            source_branches=('sup', ),
            teacher_rpn_cfg=None)
        train_cfg.update(semi_train_cfg or {})
        _check_train_cfg(train_cfg)
        test_cfg = dict(predict_on='teacher')
        test_cfg.update(semi_test_cfg or {})
        detector_type = detector.get('type') if isinstance(detector, dict) else None
        if isinstance(detector_type, str):
            # Refuse known-incompatible classes before two copies are built (some, e.g. DETR's head, cannot
            # even be built twice from one config).
            with DefaultScope.overwrite_default_scope('mmdet'):
                detector_cls = MMDET_MODELS.get(detector_type)
            if detector_cls is not None:
                _refuse_by_class(detector_cls)
        super().__init__(
            detector=ConfigDict(detector),
            semi_train_cfg=ConfigDict(train_cfg),
            semi_test_cfg=ConfigDict(test_cfg),
            data_preprocessor=data_preprocessor,
            init_cfg=init_cfg)
        self.family = detector_family(self.student)

        self.contrast_views, self.contrast_losses = self._build_contrast(contrast)

        self.domain_discriminator = (MODELS.build(domain_discriminator) if domain_discriminator is not None else None)

    def _build_contrast(self, contrast: OptConfigType) -> Tuple[Any, nn.ModuleDict]:
        """Build ``contrast['views']`` and the named ``contrast['losses']``.

        As in the segmentation wrapper, the views are always built (the default ones when
        ``contrast`` is None) and the losses may be empty, which switches the term off; a
        loss set to None (e.g. by a derived config) is dropped.
        """
        if contrast is not None and not isinstance(contrast, dict):
            raise TypeError(f'contrast must be a dict(views=..., losses=...) or None, got {type(contrast).__name__}')
        contrast = dict(contrast or {})
        unknown = set(contrast) - {'views', 'losses'}
        if unknown:
            raise ValueError(f"unknown contrast keys {sorted(unknown)}; valid: ['losses', 'views']")
        loss_cfgs = contrast.get('losses') or {}
        if not isinstance(loss_cfgs, dict):
            raise ValueError('contrast.losses must map a name to a loss config, e.g. '
                             "losses=dict(pcl=dict(type='mmcontrast.PCLLoss', scale=20.0, loss_weight=0.1)); "
                             f'got {loss_cfgs!r}')
        losses = nn.ModuleDict()
        for name, cfg in loss_cfgs.items():
            if cfg is None:
                continue
            # The name becomes a log key and a ModuleDict key (no dots allowed there).
            if not isinstance(name, str) or not name.isidentifier():
                raise ValueError(f'contrast.losses: loss name {name!r} must be an identifier such as "pcl"')
            if not isinstance(cfg, (dict, nn.Module)):
                raise ValueError(f'contrast.losses.{name} must be a loss config dict, got {cfg!r}')
            losses[name] = build_in_scope(cfg) if isinstance(cfg, dict) else cfg

        views = contrast.get('views')
        if views is None or isinstance(views, dict):
            views = build_in_scope(dict(dict(type=_DEFAULT_VIEWS[self.family]), **(views or {})))
        missing = [m for m in _VIEWS_METHODS if not callable(getattr(views, m, None))]
        if missing:
            raise TypeError(f'contrast.views ({type(views).__name__}) lacks the methods {missing} that '
                            'DomainAdaptiveTeacher calls; see mmcontrast.RoIBoxPairViews')
        if losses:
            views.check_student(self.student)
        return views, losses

    # ------------------------------------------------------------------ training
    def loss(self, multi_batch_inputs: Dict[str, Tensor], multi_batch_data_samples: Dict[str, SampleList]) -> dict:
        """Source, pseudo-label, contrastive and adversarial losses of one batch.

        Args:
            multi_batch_inputs (dict[str, Tensor]): Images per branch: the source
                branches (``semi_train_cfg.source_branches``), 'unsup_teacher' (weak
                target view) and 'unsup_student' (strong view).
            multi_batch_data_samples (dict[str, list[DetDataSample]]): Data samples per
                branch; the target branches carry ``homography_matrix``.

        Returns:
            dict: Loss components.
        """
        branches = self.semi_train_cfg.source_branches
        missing = [b for b in branches if b not in multi_batch_inputs]
        if missing:
            raise KeyError(f'semi_train_cfg.source_branches {tuple(branches)}: the batch has no branch {missing}; '
                           f'it has {sorted(multi_batch_inputs)} (see MultiBranch in the source pipeline)')
        source_inputs, source_samples = concat_branches([multi_batch_inputs[b] for b in branches],
                                                        [multi_batch_data_samples[b] for b in branches])
        source_feats = self.student.extract_feat(source_inputs)
        losses = rename_loss_dict(
            'sup_',
            reweight_loss_dict(self._detection_loss(source_feats, source_samples), self.semi_train_cfg.sup_weight))
        # Student features of one branch each, reused by the discriminator.
        feats_of = {branches[0]: source_feats} if len(branches) == 1 else {}

        burn_in = self.semi_train_cfg.burn_in_iters
        cur_iter = MessageHub.get_current_instance().get_info('iter') or 0  # None outside a runner
        if cur_iter < burn_in:
            return losses
        if burn_in > 0 and cur_iter == burn_in:
            # The EMA teacher has only followed the source-only student so far; start
            # pseudo-labelling from the burnt-in student itself.
            self.teacher.load_state_dict(self.student.state_dict())
            print_log(f'burn-in finished at iter {cur_iter}: teacher reset to the student', 'current')

        weak_samples, batch_info = self.get_pseudo_instances(multi_batch_inputs['unsup_teacher'],
                                                             multi_batch_data_samples['unsup_teacher'])
        strong_samples = self.project_pseudo_instances(weak_samples, multi_batch_data_samples['unsup_student'])
        strong_feats = self.student.extract_feat(multi_batch_inputs['unsup_student'])
        feats_of['unsup_student'] = strong_feats
        losses.update(self._pseudo_label_loss(strong_feats, strong_samples))

        if self.contrast_losses:
            weak_grad = getattr(self.contrast_views, 'weak_grad', True)
            with torch.set_grad_enabled(weak_grad and torch.is_grad_enabled()):
                weak_feats = self.student.extract_feat(multi_batch_inputs['unsup_teacher'])
            if weak_grad:  # features without a graph cannot train the discriminator
                feats_of['unsup_teacher'] = weak_feats
            losses.update(
                self._contrastive_loss(weak_feats, weak_samples, strong_feats, strong_samples,
                                       batch_info['contrast_boxes']))
        if self.domain_discriminator is not None:
            disc = self.domain_discriminator
            feats = []
            for branch in (disc.source_branch, disc.target_branch):
                if branch not in feats_of:
                    if branch not in multi_batch_inputs:
                        raise KeyError(f'domain_discriminator: no branch {branch!r} in the batch; it has '
                                       f'{sorted(multi_batch_inputs)}')
                    feats_of[branch] = self.student.extract_feat(multi_batch_inputs[branch])
                feats.append(feats_of[branch])
            losses.update(disc.loss(*feats))
        return losses

    def _detection_loss(self, feats: Tuple[Tensor], batch_data_samples: SampleList) -> dict:
        """The student's detection losses from already extracted features.

        Follows ``TwoStageDetector.loss`` / ``SingleStageDetector.loss`` but takes
        features, so that the same student features also feed the contrastive loss and
        the discriminator.
        """
        student = self.student
        if self.family == SINGLE_STAGE:
            return student.bbox_head.loss(feats, batch_data_samples)
        rpn_data_samples = copy.deepcopy(batch_data_samples)
        for data_sample in rpn_data_samples:  # the RPN is class-agnostic
            data_sample.gt_instances.labels = torch.zeros_like(data_sample.gt_instances.labels)
        proposal_cfg = student.train_cfg.get('rpn_proposal', student.test_cfg.rpn)
        rpn_losses, rpn_results = student.rpn_head.loss_and_predict(feats, rpn_data_samples, proposal_cfg=proposal_cfg)
        losses = {(f'rpn_{k}' if 'loss' in k and 'rpn' not in k else k): v for k, v in rpn_losses.items()}
        losses.update(student.roi_head.loss(feats, rpn_results, batch_data_samples))
        return losses

    def _pseudo_label_loss(self, feats: Tuple[Tensor], batch_data_samples: SampleList) -> dict:
        """Student detection loss on the strong view against confident teacher boxes.

        Pseudo-boxes train classification only unless ``pseudo_box_reg`` (the regression
        terms of every stage are dropped), never a mask head, and images without one are
        handled as ``empty_pseudo_images`` says.
        """
        cfg = self.semi_train_cfg
        batch_data_samples = filter_gt_instances(batch_data_samples, score_thr=cfg.cls_pseudo_thr)
        counts = [len(data_sample.gt_instances) for data_sample in batch_data_samples]
        num_boxes = sum(counts)
        if cfg.empty_pseudo_images == 'skip_image' and 0 < num_boxes and 0 in counts:
            keep = [i for i, count in enumerate(counts) if count > 0]
            feats = tuple(f[keep] for f in feats)
            batch_data_samples = [batch_data_samples[i] for i in keep]
        roi_head = self.student.roi_head if self.family == TWO_STAGE else None
        with without_mask_head(roi_head):
            losses = self._detection_loss(feats, batch_data_samples)
        if not cfg.pseudo_box_reg:
            losses = {k: v for k, v in losses.items() if not is_box_regression(k)}
        # With no pseudo-box at all, the loss trains every proposal as background; only
        # 'background' (Adaptive Teacher) wants that. Weight 0 keeps the graph connected.
        weight = cfg.unsup_weight if num_boxes > 0 or cfg.empty_pseudo_images == 'background' else 0.0
        losses = rename_loss_dict('unsup_', reweight_loss_dict(losses, weight))
        losses['unsup_num_pseudo_boxes'] = feats[0].new_tensor(float(num_boxes))  # logged, not optimised
        return losses

    @torch.no_grad()
    def get_pseudo_instances(self, batch_inputs: Tensor, batch_data_samples: SampleList) -> Tuple[SampleList, dict]:
        """Teacher predictions on the weak view, plus the boxes for the contrastive loss.

        Returns:
            tuple: The data samples with ``gt_instances`` = teacher predictions in
            original-image coordinates (as ``SemiBaseDetector`` expects), and a dict
            with ``contrast_boxes``: per image, the views' box pool in weak-view
            coordinates.
        """
        self._set_teacher_labelling_mode()
        teacher = self.teacher
        feats = teacher.extract_feat(batch_inputs)
        if self.family == SINGLE_STAGE:
            results = teacher.bbox_head.predict(feats, batch_data_samples, rescale=False)
            proposals = [None] * len(results)
        else:
            proposals = self._predict_proposals(feats, batch_data_samples)
            results = self._predict_boxes(feats, proposals, batch_data_samples)
        contrast_boxes = []
        for data_sample, result, proposal in zip(batch_data_samples, results, proposals):
            # Boxes are selected even with no contrastive loss: proposal sampling draws from the
            # torch RNG, and skipping it would shift every later random draw (and change the losses).
            contrast_boxes.append(
                self.contrast_views.select_boxes(result, proposal, self.semi_train_cfg.cls_pseudo_thr))
            to_original = torch.from_numpy(data_sample.homography_matrix).inverse().to(result.bboxes)
            result.bboxes = bbox_project(result.bboxes, to_original, data_sample.ori_shape)
            data_sample.gt_instances = result
        return batch_data_samples, dict(contrast_boxes=contrast_boxes)

    def _set_teacher_labelling_mode(self) -> None:
        """Eval mode (running BN statistics) or train mode without dropout (target-batch statistics)."""
        if self.semi_train_cfg.teacher_bn_stats == 'running':
            self.teacher.eval()
            return
        # As DAFormer's teacher (mmseg/models/uda/dacs.py L264-268) and Adaptive Teacher's, which is
        # never put in eval mode while it labels (adapteacher/engine/trainer.py L553): BatchNorm
        # normalises the target batch with its own statistics. Backbones with norm_eval=True keep
        # their BN in eval mode (their train() says so), so frozen-BN detectors are unaffected.
        self.teacher.train()
        for module in self.teacher.modules():
            if _is_stochastic_depth(module):
                module.training = False

    def _predict_proposals(self, feats: Tuple[Tensor], batch_data_samples: SampleList) -> List[InstanceData]:
        """The teacher's RPN proposals, with ``teacher_rpn_cfg`` when set (else its test_cfg)."""
        rpn_head = self.teacher.rpn_head
        cfg = self.semi_train_cfg.get('teacher_rpn_cfg')
        if cfg is None:
            return rpn_head.predict(feats, batch_data_samples, rescale=False)
        metas = [data_sample.metainfo for data_sample in batch_data_samples]
        return rpn_head.predict_by_feat(*rpn_head(feats), batch_img_metas=metas, cfg=ConfigDict(cfg), rescale=False)

    def _predict_boxes(self, feats: Tuple[Tensor], proposals: List[InstanceData],
                       batch_data_samples: SampleList) -> List[InstanceData]:
        """The teacher's RoI box predictions (no masks: pseudo-labels are boxes).

        When the views ask for it (``needs_proposal_scores``), every proposal also gets
        ``fg_scores`` = 1 - p(background): the first RoI stage's class probabilities of the
        proposals themselves (a cascade refines the boxes after stage 0), recorded during the
        teacher's own prediction.
        """
        roi_head = self.teacher.roi_head
        metas = [data_sample.metainfo for data_sample in batch_data_samples]

        def predict() -> List[InstanceData]:
            return roi_head.predict_bbox(feats, metas, proposals, rcnn_test_cfg=roi_head.test_cfg, rescale=False)

        if not getattr(self.contrast_views, 'needs_proposal_scores', False):
            return predict()
        stage0 = 'bbox_head.0.fc_cls' if isinstance(roi_head.bbox_head, nn.ModuleList) else 'bbox_head.fc_cls'
        source = Source.parse(stage0)
        recorder = TapRecorder(roi_head, [source])
        try:
            with recorder.recording():
                results = predict()
            num = [len(p) for p in proposals]
            logits = recorder.get(source) if sum(num) else feats[0].new_zeros((0, 1))
        finally:
            recorder.remove()
        fg_scores = (1.0 - logits.softmax(dim=1)[:, -1]).split(num)
        for proposal, scores in zip(proposals, fg_scores):
            proposal.fg_scores = scores
        return results

    # --------------------------------------------------------------- contrastive
    def _contrastive_loss(self, weak_feats: Tuple[Tensor], weak_samples: SampleList, strong_feats: Tuple[Tensor],
                          strong_samples: SampleList, contrast_boxes: Sequence[Any]) -> Dict[str, Tensor]:
        """Contrast the student's outputs for the same boxes in the two target views.

        ``contrast_views`` pairs the boxes (weak view -> strong view, dropping pairs too
        small in either) and returns the student's outputs for them, one pair of
        ``[N, D]`` tensors per contrasted stage; every named loss compares them (mean
        over stages). With no pair left each loss is a zero connected to the graph.

        Returns:
            dict: ``unsup_loss_<name>`` per loss and ``unsup_num_contrast_boxes``.
        """
        views = self.contrast_views
        weak_boxes, strong_boxes = views.pair_boxes(contrast_boxes, weak_samples, strong_samples)
        outputs = views.pair_outputs(self.student, weak_feats, weak_boxes, weak_samples, strong_feats, strong_boxes,
                                     strong_samples)
        if not getattr(views, 'weak_grad', True):  # the heads ran with gradient on the weak view
            outputs = [(out_weak.detach(), out_strong) for out_weak, out_strong in outputs]
        num_pairs = outputs[0][0].shape[0] if outputs else 0
        if num_pairs == 0:
            zero = sum(f.sum() for f in weak_feats) * 0.0 + sum(f.sum() for f in strong_feats) * 0.0
            losses = {f'unsup_loss_{name}': zero for name in self.contrast_losses}
        else:
            losses = {
                f'unsup_loss_{name}': torch.stack([loss(out_weak, out_strong)
                                                   for out_weak, out_strong in outputs]).mean()
                for name, loss in self.contrast_losses.items()
            }
        losses['unsup_num_contrast_boxes'] = next(iter(losses.values())).new_tensor(float(num_pairs))
        return losses


def _check_train_cfg(cfg: dict) -> None:
    """Clear errors for the semi_train_cfg keys this wrapper adds or reads."""
    if not 0.0 <= cfg['cls_pseudo_thr'] <= 1.0:
        raise ValueError(f'semi_train_cfg.cls_pseudo_thr must be in [0, 1], got {cfg["cls_pseudo_thr"]}')
    if cfg['empty_pseudo_images'] not in _EMPTY_PSEUDO:
        raise ValueError(f'semi_train_cfg.empty_pseudo_images must be one of {_EMPTY_PSEUDO}, '
                         f'got {cfg["empty_pseudo_images"]!r}')
    if cfg['teacher_bn_stats'] not in _TEACHER_BN:
        raise ValueError("semi_train_cfg.teacher_bn_stats must be 'running' (eval-mode teacher) or "
                         f"'target_batch' (train-mode BN, dropout off), got {cfg['teacher_bn_stats']!r}")
    branches = cfg['source_branches']
    if isinstance(branches, str) or not branches or not all(isinstance(b, str) for b in branches):
        raise ValueError(f"semi_train_cfg.source_branches must be a non-empty tuple of branch names such as "
                         f"('sup',) or ('sup', 'sup_weak'), got {branches!r}")
    cfg['source_branches'] = tuple(branches)


def _suggested_loss_name(loss_cfg: Any) -> str:
    """'pcl' for PCLLoss, 'fcl' for InfoNCELoss, else the lower-cased type without 'Loss'."""
    loss_type = str(loss_cfg.get('type', 'pcl')) if isinstance(loss_cfg, dict) else type(loss_cfg).__name__
    short = loss_type.rsplit('.', 1)[-1].removesuffix('Loss')
    return {'PCL': 'pcl', 'InfoNCE': 'fcl'}.get(short, short.lower() or 'contrast')


def _as_dict_call(value: Any) -> str:
    """Render a (nested) config dict as ``dict(key=value, ...)``, the way configs are written."""
    if isinstance(value, dict):
        return 'dict(' + ', '.join(f'{k}={_as_dict_call(v)}' for k, v in value.items()) + ')'
    if isinstance(value, list):
        return '[' + ', '.join(_as_dict_call(v) for v in value) + ']'
    if isinstance(value, tuple):
        return '(' + ', '.join(_as_dict_call(v) for v in value) + (',)' if len(value) == 1 else ')')
    return repr(value)


def _removed_arguments_message(contrast_loss: Any, contrast_cfg: Any) -> str:
    """The TypeError text for the removed ``contrast_loss``/``contrast_cfg``, with the new config."""
    views = dict(type=_DEFAULT_VIEWS[TWO_STAGE], **dict(contrast_cfg or {}))
    if isinstance(views.get('boxes'), list):
        views['boxes'] = tuple(views['boxes'])
    if contrast_loss is None:
        losses = "dict(pcl=dict(type='mmcontrast.PCLLoss', scale=20.0, loss_weight=0.1))"
    else:
        losses = f'dict({_suggested_loss_name(contrast_loss)}={_as_dict_call(contrast_loss)})'
    return ('DomainAdaptiveTeacher no longer takes contrast_loss/contrast_cfg; write them as one `contrast` '
            'argument (the shape of the UDA segmentation wrapper): the contrast_cfg keys go to `views`, the '
            'loss goes to `losses` under a name that becomes its log key unsup_loss_<name>:\n'
            f'    contrast=dict(views={_as_dict_call(views)}, losses={losses})')
