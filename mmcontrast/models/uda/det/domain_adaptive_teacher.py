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
from contextlib import contextmanager
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

import torch
from mmdet.models.detectors import SemiBaseDetector, TwoStageDetector
from mmdet.models.utils import filter_gt_instances, rename_loss_dict, reweight_loss_dict
from mmdet.structures import SampleList
from mmdet.structures.bbox import bbox2roi, bbox_project
from mmdet.utils import ConfigType, OptConfigType, OptMultiConfig
from mmengine.config import ConfigDict
from mmengine.logging import MessageHub, print_log
from torch import Tensor, nn

from mmcontrast.registry import MODELS

_CONTRAST_TARGETS = ('cls_score', 'roi_feat')
_CONTRAST_BOXES = ('pseudo', 'proposals')


@contextmanager
def _capture_input(module: nn.Module) -> Iterator[List[Tensor]]:
    """Record the first positional input of every ``module`` call inside the block."""
    store: List[Tensor] = []
    handle = module.register_forward_pre_hook(lambda _, args: store.append(args[0]))
    try:
        yield store
    finally:
        handle.remove()


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
        contrast_loss (dict, optional): Contrastive loss across the two target views,
            e.g. ``dict(type='mmcontrast.PCLLoss', scale=20.0, loss_weight=0.1)``. Called
            as ``loss(outputs_weak [N, D], outputs_strong [N, D])``. None disables it.
        contrast_cfg (dict, optional): Which outputs and boxes the contrastive loss uses:

            - ``target`` (str): 'cls_score' (RoI class logits, C+1; PCL turns them into
              probabilities) or 'roi_feat' (input of the classifier fc, for FCL).
              Default 'cls_score'.
            - ``boxes`` (tuple): any of 'pseudo' (teacher boxes with score >=
              ``pseudo_thr``) and 'proposals' (random teacher RPN proposals).
              Default ('pseudo', 'proposals').
            - ``pseudo_thr`` (float): defaults to ``cls_pseudo_thr``.
            - ``num_proposals`` (int): proposals sampled per image. Default 64.
            - ``min_box_wh`` (tuple): boxes smaller than this (pixels) in either
              view after projection are dropped. Default (4, 4).
        domain_discriminator (dict, optional): e.g.
            ``dict(type='mmcontrast.ImageDomainDiscriminator', in_channels=256)``.
            None disables adversarial alignment.
        data_preprocessor (dict, optional): Usually ``MultiBranchDataPreprocessor``.
        init_cfg (dict or list[dict], optional): Initialisation config.
    """

    def __init__(self,
                 detector: ConfigType,
                 semi_train_cfg: OptConfigType = None,
                 semi_test_cfg: OptConfigType = None,
                 contrast_loss: OptConfigType = None,
                 contrast_cfg: OptConfigType = None,
                 domain_discriminator: OptConfigType = None,
                 data_preprocessor: OptConfigType = None,
                 init_cfg: OptMultiConfig = None) -> None:
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

        self.contrast_loss = MODELS.build(contrast_loss) if contrast_loss is not None else None
        cfg = dict(target='cls_score', boxes=_CONTRAST_BOXES, pseudo_thr=None, num_proposals=64,
                   min_box_wh=(4.0, 4.0))
        unknown = set(contrast_cfg or {}) - set(cfg)
        if unknown:
            raise ValueError(f'unknown contrast_cfg keys {sorted(unknown)}; valid: {sorted(cfg)}')
        cfg.update(contrast_cfg or {})
        if cfg['target'] not in _CONTRAST_TARGETS:
            raise ValueError(f'contrast_cfg.target must be one of {_CONTRAST_TARGETS}, got {cfg["target"]!r}')
        cfg['boxes'] = tuple(cfg['boxes'])
        if not cfg['boxes'] or not set(cfg['boxes']) <= set(_CONTRAST_BOXES):
            raise ValueError(f'contrast_cfg.boxes must be a non-empty subset of {_CONTRAST_BOXES}, '
                             f'got {cfg["boxes"]}')
        if cfg['pseudo_thr'] is None:
            cfg['pseudo_thr'] = train_cfg['cls_pseudo_thr']
        self.contrast_cfg = cfg
        bbox_head = self.student.roi_head.bbox_head
        if self.contrast_loss is not None and cfg['target'] == 'cls_score' and (
                bbox_head.custom_cls_channels or bbox_head.fc_cls.out_features != bbox_head.num_classes + 1):
            raise ValueError('PCL on RoI class probabilities needs a softmax classifier with '
                             f'num_classes + 1 = {bbox_head.num_classes + 1} outputs (background last)')

        self.domain_discriminator = (
            MODELS.build(domain_discriminator) if domain_discriminator is not None else None)

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

        if self.contrast_loss is not None:
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
            contrast_boxes.append(self._select_contrast_boxes(result, proposal))
            to_original = torch.from_numpy(data_sample.homography_matrix).inverse().to(result.bboxes)
            result.bboxes = bbox_project(result.bboxes, to_original, data_sample.ori_shape)
            data_sample.gt_instances = result
        return batch_data_samples, dict(contrast_boxes=contrast_boxes)

    def _select_contrast_boxes(self, result, proposal) -> Tensor:
        """Weak-view boxes of one image for the contrastive loss."""
        boxes = [result.bboxes.new_zeros((0, 4))]
        if 'pseudo' in self.contrast_cfg['boxes']:
            boxes.append(result.bboxes[result.scores >= self.contrast_cfg['pseudo_thr']])
        if 'proposals' in self.contrast_cfg['boxes']:
            num = min(self.contrast_cfg['num_proposals'], len(proposal))
            index = torch.randperm(len(proposal), device=proposal.bboxes.device)[:num]
            boxes.append(proposal.bboxes[index])
        return torch.cat(boxes)

    # --------------------------------------------------------------- contrastive
    def _contrastive_loss(self, weak_inputs: Tensor, weak_samples: SampleList, strong_feats: Tuple[Tensor],
                          strong_samples: SampleList, contrast_boxes: Sequence[Tensor]) -> dict:
        """Contrast the student's RoI outputs for the same boxes in the two target views.

        Boxes live in the weak view; they go to the strong view through
        ``H_strong @ inv(H_weak)`` (both homographies map the original image to the view).
        Pairs where either box is smaller than ``min_box_wh`` (e.g. cropped away) are
        dropped. With no pair left the loss is a zero connected to the graph.
        """
        weak_feats = self.student.extract_feat(weak_inputs)
        min_w, min_h = self.contrast_cfg['min_box_wh']
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

        name = 'unsup_loss_' + type(self.contrast_loss).__name__.removesuffix('Loss').lower()
        num_pairs = sum(len(b) for b in weak_boxes)
        if num_pairs == 0:
            loss = sum(f.sum() for f in weak_feats) * 0.0 + sum(f.sum() for f in strong_feats) * 0.0
        else:
            loss = self.contrast_loss(
                self._roi_outputs(weak_feats, weak_boxes), self._roi_outputs(strong_feats, strong_boxes))
        return {name: loss, 'unsup_num_contrast_boxes': loss.new_tensor(float(num_pairs))}

    def _roi_outputs(self, feats: Tuple[Tensor], boxes: List[Tensor]) -> Tensor:
        """Student RoI-head class logits ``[N, C+1]`` or classifier-input features ``[N, D]``."""
        roi_head = self.student.roi_head
        rois = bbox2roi(boxes)
        if self.contrast_cfg['target'] == 'cls_score':
            return roi_head._bbox_forward(feats, rois)['cls_score']
        with _capture_input(roi_head.bbox_head.fc_cls) as captured:
            roi_head._bbox_forward(feats, rois)
        return captured[0].flatten(1)
