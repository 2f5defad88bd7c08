"""DACS-style self-training UDA segmentor with optional contrastive terms, on mmseg 1.x."""
import copy
import logging
from contextlib import nullcontext
from typing import Callable, Dict, List, Optional, Tuple

import torch
from mmengine.config import ConfigDict
from mmengine.logging import print_log
from mmengine.model import BaseModel
from mmengine.optim import OptimWrapper
from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.models.losses import accuracy
from mmseg.models.segmentors import EncoderDecoder
from mmseg.models.utils import resize
from mmseg.registry import MODELS as MMSEG_MODELS
from mmseg.utils import ConfigType, OptConfigType, OptMultiConfig, SampleList, add_prefix
from torch import Tensor, nn

from mmcontrast.models.utils import Source, TapRecorder
from mmcontrast.registry import MODELS
from mmcontrast.utils.scope import build_in_scope
from ..frozen_log import summarize_frozen_parameters
from .class_mix import class_mix
from .contrast_views import ContrastViewBuilder, UDAStep, needs_features
from .feature_distance import ImageNetFeatureDistance
from .pseudo_label import PseudoLabels, check_pseudo_label_args, make_pseudo_labels
from .strong_aug import StrongViews, build_strong_aug

_PREDICT_ON = ('teacher', 'student')
# DAFormer's choices (lhoyer/DAFormer, mmseg/models/uda/dacs.py); each is a registered strategy.
_DEFAULTS = dict(
    teacher=dict(type='mmcontrast.DAFormerTeacher', alpha=0.999),
    pseudo_label=dict(threshold=0.968, ignore_top=0, ignore_bottom=0, quality='batch'),
    mix=dict(type='mmcontrast.DAFormerClassMix'),
    strong_aug=dict(type='mmcontrast.DAFormerStrongAug'),
    backward=dict(type='mmcontrast.SequentialBackward'),
)
_CONTRAST_VIEWS = dict(type='mmcontrast.EHTDIViews')
# Arguments of the flat interface before the strategies, with what replaces them.
_LEGACY = dict(
    ema_alpha='teacher=dict(alpha=...)',
    pseudo_threshold='pseudo_label=dict(threshold=...)',
    pseudo_ignore_top='pseudo_label=dict(ignore_top=...)',
    pseudo_ignore_bottom='pseudo_label=dict(ignore_bottom=...)',
    class_pcl='contrast=dict(losses=dict(class_pcl=...))',
    pixel_pcl='contrast=dict(losses=dict(pixel_pcl=...))',
    fcl='contrast=dict(losses=dict(fcl=...))',
    contrast_view="contrast=dict(views=dict(type='mmcontrast.TargetViews' | 'mmcontrast.MixedViews' | "
    "'mmcontrast.EHTDIViews'))",
    fcl_num_pixels='contrast=dict(views=dict(feature_pixels=...))',
)


def _scoped(cfg: dict, scope: str) -> dict:
    """Prefix an unscoped ``type`` string with ``scope`` (build from any default scope)."""
    cfg = copy.deepcopy(dict(cfg))
    if isinstance(cfg.get('type'), str) and '.' not in cfg['type']:
        cfg['type'] = f'{scope}.{cfg["type"]}'
    return cfg


def _with_defaults(name: str, cfg: Optional[dict]) -> dict:
    """A partial strategy config (e.g. ``teacher=dict(alpha=0.99)``) over its default."""
    merged = copy.deepcopy(_DEFAULTS[name])
    if cfg and 'type' in cfg and cfg['type'] != merged.get('type'):
        merged = {}  # another strategy: none of the default's arguments apply
    merged.update(copy.deepcopy(dict(cfg or {})))
    return merged


def _inner_preprocessor(cfg: dict) -> dict:
    """The per-branch preprocessor of a possibly multi-branch config, type without scope."""
    cfg = dict(cfg.get('data_preprocessor', cfg)) if 'MultiBranch' in str(cfg.get('type')) else dict(cfg)
    cfg['type'] = str(cfg.get('type', '')).split('.')[-1]
    return cfg


def _choose_preprocessor(child: Optional[dict], top: Optional[dict]) -> dict:
    """The wrapped segmentor's own preprocessor wins; a different top-level one is reported."""
    if child is None and top is None:
        raise ValueError('DACSSegmentor needs a data_preprocessor (a SegDataPreProcessor config, '
                         'inside segmentor or given directly)')
    if child is not None and top is not None and _inner_preprocessor(child) != _inner_preprocessor(top):
        print_log(f"DACSSegmentor: the wrapped segmentor's data_preprocessor {dict(child)} is used; the "
                  f'top-level data_preprocessor {dict(top)} differs and is ignored', logger='current',
                  level=logging.WARNING)
    chosen = child if child is not None else top
    if 'MultiBranch' in str(chosen.get('type')):
        return dict(chosen)
    return dict(type='mmdet.MultiBranchDataPreprocessor', data_preprocessor=_scoped(chosen, 'mmseg'))


def _check_wrappable(student: nn.Module) -> List[BaseDecodeHead]:
    """The decode heads of ``student`` (one per cascade stage), or a TypeError saying why not."""
    if not isinstance(student, EncoderDecoder):
        raise TypeError(f'DACSSegmentor wraps mmseg EncoderDecoder / CascadeEncoderDecoder segmentors, got '
                        f"{type(student).__name__}: the self-training step needs the decode heads' per-pixel "
                        'logits and losses. Wrap the stock EncoderDecoder config of your network.')
    heads = student.decode_head
    heads = list(heads) if isinstance(heads, nn.ModuleList) else [heads]
    aux = student.auxiliary_head if student.with_auxiliary_head else []
    aux = list(aux) if isinstance(aux, nn.ModuleList) else ([aux] if aux else [])
    for head in heads + aux:
        if not isinstance(head, BaseDecodeHead):
            raise TypeError(f'DACSSegmentor cannot weight the losses of {type(head).__name__}: it is not an mmseg '
                            'BaseDecodeHead (mask-classification heads such as MaskFormerHead or Mask2FormerHead '
                            'predict masks and classes, not per-pixel logits, so per-pixel pseudo-label weights do '
                            'not apply). Use a per-pixel head (FCNHead, ASPPHead, SegformerHead, DAFormerHead, ...).')
    return heads


@MODELS.register_module()
class DACSSegmentor(BaseModel):
    """Self-training UDA segmentor (DACS / DAFormer) wrapping a stock mmseg segmentor.

    One training iteration, all inside :meth:`loss` (see it for the order):

    1. EMA update of the teacher (``teacher``: a registered policy, DAFormer's by default).
    2. Supervised loss of the student on the source batch (its own decode/auxiliary
       losses), plus the optional ImageNet feature distance on source thing classes.
    3. Teacher pseudo-labels on the weak target view with a quality weight (``pseudo_label``).
    4. ClassMix (``mix``: a registered class sampler), strong augmentation (``strong_aug``)
       and the weighted loss of the student on the mixed image.
    5. Optional contrastive terms between two views of the target crop (``contrast``):
       a registered view builder and named losses (class/pixel PCL, FCL).

    The backward schedule (``backward``) backpropagates each stage as it ends (DAFormer's
    sequential form, the default) or once for the sum. The recipes of the papers are
    config fragments: ``configs/_base_/uda/recipes/daformer.py`` and ``ehtdi.py``.

    Loss keys are prefixed ``src.``, ``mix.`` and ``tgt.``. Prediction uses the student by
    default (DAFormer reports the student); ``semi_test_cfg['predict_on']`` is what mmdet's
    ``TeacherStudentValLoop`` switches to evaluate both.

    The data batch is the multi-branch dict of :class:`mmcontrast.UDADataset`
    (``inputs``/``data_samples`` with ``source`` and ``target``), preprocessed by mmdet's
    ``MultiBranchDataPreprocessor`` around the segmentor's ``SegDataPreProcessor``.

    Args:
        segmentor (dict): Config of a stock mmseg ``EncoderDecoder`` or
            ``CascadeEncoderDecoder``. Its ``data_preprocessor`` wins over ``data_preprocessor``.
        data_preprocessor (dict, optional): A ``SegDataPreProcessor`` (wrapped in
            ``MultiBranchDataPreprocessor`` here) or a multi-branch config, used when the
            segmentor has none. Defaults to None.
        teacher (dict, optional): Teacher policy: ``type`` ('mmcontrast.DAFormerTeacher' or
            'mmcontrast.EvalModeTeacher') and ``alpha``. Defaults to DAFormer's, alpha 0.999.
        pseudo_label (dict, optional): ``threshold`` (0.968), ``ignore_top`` (0; DAFormer on
            Cityscapes: 15), ``ignore_bottom`` (0; DAFormer: 120) and ``quality`` ('batch',
            DAFormer's one weight per batch, or 'image').
        mix (dict, optional): Class sampler of ClassMix ('mmcontrast.DAFormerClassMix' or
            'mmcontrast.PerImageClassMix'). Defaults to DAFormer's.
        strong_aug (dict, optional): Strong augmentation ('mmcontrast.DAFormerStrongAug' or
            'mmcontrast.IndependentStrongAug' and their arguments). Defaults to DAFormer's.
        mix_loss_weight (float): Weight of the mixed loss. Defaults to 1.0.
        contrast (dict, optional): ``views`` (a view builder, default
            ``'mmcontrast.EHTDIViews'``) and ``losses`` (name -> loss config). Defaults to None.
        backward (dict, optional): 'mmcontrast.SequentialBackward' (default) or
            'mmcontrast.SummedBackward'.
        imnet_feature_dist (dict, optional): Arguments of :class:`ImageNetFeatureDistance`
            (``loss_weight``, ``classes``, ``scale_min_ratio``, ``checkpoint``, ...). The
            checkpoint defaults to the backbone's Pretrained ``init_cfg``. Defaults to None.
        predict_on (str): 'student' (DAFormer's) or 'teacher'. Defaults to 'student'.
        init_cfg (dict, optional): Defaults to None.
    """
    # UDADistributedDataParallel hands train_step the gradient synchronisation.
    supports_grad_sync = True

    def __init__(self,
                 segmentor: ConfigType,
                 data_preprocessor: OptConfigType = None,
                 teacher: OptConfigType = None,
                 pseudo_label: OptConfigType = None,
                 mix: OptConfigType = None,
                 strong_aug: OptConfigType = None,
                 mix_loss_weight: float = 1.0,
                 contrast: OptConfigType = None,
                 backward: OptConfigType = None,
                 imnet_feature_dist: OptConfigType = None,
                 predict_on: str = 'student',
                 init_cfg: OptMultiConfig = None,
                 **legacy) -> None:
        if legacy:
            hints = [f'{k} -> {_LEGACY[k]}' for k in legacy if k in _LEGACY]
            unknown = sorted(set(legacy) - set(_LEGACY))
            raise TypeError('DACSSegmentor got ' + (f'unknown arguments {unknown}' if unknown else '') +
                            ('; ' if unknown and hints else '') +
                            (f'arguments of the old flat interface: {"; ".join(hints)}' if hints else ''))
        # ConfigDict all the way down: mmseg reads e.g. ``test_cfg.mode`` as attributes.
        segmentor = ConfigDict(copy.deepcopy(segmentor))
        data_preprocessor = _choose_preprocessor(segmentor.pop('data_preprocessor', None), data_preprocessor)
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        if predict_on not in _PREDICT_ON:
            raise ValueError(f'predict_on must be one of {_PREDICT_ON}, got {predict_on!r}')
        if mix_loss_weight < 0:
            raise ValueError(f'mix_loss_weight must be >= 0, got {mix_loss_weight}')

        self.student = build_in_scope(segmentor, 'mmseg', MMSEG_MODELS)
        heads = _check_wrappable(self.student)
        self.ignore_index = heads[-1].ignore_index
        self.teacher = MODELS.build(_with_defaults('teacher', teacher), default_args=dict(model=self.student))
        self.pseudo_cfg = _with_defaults('pseudo_label', pseudo_label)
        check_pseudo_label_args(**self.pseudo_cfg)
        self.class_sampler = MODELS.build(_with_defaults('mix', mix))
        # The strong augmentation denormalises with the preprocessor's mean/std.
        inner = _inner_preprocessor(data_preprocessor)
        self.strong_aug = build_strong_aug(_with_defaults('strong_aug', strong_aug),
                                           inner.get('mean') or [0., 0., 0.], inner.get('std') or [1., 1., 1.])
        self.mix_loss_weight = mix_loss_weight
        self.backward_schedule = MODELS.build(_with_defaults('backward', backward))
        self._num_heads = len(heads)
        self._build_contrast(contrast, num_heads=len(heads))

        self.feature_dist = None
        if imnet_feature_dist:
            fd_cfg = dict(imnet_feature_dist)
            fd_cfg.setdefault('checkpoint', self._backbone_checkpoint(segmentor))
            fd_cfg.setdefault('num_classes', self.student.num_classes)
            fd_cfg.setdefault('ignore_index', self.ignore_index)
            self.feature_dist = ImageNetFeatureDistance(segmentor['backbone'], **fd_cfg)

        self.semi_test_cfg = dict(predict_on=predict_on)
        summarize_frozen_parameters(type(self).__name__, {
            'teacher.': ('the EMA teacher', sum(1 for _ in self.teacher.parameters())),
            'feature_dist.': ('the ImageNet model', 0 if self.feature_dist is None else
                              sum(1 for _ in self.feature_dist.parameters()))})
        self.cache_visuals = False
        self.last_visuals: Optional[Dict[str, Tensor]] = None
        self._warned_untrained_teacher = False
        self.train(self.training)  # puts the teacher in its policy's mode

    def _build_contrast(self, contrast: OptConfigType, num_heads: int) -> None:
        contrast = dict(contrast or {})
        unknown = set(contrast) - {'views', 'losses'}
        if unknown:
            raise ValueError(f'contrast has unknown keys {sorted(unknown)}; valid: views, losses')
        views = dict(_CONTRAST_VIEWS, **(contrast.get('views') or {}))
        self.contrast_views: ContrastViewBuilder = MODELS.build(views)
        self.contrast_losses = nn.ModuleDict(
            {name: build_in_scope(cfg) for name, cfg in (contrast.get('losses') or {}).items() if cfg is not None})
        # The classifier input of the last decode head, recorded on demand (FCL); created after
        # the teacher copy so that the teacher carries no hook.
        path = 'decode_head.conv_seg' if num_heads == 1 else f'decode_head.{num_heads - 1}.conv_seg'
        self._feature_source = Source.parse(f'{path}:input')
        self._need_features = any(needs_features(loss) for loss in self.contrast_losses.values())
        self._taps = TapRecorder(self.student, [self._feature_source]) if self._need_features else None

    @staticmethod
    def _backbone_checkpoint(segmentor: dict) -> Optional[str]:
        init_cfg = segmentor['backbone'].get('init_cfg') or {}
        if isinstance(init_cfg, dict) and init_cfg.get('type') == 'Pretrained':
            return init_cfg.get('checkpoint')
        return segmentor.get('pretrained')

    def train(self, mode: bool = True) -> 'DACSSegmentor':
        """The teacher takes its policy's mode; the ImageNet model stays in eval mode."""
        super().train(mode)
        self.teacher.set_mode(mode)
        if self.feature_dist is not None:
            self.feature_dist.eval()
        return self

    # ------------------------------------------------------------------ training
    def train_step(self, data: dict, optim_wrapper: OptimWrapper,
                   grad_sync: Optional[Callable[[], None]] = None) -> Dict[str, Tensor]:
        """Forward, the backward schedule's passes and one update; ``grad_sync`` is DDP's reduction."""
        with optim_wrapper.optim_context(self):
            data = self.data_preprocessor(data, True)
            with self.backward_schedule.bound(optim_wrapper):
                losses = self._run_forward(data, mode='loss')
        parsed_loss, log_vars = self.parse_losses(losses)
        self.backward_schedule.step(optim_wrapper, parsed_loss, grad_sync)
        return log_vars

    def loss(self, inputs: Dict[str, Tensor], data_samples: Dict[str, SampleList]) -> Dict[str, Tensor]:
        """One self-training step (see the class docstring) and its losses, in order."""
        src_img, tgt_img, src_samples = self._unpack(inputs, data_samples)
        src_label = torch.stack([s.gt_sem_seg.data for s in src_samples])[:, 0].long()
        self.teacher.update_parameters(self.student)
        stage = self.backward_schedule.stage  # backpropagates here when sequential

        # Source: the student's own supervised losses (+ ImageNet feature distance).
        losses = stage(self._source_losses(src_img, src_samples, src_label), self.parse_losses)

        # Target: pseudo-labels of the teacher, ClassMix, strong augmentation, weighted loss.
        pseudo = self._pseudo_label(tgt_img)
        mix_mask = self.class_sampler(src_label, self.ignore_index)
        mixed_img, mixed_label, mixed_weight, mix_mask = class_mix(
            src_img, tgt_img, src_label, pseudo.label, torch.ones_like(pseudo.weight), pseudo.weight,
            self.ignore_index, mask=mix_mask)
        strong = self.strong_aug(mixed_img, mixed_label, mixed_weight)
        mix_outputs, mix_feats = self._decode(strong.img, with_aux=True)
        mix_losses, mix_logits = self._mixed_losses(mix_outputs, strong), mix_outputs[self._num_heads - 1][2]

        # Contrast between two views of the target crop (may reuse the mixed forward).
        if self.contrast_losses:
            step = UDAStep(src_img, tgt_img, src_label, pseudo, mix_mask, strong, mix_logits, mix_feats,
                           self.ignore_index)
            views = self.contrast_views(step, self._student_forward, self.strong_aug)
            mix_losses.update(add_prefix(self.contrast_views.terms(self.contrast_losses, views), 'tgt'))
        losses.update(stage(mix_losses, self.parse_losses))
        losses['mix.pseudo_quality'] = pseudo.quality.mean()
        self._cache_visuals(tgt_img, pseudo, strong)
        return losses

    def _unpack(self, inputs: Dict[str, Tensor],
                data_samples: Dict[str, SampleList]) -> Tuple[Tensor, Tensor, SampleList]:
        if not isinstance(inputs, dict) or not {'source', 'target'} <= set(inputs):
            raise ValueError('DACSSegmentor.loss expects the multi-branch batch of UDADataset: '
                             f'inputs=dict(source=..., target=...), got {type(inputs).__name__} '
                             f'{list(inputs) if isinstance(inputs, dict) else ""}')
        src_img, tgt_img = inputs['source'], inputs['target']
        if src_img.shape != tgt_img.shape:
            raise ValueError(f'source {tuple(src_img.shape)} and target {tuple(tgt_img.shape)} batches '
                             'must have the same shape for mixing: use the same crop size and batch size')
        src_samples = data_samples['source']
        if not all('gt_sem_seg' in s for s in src_samples):
            raise ValueError('every source data sample needs gt_sem_seg (LoadAnnotations in the source pipeline)')
        return src_img, tgt_img, src_samples

    def _source_losses(self, src_img: Tensor, src_samples: SampleList, src_label: Tensor) -> Dict[str, Tensor]:
        student = self.student
        backbone_feats = student.backbone(src_img)
        feats = student.neck(backbone_feats) if student.with_neck else backbone_feats
        losses = student._decode_head_forward_train(feats, src_samples)
        if student.with_auxiliary_head:
            losses.update(student._auxiliary_head_forward_train(feats, src_samples))
        losses = add_prefix(losses, 'src')
        if self.feature_dist is not None and self.feature_dist.available:
            losses['src.loss_imnet_fd'] = self.feature_dist(src_img, backbone_feats, src_label)
        return losses

    @torch.no_grad()
    def _pseudo_label(self, tgt_img: Tensor) -> PseudoLabels:
        logits = resize(self.teacher.logits(tgt_img), size=tgt_img.shape[-2:], mode='bilinear',
                        align_corners=self.teacher.module.align_corners)
        return make_pseudo_labels(logits, **self.pseudo_cfg)

    def _decode(self, img: Tensor, with_aux: bool) -> Tuple[List[Tuple[str, nn.Module, Tensor]], Optional[Tensor]]:
        """Student logits of every decode head (cascade stages in order, then the auxiliary heads
        when ``with_aux``) as ``(loss prefix, head, logits)``, and the last decode head's
        classifier input when a feature term needs it."""
        student = self.student
        feats = student.extract_feat(img)
        heads = student.decode_head
        heads = list(heads) if isinstance(heads, nn.ModuleList) else [heads]
        outputs, logits = [], None
        with self._taps.recording() if self._taps is not None else nullcontext():
            for i, head in enumerate(heads):
                logits = head(feats) if logits is None else head(feats, logits)
                outputs.append(('decode' if len(heads) == 1 else f'decode_{i}', head, logits))
            captured = self._taps.get(self._feature_source) if self._taps is not None else None
        if with_aux and student.with_auxiliary_head:
            aux = student.auxiliary_head
            named = ([(f'aux_{i}', h) for i, h in enumerate(aux)] if isinstance(aux, nn.ModuleList) else
                     [('aux', aux)])
            outputs += [(prefix, head, head(feats)) for prefix, head in named]
        return outputs, captured

    def _student_forward(self, img: Tensor) -> Tuple[Tensor, Optional[Tensor]]:
        """Last decode head's logits and classifier input (for the contrast-view builders)."""
        outputs, captured = self._decode(img, with_aux=False)
        return outputs[-1][2], captured

    def _mixed_losses(self, outputs: List[Tuple[str, nn.Module, Tensor]], strong: StrongViews) -> Dict[str, Tensor]:
        """Pseudo-label-weighted losses of every head on the mixed image, prefixed ``mix.``."""
        losses = dict()
        for prefix, head, logits in outputs:
            losses.update(add_prefix(self._head_weighted_loss(head, logits, strong.label, strong.weight), prefix))
        return {f'mix.{name}': value * self.mix_loss_weight if 'loss' in name else value
                for name, value in losses.items()}

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

    def _cache_visuals(self, tgt_img: Tensor, pseudo: PseudoLabels, strong: StrongViews) -> None:
        if not self.cache_visuals:
            return
        visuals = dict(
            target_img=self._to_rgb(tgt_img), pseudo_label=pseudo.label, confidence=pseudo.confidence,
            pseudo_weight=pseudo.weight, mixed_img=self._to_rgb(strong.img), mixed_label=strong.label)
        self.last_visuals = {k: v.detach().cpu() for k, v in visuals.items()}

    def _to_rgb(self, img: Tensor) -> Tensor:
        """Normalised batch -> uint8 RGB ``[B, 3, H, W]`` for visualisation."""
        aug = self.strong_aug
        return (img * aug.std.to(img) + aug.mean.to(img)).clamp(0, 255).to(torch.uint8)

    # ---------------------------------------------------------------- inference
    def _predict_model(self) -> nn.Module:
        predict_on = self.semi_test_cfg.get('predict_on', 'student')
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

    @property
    def out_channels(self) -> int:
        """Output channels of the prediction model (mmseg's ``SegTTAModel`` reads it for ``--tta``)."""
        return self._predict_model().out_channels

    def predict(self, inputs: Tensor, data_samples: Optional[SampleList] = None) -> SampleList:
        """Predict with the student or the teacher (``semi_test_cfg['predict_on']``)."""
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
