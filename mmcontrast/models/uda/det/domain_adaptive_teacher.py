"""Domain-adaptive mean teacher for two-stage detectors, with PCL on RoI class probabilities.

Data flow of one training step (branch names are those of mmdet's ``MultiBranch``)::

    source  'sup'           --------------------------> student --> detection loss (sup_*)
    target  'unsup_teacher' (weak view)  --> EMA teacher --> pseudo-boxes (score >= cls_pseudo_thr)
                                                         + RPN proposals  (for the contrastive term)
    target  'unsup_student' (strong view) --> student <-- pseudo-boxes projected into the strong view
                                                      --> detection loss (unsup_*)
    target  weak view + strong view --> student RoI head on the *same* boxes in both views
                                        (projected through ``homography_matrix``) --> PCL / FCL
    source + strong target features --> gradient reversal --> domain discriminator (optional)

So the teacher only ever sees the weak view; the student sees the source images,
the strong view (for the pseudo-label loss and the contrastive loss) and the weak
view (only for the contrastive loss).
"""
import copy
from typing import Any, Dict, Sequence, Tuple

import torch
from mmdet.models.detectors import SemiBaseDetector, TwoStageDetector
from mmdet.models.utils import filter_gt_instances, rename_loss_dict, reweight_loss_dict
from mmdet.structures import SampleList
from mmdet.structures.bbox import bbox_project
from mmdet.utils import ConfigType, OptConfigType, OptMultiConfig
from mmengine.config import ConfigDict
from mmengine.logging import MessageHub, print_log
from torch import Tensor, nn

from mmcontrast.registry import MODELS
from mmcontrast.utils.scope import build_in_scope
from .contrast_views import RoIBoxPairViews  # noqa: F401  (registers the default views)

_DEFAULT_VIEWS = 'mmcontrast.RoIBoxPairViews'
# What a ``contrast.views`` object must provide (see RoIBoxPairViews).
_VIEWS_METHODS = ('check_bbox_head', 'select_boxes', 'pair_boxes', 'roi_outputs')


@MODELS.register_module()
class DomainAdaptiveTeacher(SemiBaseDetector):
    """Mean-teacher domain adaptation for two-stage detectors (Faster R-CNN family).

    Source images supervise the student; the EMA teacher (updated by mmdet's
    ``MeanTeacherHook``) labels the weak target view and its confident boxes supervise
    the student on the strong target view. Optionally, a contrastive loss ties the
    student's RoI-head outputs for the same boxes in the weak and strong target views:
    PCL on the class probabilities (C+1 with background) or FCL (InfoNCE) on the
    RoI features that feed the classifier. An image-level domain discriminator with
    gradient reversal can be switched on as in Adaptive Teacher.

    Args:
        detector (dict): Config of a stock mmdet two-stage detector (student and teacher).
        semi_train_cfg (dict, optional): Training options; missing keys take defaults:

            - ``freeze_teacher`` (bool): True. The teacher only gets EMA updates.
            - ``sup_weight`` / ``unsup_weight`` (float): 1.0 / 1.0.
            - ``cls_pseudo_thr`` (float): 0.8. Teacher score threshold for pseudo-boxes.
            - ``pseudo_box_reg`` (bool): False. Whether pseudo-boxes also train box
              regression (RPN and RoI); off as in Unbiased/Adaptive Teacher, since
              confident classes do not imply accurate boxes.
            - ``min_pseudo_bbox_wh`` (tuple): (1e-2, 1e-2), in the strong view.
            - ``burn_in_iters`` (int): 0. Source-only iterations; at the end the
              teacher is reset to the student (a no-op when resuming later).
        semi_test_cfg (dict, optional): ``predict_on`` ('teacher' or 'student').
            Defaults to ``dict(predict_on='teacher')``.
        contrast (dict, optional): Contrastive losses across the two target views, the
            same shape as in the UDA segmentation wrapper. None (default) or no losses
            disables them::

                contrast=dict(
                    views=dict(type='mmcontrast.RoIBoxPairViews', target='cls_score',
                               boxes=('pseudo', 'proposals'), pseudo_thr=None,
                               num_proposals=64, min_box_wh=(4.0, 4.0)),
                    losses=dict(pcl=dict(type='mmcontrast.PCLLoss', scale=20.0, loss_weight=0.1)))

            - ``views`` (dict, optional): How the two views are built; ``type``
              defaults to ``'mmcontrast.RoIBoxPairViews'`` and the other keys are its
              options (see :class:`RoIBoxPairViews`: ``target`` 'cls_score' or
              'roi_feat', ``boxes``, ``pseudo_thr`` (None: ``cls_pseudo_thr``),
              ``num_proposals``, ``min_box_wh``). Defaults to ``dict()``.
            - ``losses`` (dict, optional): Name -> loss config; a None config is dropped
              (so a derived config can switch one off). Each loss is called as
              ``loss(outputs_weak [N, D], outputs_strong [N, D])`` on the same box pairs
              and logged as ``unsup_loss_<name>``. Defaults to ``dict()`` (off).
        domain_discriminator (dict, optional): e.g.
            ``dict(type='mmcontrast.ImageDomainDiscriminator', in_channels=256)``.
            None disables adversarial alignment.
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
            burn_in_iters=0)
        train_cfg.update(semi_train_cfg or {})
        if not 0.0 <= train_cfg['cls_pseudo_thr'] <= 1.0:
            raise ValueError(f'cls_pseudo_thr must be in [0, 1], got {train_cfg["cls_pseudo_thr"]}')
        test_cfg = dict(predict_on='teacher')
        test_cfg.update(semi_test_cfg or {})
        super().__init__(
            detector=ConfigDict(detector),
            semi_train_cfg=ConfigDict(train_cfg),
            semi_test_cfg=ConfigDict(test_cfg),
            data_preprocessor=data_preprocessor,
            init_cfg=init_cfg)
        if not (isinstance(self.student, TwoStageDetector) and self.student.with_rpn
                and self.student.with_roi_head):
            raise TypeError('DomainAdaptiveTeacher needs a two-stage detector with an RPN and a RoI head '
                            f'(e.g. FasterRCNN), got {type(self.student).__name__}')

        self.contrast_views, self.contrast_losses = self._build_contrast(contrast)

        self.domain_discriminator = (
            MODELS.build(domain_discriminator) if domain_discriminator is not None else None)

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
            raise ValueError(f'unknown contrast keys {sorted(unknown)}; valid: [\'losses\', \'views\']')
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
            views = build_in_scope(dict(dict(type=_DEFAULT_VIEWS), **(views or {})))
        missing = [m for m in _VIEWS_METHODS if not callable(getattr(views, m, None))]
        if missing:
            raise TypeError(f'contrast.views ({type(views).__name__}) lacks the methods {missing} that '
                            'DomainAdaptiveTeacher calls; see mmcontrast.RoIBoxPairViews')
        if losses:
            views.check_bbox_head(self.student.roi_head.bbox_head)
        return views, losses

    # ------------------------------------------------------------------ training
    def loss(self, multi_batch_inputs: Dict[str, Tensor],
             multi_batch_data_samples: Dict[str, SampleList]) -> dict:
        """Source, pseudo-label, contrastive and adversarial losses of one batch.

        Args:
            multi_batch_inputs (dict[str, Tensor]): Images per branch: 'sup' (source),
                'unsup_teacher' (weak target view) and 'unsup_student' (strong view).
            multi_batch_data_samples (dict[str, list[DetDataSample]]): Data samples per
                branch; the target branches carry ``homography_matrix``.

        Returns:
            dict: Loss components.
        """
        source_feats = self.student.extract_feat(multi_batch_inputs['sup'])
        losses = rename_loss_dict(
            'sup_',
            reweight_loss_dict(
                self._detection_loss(source_feats, multi_batch_data_samples['sup']),
                self.semi_train_cfg.sup_weight))

        burn_in = self.semi_train_cfg.burn_in_iters
        cur_iter = MessageHub.get_current_instance().get_info('iter', 0)
        if cur_iter < burn_in:
            return losses
        if burn_in > 0 and cur_iter == burn_in:
            # The EMA teacher has only followed the source-only student so far; start
            # pseudo-labelling from the burnt-in student itself.
            self.teacher.load_state_dict(self.student.state_dict())
            print_log(f'burn-in finished at iter {cur_iter}: teacher reset to the student', 'current')

        weak_samples, batch_info = self.get_pseudo_instances(
            multi_batch_inputs['unsup_teacher'], multi_batch_data_samples['unsup_teacher'])
        strong_samples = self.project_pseudo_instances(weak_samples,
                                                       multi_batch_data_samples['unsup_student'])
        strong_feats = self.student.extract_feat(multi_batch_inputs['unsup_student'])
        losses.update(self._pseudo_label_loss(strong_feats, strong_samples))

        if self.contrast_losses:
            losses.update(
                self._contrastive_loss(multi_batch_inputs['unsup_teacher'], weak_samples, strong_feats,
                                       strong_samples, batch_info['contrast_boxes']))
        if self.domain_discriminator is not None:
            losses['loss_adv'] = self.domain_discriminator.loss(source_feats, strong_feats)
        return losses

    def _detection_loss(self, feats: Tuple[Tensor], batch_data_samples: SampleList) -> dict:
        """RPN + RoI losses from already extracted features.

        Follows ``TwoStageDetector.loss`` but takes features, so that the same student
        features also feed the contrastive loss and the discriminator.
        """
        student = self.student
        rpn_data_samples = copy.deepcopy(batch_data_samples)
        for data_sample in rpn_data_samples:  # the RPN is class-agnostic
            data_sample.gt_instances.labels = torch.zeros_like(data_sample.gt_instances.labels)
        proposal_cfg = student.train_cfg.get('rpn_proposal', student.test_cfg.rpn)
        rpn_losses, rpn_results = student.rpn_head.loss_and_predict(
            feats, rpn_data_samples, proposal_cfg=proposal_cfg)
        losses = {(f'rpn_{k}' if 'loss' in k and 'rpn' not in k else k): v for k, v in rpn_losses.items()}
        losses.update(student.roi_head.loss(feats, rpn_results, batch_data_samples))
        return losses

    def _pseudo_label_loss(self, feats: Tuple[Tensor], batch_data_samples: SampleList) -> dict:
        """Student detection loss on the strong view against confident teacher boxes."""
        batch_data_samples = filter_gt_instances(
            batch_data_samples, score_thr=self.semi_train_cfg.cls_pseudo_thr)
        losses = self._detection_loss(feats, batch_data_samples)
        if not self.semi_train_cfg.pseudo_box_reg:
            losses = {k: v for k, v in losses.items() if not (k.startswith('loss') and 'bbox' in k)}
        num_boxes = sum(len(data_sample.gt_instances) for data_sample in batch_data_samples)
        # Without pseudo-boxes every proposal would be trained as background.
        weight = self.semi_train_cfg.unsup_weight if num_boxes > 0 else 0.0
        losses = rename_loss_dict('unsup_', reweight_loss_dict(losses, weight))
        losses['unsup_num_pseudo_boxes'] = feats[0].new_tensor(float(num_boxes))  # logged, not optimised
        return losses

    @torch.no_grad()
    def get_pseudo_instances(self, batch_inputs: Tensor,
                             batch_data_samples: SampleList) -> Tuple[SampleList, dict]:
        """Teacher predictions on the weak view, plus the boxes for the contrastive loss.

        Returns:
            tuple: The data samples with ``gt_instances`` = teacher predictions in
            original-image coordinates (as ``SemiBaseDetector`` expects), and a dict
            with ``contrast_boxes``: per image, boxes in weak-view coordinates.
        """
        self.teacher.eval()
        feats = self.teacher.extract_feat(batch_inputs)
        proposals = self.teacher.rpn_head.predict(feats, batch_data_samples, rescale=False)
        results = self.teacher.roi_head.predict(feats, proposals, batch_data_samples, rescale=False)
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

    # --------------------------------------------------------------- contrastive
    def _contrastive_loss(self, weak_inputs: Tensor, weak_samples: SampleList, strong_feats: Tuple[Tensor],
                          strong_samples: SampleList, contrast_boxes: Sequence[Tensor]) -> Dict[str, Tensor]:
        """Contrast the student's RoI outputs for the same boxes in the two target views.

        ``contrast_views`` pairs the boxes (weak view -> strong view, dropping pairs too
        small in either); every named loss then compares the same RoI outputs. With no
        pair left each loss is a zero connected to the graph.

        Returns:
            dict: ``unsup_loss_<name>`` per loss and ``unsup_num_contrast_boxes``.
        """
        weak_feats = self.student.extract_feat(weak_inputs)
        weak_boxes, strong_boxes = self.contrast_views.pair_boxes(contrast_boxes, weak_samples, strong_samples)
        num_pairs = sum(len(b) for b in weak_boxes)
        if num_pairs == 0:
            zero = sum(f.sum() for f in weak_feats) * 0.0 + sum(f.sum() for f in strong_feats) * 0.0
            losses = {f'unsup_loss_{name}': zero for name in self.contrast_losses}
        else:
            roi_head = self.student.roi_head
            # One RoI forward per view, shared by all losses.
            outputs_weak = self.contrast_views.roi_outputs(roi_head, weak_feats, weak_boxes)
            outputs_strong = self.contrast_views.roi_outputs(roi_head, strong_feats, strong_boxes)
            losses = {
                f'unsup_loss_{name}': loss(outputs_weak, outputs_strong)
                for name, loss in self.contrast_losses.items()
            }
        losses['unsup_num_contrast_boxes'] = next(iter(losses.values())).new_tensor(float(num_pairs))
        return losses


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
    views = dict(type=_DEFAULT_VIEWS, **dict(contrast_cfg or {}))
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
