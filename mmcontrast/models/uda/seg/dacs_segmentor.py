"""DACS-style self-training UDA segmentor with optional PCL / FCL, RCS-ready, on mmseg 1.x."""
import copy
import logging
from typing import Dict, List, Optional, Tuple

import torch
import torch.nn.functional as F
from mmengine.config import ConfigDict
from mmengine.logging import print_log
from mmengine.model import BaseModel
from mmseg.models.losses import accuracy
from mmseg.models.utils import resize
from mmseg.registry import MODELS as MMSEG_MODELS
from mmseg.utils import ConfigType, OptConfigType, OptMultiConfig, SampleList, add_prefix
from torch import Tensor, nn

from mmcontrast.registry import MODELS
from mmcontrast.utils.scope import build_in_scope
from .class_mix import class_mix
from .ema_teacher import EMATeacher
from .feature_distance import ImageNetFeatureDistance
from .pseudo_label import PseudoLabels, make_pseudo_labels
from .strong_aug import StrongAugmentation, StrongViews

_CONTRAST_VIEWS = ('target', 'mixed')
_PREDICT_ON = ('teacher', 'student')


def _scoped(cfg: dict, scope: str) -> dict:
    """Prefix an unscoped ``type`` string with ``scope`` (build from any default scope)."""
    cfg = copy.deepcopy(dict(cfg))
    if isinstance(cfg.get('type'), str) and '.' not in cfg['type']:
        cfg['type'] = f'{scope}.{cfg["type"]}'
    return cfg


def _nearest(label: Tensor, size: Tuple[int, int]) -> Tensor:
    """Nearest resize of a ``[B, H, W]`` integer/bool map."""
    if tuple(label.shape[-2:]) == tuple(size):
        return label
    return F.interpolate(label[:, None].float(), size=size, mode='nearest')[:, 0].to(label.dtype)


@MODELS.register_module()
class DACSSegmentor(BaseModel):
    """Self-training UDA segmentor (DACS / DAFormer recipe) wrapping a stock mmseg segmentor.

    One training iteration (all inside :meth:`loss`, so mmengine's DDP wrapper runs it):

    1. EMA update of the teacher, ``alpha_t = min(1 - 1 / (t + 1), ema_alpha)``.
    2. Supervised loss of the student on the source batch (its own decode/auxiliary
       losses), plus the optional ImageNet feature distance on source thing classes.
    3. Teacher pseudo-labels on the weak target view; per-image quality weight = fraction
       of pixels with confidence >= ``pseudo_threshold``; ``pseudo_ignore_top/bottom``
       rows get weight 0.
    4. ClassMix (half of the classes of source image i pasted onto target image i),
       strong augmentation (colour jitter, Gaussian blur, optional flip applied to image,
       mixed label and mixed weight alike) and the weighted loss of the student on it.
    5. Optional contrast between a weak and a strong view of the same target crop, on the
       student's decoder outputs before upsampling: class-level and pixel-level PCL on the
       logits (``class_pcl`` / ``pixel_pcl``), or the FCL baseline (``fcl``, InfoNCE on the
       features entering ``decode_head.conv_seg``). ``contrast_view='target'`` (default)
       uses a dedicated strong view of the target image (photometric strong aug; a flip,
       if any, is undone on the outputs); ``'mixed'`` reuses the mixed image's forward and
       contrasts only its target pixels (cheaper: one extra forward instead of two).

    Loss keys are prefixed ``src.``, ``mix.`` and ``tgt.``. Prediction uses the teacher by
    default (``predict_on``); ``semi_test_cfg['predict_on']`` is what mmdet's
    ``TeacherStudentValLoop`` switches to evaluate both.

    The data batch is the multi-branch dict of :class:`mmcontrast.UDADataset`
    (``inputs``/``data_samples`` with ``source`` and ``target``), preprocessed by mmdet's
    ``MultiBranchDataPreprocessor`` around the segmentor's ``SegDataPreProcessor``.

    Args:
        segmentor (dict): Config of a stock mmseg ``EncoderDecoder``. Its
            ``data_preprocessor`` is used when ``data_preprocessor`` is None.
        data_preprocessor (dict, optional): A ``SegDataPreProcessor`` config (wrapped in
            ``MultiBranchDataPreprocessor`` here) or a multi-branch one. Defaults to None.
        ema_alpha (float): Maximum EMA decay. Defaults to 0.999.
        pseudo_threshold (float): Confidence threshold. Defaults to 0.968.
        pseudo_ignore_top (int): Rows at the top ignored in the pseudo-label loss.
            Defaults to 0 (DAFormer on Cityscapes: 15).
        pseudo_ignore_bottom (int): Rows at the bottom ignored. Defaults to 0 (DAFormer: 120).
        mix_loss_weight (float): Weight of the mixed loss. Defaults to 1.0.
        strong_aug (dict, optional): Arguments of :class:`StrongAugmentation` besides
            mean/std. Defaults to None (DAFormer's: jitter 0.2 w.p. 0.2, blur w.p. 0.5).
        class_pcl (dict, optional): ``mmcontrast.ClassPCLLoss`` config. Defaults to None.
        pixel_pcl (dict, optional): ``mmcontrast.PixelPCLLoss`` config. Defaults to None.
        fcl (dict, optional): ``mmcontrast.InfoNCELoss`` config. Defaults to None.
        contrast_view (str): 'target' or 'mixed' (see above). Defaults to 'target'.
        fcl_num_pixels (int): Locations sampled per image for FCL. Defaults to 256.
        imnet_feature_dist (dict, optional): Arguments of :class:`ImageNetFeatureDistance`
            (``loss_weight``, ``classes``, ``scale_min_ratio``, ``checkpoint``, ...). The
            checkpoint defaults to the backbone's Pretrained ``init_cfg``. Defaults to None.
        predict_on (str): 'teacher' or 'student'. Defaults to 'teacher'.
        init_cfg (dict, optional): Defaults to None.
    """

    def __init__(self,
                 segmentor: ConfigType,
                 data_preprocessor: OptConfigType = None,
                 ema_alpha: float = 0.999,
                 pseudo_threshold: float = 0.968,
                 pseudo_ignore_top: int = 0,
                 pseudo_ignore_bottom: int = 0,
                 mix_loss_weight: float = 1.0,
                 strong_aug: Optional[dict] = None,
                 class_pcl: OptConfigType = None,
                 pixel_pcl: OptConfigType = None,
                 fcl: OptConfigType = None,
                 contrast_view: str = 'target',
                 fcl_num_pixels: int = 256,
                 imnet_feature_dist: OptConfigType = None,
                 predict_on: str = 'teacher',
                 init_cfg: OptMultiConfig = None) -> None:
        # ConfigDict all the way down: mmseg reads e.g. ``test_cfg.mode`` as attributes.
        segmentor = ConfigDict(copy.deepcopy(segmentor))
        child_preprocessor = segmentor.pop('data_preprocessor', None)
        data_preprocessor = data_preprocessor if data_preprocessor is not None else child_preprocessor
        if data_preprocessor is None:
            raise ValueError('DACSSegmentor needs a data_preprocessor (a SegDataPreProcessor config, '
                             'given directly or inside segmentor)')
        if 'MultiBranchDataPreprocessor' not in str(data_preprocessor.get('type')):
            data_preprocessor = dict(
                type='mmdet.MultiBranchDataPreprocessor', data_preprocessor=_scoped(data_preprocessor, 'mmseg'))
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        if contrast_view not in _CONTRAST_VIEWS:
            raise ValueError(f'contrast_view must be one of {_CONTRAST_VIEWS}, got {contrast_view!r}')
        if predict_on not in _PREDICT_ON:
            raise ValueError(f'predict_on must be one of {_PREDICT_ON}, got {predict_on!r}')
        if mix_loss_weight < 0 or fcl_num_pixels < 1:
            raise ValueError(f'mix_loss_weight must be >= 0 and fcl_num_pixels >= 1, got '
                             f'{mix_loss_weight} and {fcl_num_pixels}')

        self.student = build_in_scope(segmentor, 'mmseg', MMSEG_MODELS)
        self.teacher = EMATeacher(self.student, ema_alpha)
        self.pseudo_threshold = pseudo_threshold
        self.pseudo_ignore_top = pseudo_ignore_top
        self.pseudo_ignore_bottom = pseudo_ignore_bottom
        self.mix_loss_weight = mix_loss_weight
        self.ignore_index = self.student.decode_head.ignore_index
        # The strong augmentation denormalises with the preprocessor's mean/std.
        inner_cfg = data_preprocessor.get('data_preprocessor', data_preprocessor)
        mean, std = inner_cfg.get('mean'), inner_cfg.get('std')
        self.strong_aug = StrongAugmentation(mean if mean is not None else [0., 0., 0.],
                                             std if std is not None else [1., 1., 1.], **(strong_aug or {}))

        self.class_pcl = build_in_scope(class_pcl)
        self.pixel_pcl = build_in_scope(pixel_pcl)
        self.fcl = build_in_scope(fcl)
        self.contrast_view = contrast_view
        self.fcl_num_pixels = fcl_num_pixels
        # Features entering the decode head's classifier, captured by a hook registered
        # after the teacher copy (so the teacher has no hook).
        self._captured: Optional[List[Tensor]] = None
        self.student.decode_head.conv_seg.register_forward_pre_hook(self._capture_hook)

        self.feature_dist = None
        if imnet_feature_dist:
            fd_cfg = dict(imnet_feature_dist)
            fd_cfg.setdefault('checkpoint', self._backbone_checkpoint(segmentor))
            fd_cfg.setdefault('num_classes', self.student.num_classes)
            fd_cfg.setdefault('ignore_index', self.ignore_index)
            self.feature_dist = ImageNetFeatureDistance(segmentor['backbone'], **fd_cfg)

        self.semi_test_cfg = dict(predict_on=predict_on)
        self.cache_visuals = False
        self.last_visuals: Optional[Dict[str, Tensor]] = None
        self._warned_untrained_teacher = False

    @staticmethod
    def _backbone_checkpoint(segmentor: dict) -> Optional[str]:
        init_cfg = segmentor['backbone'].get('init_cfg') or {}
        if isinstance(init_cfg, dict) and init_cfg.get('type') == 'Pretrained':
            return init_cfg.get('checkpoint')
        return segmentor.get('pretrained')

    def _capture_hook(self, module: nn.Module, args: tuple) -> None:
        if self._captured is not None:
            self._captured.append(args[0])

    @property
    def with_contrast(self) -> bool:
        """Whether any contrastive term is enabled."""
        return any(m is not None for m in (self.class_pcl, self.pixel_pcl, self.fcl))

    def train(self, mode: bool = True) -> 'DACSSegmentor':
        """The teacher (and the ImageNet model) stay in eval mode."""
        super().train(mode)
        self.teacher.eval()
        return self

    # ------------------------------------------------------------------ training
    def loss(self, inputs: Dict[str, Tensor], data_samples: Dict[str, SampleList]) -> Dict[str, Tensor]:
        """One self-training step (see the class docstring) and its losses."""
        src_img, tgt_img, src_samples, tgt_samples = self._unpack(inputs, data_samples)
        self.teacher.update_parameters(self.student)
        losses = dict()

        student = self.student
        src_backbone_feats = student.backbone(src_img)
        src_feats = student.neck(src_backbone_feats) if student.with_neck else src_backbone_feats
        losses.update(add_prefix(self._supervised_losses(src_feats, src_samples), 'src'))
        src_label = torch.stack([s.gt_sem_seg.data for s in src_samples])[:, 0].long()
        if self.feature_dist is not None and self.feature_dist.available:
            losses['src.loss_imnet_fd'] = self.feature_dist(src_img, src_backbone_feats, src_label)

        pseudo = self._pseudo_label(tgt_img)
        mixed_img, mixed_label, mixed_weight, mix_mask = class_mix(src_img, tgt_img, src_label, pseudo.label,
                                                                   torch.ones_like(pseudo.weight), pseudo.weight,
                                                                   self.ignore_index)
        strong = self.strong_aug(mixed_img, mixed_label, mixed_weight)
        self._captured = [] if self.fcl is not None and self.contrast_view == 'mixed' else None
        mix_feats = student.extract_feat(strong.img)
        mix_losses, mix_logits = self._weighted_losses(mix_feats, strong.label, strong.weight)
        mix_captured, self._captured = self._captured, None
        for name, value in mix_losses.items():
            losses[f'mix.{name}'] = value * self.mix_loss_weight if 'loss' in name else value
        losses['mix.pseudo_quality'] = pseudo.quality.mean()

        if self.with_contrast:
            losses.update(add_prefix(self._contrast_losses(tgt_img, pseudo, strong, mix_mask, mix_logits,
                                                           mix_captured), 'tgt'))
        if self.cache_visuals:
            self.last_visuals = dict(
                target_img=self._to_rgb(tgt_img), pseudo_label=pseudo.label, confidence=pseudo.confidence,
                pseudo_weight=pseudo.weight, mixed_img=self._to_rgb(strong.img), mixed_label=strong.label)
            self.last_visuals = {k: v.detach().cpu() for k, v in self.last_visuals.items()}
        return losses

    def _unpack(self, inputs: Dict[str, Tensor],
                data_samples: Dict[str, SampleList]) -> Tuple[Tensor, Tensor, SampleList, SampleList]:
        if not isinstance(inputs, dict) or not {'source', 'target'} <= set(inputs):
            raise ValueError('DACSSegmentor.loss expects the multi-branch batch of UDADataset: '
                             f"inputs=dict(source=..., target=...), got {type(inputs).__name__} "
                             f'{list(inputs) if isinstance(inputs, dict) else ""}')
        src_img, tgt_img = inputs['source'], inputs['target']
        if src_img.shape != tgt_img.shape:
            raise ValueError(f'source {tuple(src_img.shape)} and target {tuple(tgt_img.shape)} batches '
                             'must have the same shape for mixing: use the same crop size and batch size')
        src_samples, tgt_samples = data_samples['source'], data_samples['target']
        if not all('gt_sem_seg' in s for s in src_samples):
            raise ValueError('every source data sample needs gt_sem_seg (LoadAnnotations in the source pipeline)')
        return src_img, tgt_img, src_samples, tgt_samples

    def _supervised_losses(self, feats: List[Tensor], samples: SampleList) -> Dict[str, Tensor]:
        losses = self.student._decode_head_forward_train(feats, samples)
        if self.student.with_auxiliary_head:
            losses.update(self.student._auxiliary_head_forward_train(feats, samples))
        return losses

    @staticmethod
    def _head_weighted_loss(head: nn.Module, logits: Tensor, label: Tensor, weight: Tensor) -> Dict[str, Tensor]:
        """The head's own ``loss_decode`` terms with per-pixel weights."""
        logits = resize(logits, size=label.shape[-2:], mode='bilinear', align_corners=head.align_corners)
        loss_fns = head.loss_decode if isinstance(head.loss_decode, nn.ModuleList) else [head.loss_decode]
        losses = dict()
        for loss_fn in loss_fns:
            value = loss_fn(logits, label, weight=weight, ignore_index=head.ignore_index)
            losses[loss_fn.loss_name] = losses.get(loss_fn.loss_name, 0) + value
        losses['acc_seg'] = accuracy(logits, label, ignore_index=head.ignore_index)
        return losses

    def _weighted_losses(self, feats: List[Tensor], label: Tensor,
                         weight: Tensor) -> Tuple[Dict[str, Tensor], Tensor]:
        """Pseudo-label losses of all heads; returns them and the decode logits."""
        student = self.student
        logits = student.decode_head(feats)
        losses = add_prefix(self._head_weighted_loss(student.decode_head, logits, label, weight), 'decode')
        if student.with_auxiliary_head:
            heads = student.auxiliary_head
            named = ([(f'aux_{i}', h) for i, h in enumerate(heads)] if isinstance(heads, nn.ModuleList) else
                     [('aux', heads)])
            for prefix, head in named:
                losses.update(add_prefix(self._head_weighted_loss(head, head(feats), label, weight), prefix))
        return losses, logits

    @torch.no_grad()
    def _pseudo_label(self, tgt_img: Tensor) -> PseudoLabels:
        teacher = self.teacher.module
        logits = resize(teacher._forward(tgt_img), size=tgt_img.shape[-2:], mode='bilinear',
                        align_corners=teacher.align_corners)
        return make_pseudo_labels(logits, self.pseudo_threshold, self.pseudo_ignore_top, self.pseudo_ignore_bottom)

    def _contrast_losses(self, tgt_img: Tensor, pseudo: PseudoLabels, strong: StrongViews, mix_mask: Tensor,
                         mix_logits: Tensor, mix_captured: Optional[List[Tensor]]) -> Dict[str, Tensor]:
        """PCL / FCL between a weak and a pixel-aligned strong view of the target crop."""
        student = self.student
        self._captured = [] if self.fcl is not None else None
        if self.contrast_view == 'target':
            views = self.strong_aug(tgt_img)
            logits_weak, logits_strong = student._forward(torch.cat([tgt_img, views.img])).chunk(2)
            feats = self._captured[0].chunk(2) if self._captured is not None else (None, None)
            flipped, target_pixels = views.flipped, None
        else:
            logits_weak = student._forward(tgt_img)
            logits_strong = mix_logits
            feats = (self._captured[0], mix_captured[0]) if self._captured is not None else (None, None)
            flipped, target_pixels = strong.flipped, ~mix_mask
        self._captured = None
        # Undo the strong view's flip so both outputs index the same target pixels.
        logits_strong = StrongAugmentation.unflip(logits_strong, flipped)
        size = tuple(logits_weak.shape[-2:])
        label = torch.where(pseudo.confident, pseudo.label, self.ignore_index)
        valid = pseudo.in_crop
        if target_pixels is not None:
            label = label.masked_fill(~target_pixels, self.ignore_index)
            valid = valid & target_pixels
        label, valid = _nearest(label, size), _nearest(valid, size)

        losses = dict()
        if self.class_pcl is not None:
            losses['loss_class_pcl'] = self.class_pcl(logits_weak, logits_strong, pseudo_label=label)
        if self.pixel_pcl is not None:
            losses['loss_pixel_pcl'] = self.pixel_pcl(logits_weak, logits_strong, valid_mask=valid)
        if self.fcl is not None:
            feat_weak, feat_strong = feats[0], StrongAugmentation.unflip(feats[1], flipped)
            losses['loss_fcl'] = self._fcl_loss(feat_weak, feat_strong, _nearest(valid, feat_weak.shape[-2:]))
        return losses

    def _fcl_loss(self, feat_weak: Tensor, feat_strong: Tensor, valid: Tensor) -> Tensor:
        """InfoNCE over ``fcl_num_pixels`` random valid locations per image."""
        rows_weak, rows_strong = [], []
        for fw, fs, v in zip(feat_weak, feat_strong, valid):
            index = v.flatten().nonzero().squeeze(1)
            index = index[torch.randperm(index.numel(), device=index.device)[:self.fcl_num_pixels]]
            rows_weak.append(fw.flatten(1)[:, index].t())
            rows_strong.append(fs.flatten(1)[:, index].t())
        return self.fcl(torch.cat(rows_weak), torch.cat(rows_strong))

    def _to_rgb(self, img: Tensor) -> Tensor:
        """Normalised batch -> uint8 RGB ``[B, 3, H, W]`` for visualisation."""
        aug = self.strong_aug
        return (img * aug.std.to(img) + aug.mean.to(img)).clamp(0, 255).to(torch.uint8)

    # ---------------------------------------------------------------- inference
    def _predict_model(self) -> nn.Module:
        predict_on = self.semi_test_cfg.get('predict_on', 'teacher')
        if predict_on not in _PREDICT_ON:
            raise ValueError(f"semi_test_cfg['predict_on'] must be one of {_PREDICT_ON}, got {predict_on!r}")
        if predict_on == 'student':
            return self.student
        if int(self.teacher.steps) == 0 and not self._warned_untrained_teacher:
            print_log('DACSSegmentor predicts with a teacher that was never updated (teacher.steps == 0): '
                      'load a trained checkpoint or set predict_on=student.', logger='current',
                      level=logging.WARNING)
            self._warned_untrained_teacher = True
        return self.teacher.module

    def predict(self, inputs: Tensor, data_samples: Optional[SampleList] = None) -> SampleList:
        """Predict with the teacher or the student (``semi_test_cfg['predict_on']``)."""
        return self._predict_model().predict(inputs, data_samples)

    def _forward(self, inputs: Tensor, data_samples: Optional[SampleList] = None) -> Tensor:
        """Decoder logits of the prediction model."""
        return self._predict_model()._forward(inputs, data_samples)

    def forward(self, inputs, data_samples=None, mode: str = 'tensor'):
        """Dispatch to :meth:`loss`, :meth:`predict` or :meth:`_forward`."""
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'tensor':
            return self._forward(inputs, data_samples)
        raise RuntimeError(f'Invalid mode "{mode}". Only supports loss, predict and tensor mode')

