"""Contrast-view builders of the self-training segmentor and the contrastive terms on them.

A builder (``contrast=dict(views=dict(type=...))``) decides which two pixel-aligned views
of a target crop the student contrasts, with which labels, and which pixels count:

- :class:`EHTDIViews` (the PCL paper's segmentation code, the reproduction mode): both
  views are ClassMixed; the strong one is the mixed image of the pseudo-label loss (its
  forward is shared), the weak one the same mix without photometric augmentation.
  Class labels: the student's own weak-view argmax above 0.95 plus the pasted source
  labels. Pixel terms use every decoder pixel. Both views carry gradient (``weak_grad=False``
  forwards the weak view without a graph, a named deviation).
- :class:`TargetViews`: a weak and a photometric strong view of the target crop (two extra
  forwards), the teacher's confident pseudo-labels, pixels inside the pseudo-label crop.
- :class:`MixedViews`: the weak target crop against the target pixels of the mixed image
  (one extra forward), the teacher's confident pseudo-labels.

The terms (``contrast=dict(losses=dict(name=loss_cfg))``) read what they need:
``ClassPCLLoss`` the logits and class labels, ``PixelPCLLoss`` the logits and the valid
pixels, any other loss (``InfoNCELoss``, ``SupConLoss``: the FCL baseline) the features
entering the classifier at ``feature_pixels`` random valid locations per image.
"""
from typing import Callable, Dict, NamedTuple, Optional, Tuple

import torch
import torch.nn.functional as F
from mmseg.models.utils import resize
from torch import Tensor, nn

from mmcontrast.models.losses import ClassPCLLoss, PixelPCLLoss
from mmcontrast.registry import MODELS
from .class_mix import mix
from .pseudo_label import PseudoLabels
from .strong_aug import StrongViews

# (img) -> (decoder logits, features entering the classifier or None)
StudentForward = Callable[[Tensor], Tuple[Tensor, Optional[Tensor]]]


class UDAStep(NamedTuple):
    """What a view builder may read from the current step.

    Attributes:
        src_img (Tensor): ``[B, 3, H, W]`` source images.
        tgt_img (Tensor): ``[B, 3, H, W]`` weak target images.
        src_label (Tensor): ``[B, H, W]`` source labels.
        pseudo (PseudoLabels): The teacher's pseudo-labels of the target images.
        mix_mask (Tensor): ``[B, H, W]`` bool, True where the mixed image is source.
        strong (StrongViews): The strongly augmented mixed batch (its ``flipped`` says which).
        mix_logits (Tensor): Student logits of ``strong.img`` (with gradient).
        mix_feats (Tensor, optional): Classifier input of that forward, when recorded.
        ignore_index (int): The ignored label.
    """
    src_img: Tensor
    tgt_img: Tensor
    src_label: Tensor
    pseudo: PseudoLabels
    mix_mask: Tensor
    strong: StrongViews
    mix_logits: Tensor
    mix_feats: Optional[Tensor]
    ignore_index: int


class ContrastViews(NamedTuple):
    """Two pixel-aligned views at decoder resolution.

    Attributes:
        logits_weak (Tensor): ``[B, C, h, w]``.
        logits_strong (Tensor): ``[B, C, h, w]``.
        label (Tensor): ``[B, h, w]`` class labels of the class-level terms.
        valid (Tensor, optional): ``[B, h, w]`` bool pixels of the pixel and feature
            terms; None means all.
        feats_weak (Tensor, optional): ``[B, D, h', w']`` classifier input of the weak view.
        feats_strong (Tensor, optional): Same for the strong view.
    """
    logits_weak: Tensor
    logits_strong: Tensor
    label: Tensor
    valid: Optional[Tensor]
    feats_weak: Optional[Tensor] = None
    feats_strong: Optional[Tensor] = None


def flip_batch(x: Tensor, flipped: Tensor) -> Tensor:
    """Horizontally flip the batch items marked in ``flipped`` (its own inverse)."""
    if not flipped.any():
        return x
    return torch.where(flipped.view(-1, *([1] * (x.dim() - 1))), x.flip(-1), x)


def nearest(label: Tensor, size: Tuple[int, int]) -> Tensor:
    """Nearest resize of a ``[B, H, W]`` integer or bool map."""
    if tuple(label.shape[-2:]) == tuple(size):
        return label
    return F.interpolate(label[:, None].float(), size=size, mode='nearest')[:, 0].to(label.dtype)


def needs_features(loss: nn.Module) -> bool:
    """Whether a contrastive term reads classifier features rather than logits."""
    return not isinstance(loss, (ClassPCLLoss, PixelPCLLoss))


class ContrastViewBuilder:
    """Base of the view builders.

    Args:
        feature_pixels (int): Locations sampled per image for feature terms. Defaults to 256.
        weak_grad (bool): Whether the weak view's own forward carries gradient. True is
            EHTDI's (both views are backpropagated, ``main.py`` L372/L401). False forwards
            the weak view without a graph, so the terms train the student through the
            strong view only: a named deviation that skips the weak view's backward and
            its activations (docs/benchmark.md, section 2, has the cost of both).
            Defaults to True.
    """

    def __init__(self, feature_pixels: int = 256, weak_grad: bool = True) -> None:
        if feature_pixels < 1:
            raise ValueError(f'feature_pixels must be >= 1, got {feature_pixels}')
        if not isinstance(weak_grad, bool):
            raise TypeError(f'weak_grad must be a bool, got {weak_grad!r}')
        self.feature_pixels = feature_pixels
        self.weak_grad = weak_grad

    def _forward_weak(self, forward: StudentForward, img: Tensor) -> Tuple[Tensor, Optional[Tensor]]:
        """The student's forward of a weak view that has a forward of its own."""
        if self.weak_grad:
            return forward(img)
        with torch.no_grad():
            return forward(img)

    def __call__(self, step: UDAStep, forward: StudentForward, strong_aug: Callable) -> ContrastViews:
        raise NotImplementedError

    def terms(self, losses: nn.ModuleDict, views: ContrastViews) -> Dict[str, Tensor]:
        """Every named contrastive term on ``views``, as ``loss_<name>``."""
        out = dict()
        for name, loss in losses.items():
            if isinstance(loss, ClassPCLLoss):
                out[f'loss_{name}'] = loss(views.logits_weak, views.logits_strong, pseudo_label=views.label)
            elif isinstance(loss, PixelPCLLoss):
                out[f'loss_{name}'] = loss(views.logits_weak, views.logits_strong, valid_mask=views.valid)
            else:
                out[f'loss_{name}'] = loss(*self._feature_rows(views))
        return out

    def _feature_rows(self, views: ContrastViews) -> Tuple[Tensor, Tensor]:
        """``feature_pixels`` random valid locations per image, as rows of both views."""
        feat_weak, feat_strong = views.feats_weak, views.feats_strong
        if feat_weak is None or feat_strong is None:
            raise RuntimeError('a feature-level contrastive term needs the classifier features of both views')
        size = tuple(feat_weak.shape[-2:])
        valid = (torch.ones(feat_weak.shape[0], *size, dtype=torch.bool, device=feat_weak.device)
                 if views.valid is None else nearest(views.valid, size))
        rows_weak, rows_strong = [], []
        for fw, fs, v in zip(feat_weak, feat_strong, valid):
            index = v.flatten().nonzero().squeeze(1)
            index = index[torch.randperm(index.numel(), device=index.device)[:self.feature_pixels]]
            rows_weak.append(fw.flatten(1)[:, index].t())
            rows_strong.append(fs.flatten(1)[:, index].t())
        return torch.cat(rows_weak), torch.cat(rows_strong)

    @staticmethod
    def _teacher_label(step: UDAStep, size: Tuple[int, int], target_pixels: Optional[Tensor]) -> Tuple[Tensor, Tensor]:
        """The teacher's confident labels and valid pixels at ``size``, optionally target pixels only."""
        pseudo = step.pseudo
        label = torch.where(pseudo.confident, pseudo.label, step.ignore_index)
        valid = pseudo.in_crop
        if target_pixels is not None:
            label = label.masked_fill(~target_pixels, step.ignore_index)
            valid = valid & target_pixels
        return nearest(label, size), nearest(valid, size)


@MODELS.register_module()
class EHTDIViews(ContrastViewBuilder):
    """The PCL paper's segmentation views (EHTDI, ACM MM'22, ``main.py`` ``use_NCE``).

    EHTDI pastes the same source classes into the weak and the strong target view
    (L361-362), forwards both with gradient (L372, L401), labels the class-level term with
    the weak view's own argmax where its probability exceeds ``Tmax=0.95`` (L410, L417)
    plus the pasted source labels (L451), downsampled nearest to the decoder (L515), and
    runs the pixel-level term over every decoder pixel (L587-615).

    Args:
        threshold (float): Confidence above which the weak view labels itself. Defaults to 0.95.
        feature_pixels (int): Locations sampled per image for feature terms. Defaults to 256.
        weak_grad (bool): Backpropagate the weak view (EHTDI). See
            :class:`ContrastViewBuilder`. Defaults to True.
    """

    def __init__(self, threshold: float = 0.95, feature_pixels: int = 256, weak_grad: bool = True) -> None:
        super().__init__(feature_pixels, weak_grad)
        if not 0 <= threshold < 1:
            raise ValueError(f'threshold must be in [0, 1), got {threshold}')
        self.threshold = threshold

    def __call__(self, step: UDAStep, forward: StudentForward, strong_aug: Callable) -> ContrastViews:
        weak_img = mix(step.mix_mask, step.src_img, step.tgt_img)
        logits_weak, feats_weak = self._forward_weak(forward, weak_img)
        flipped = step.strong.flipped
        logits_strong = flip_batch(step.mix_logits, flipped)
        feats_strong = None if step.mix_feats is None else flip_batch(step.mix_feats, flipped)
        with torch.no_grad():
            full = resize(logits_weak.detach(), size=step.tgt_img.shape[-2:], mode='bilinear', align_corners=False)
            confidence, label = F.softmax(full.float(), dim=1).max(dim=1)
            label = label.masked_fill(confidence <= self.threshold, step.ignore_index)
            label = torch.where(step.mix_mask, step.src_label, label)
        label = nearest(label, tuple(logits_weak.shape[-2:]))
        return ContrastViews(logits_weak, logits_strong, label, None, feats_weak, feats_strong)


@MODELS.register_module()
class TargetViews(ContrastViewBuilder):
    """A weak and a photometric strong view of the target crop, teacher labels.

    The strong view is a fresh strong augmentation of the target images; a flip, if the
    augmentation has one, is undone on the outputs so both views index the same pixels.

    Args:
        feature_pixels (int): Locations sampled per image for feature terms. Defaults to 256.
        weak_grad (bool): Must be True: both views share one forward, and forwarding the
            weak one apart would change the BatchNorm statistics of both. Defaults to True.
    """

    def __init__(self, feature_pixels: int = 256, weak_grad: bool = True) -> None:
        super().__init__(feature_pixels, weak_grad)
        if not weak_grad:
            raise ValueError('TargetViews forwards the weak and the strong view as one batch; weak_grad=False '
                             'would split that batch and change its BatchNorm statistics. Use EHTDIViews or '
                             'MixedViews, whose weak view has a forward of its own')

    def __call__(self, step: UDAStep, forward: StudentForward, strong_aug: Callable) -> ContrastViews:
        views = strong_aug(step.tgt_img)
        logits, feats = forward(torch.cat([step.tgt_img, views.img]))
        logits_weak, logits_strong = logits.chunk(2)
        feats_weak, feats_strong = feats.chunk(2) if feats is not None else (None, None)
        logits_strong = flip_batch(logits_strong, views.flipped)
        feats_strong = None if feats_strong is None else flip_batch(feats_strong, views.flipped)
        label, valid = self._teacher_label(step, tuple(logits_weak.shape[-2:]), None)
        return ContrastViews(logits_weak, logits_strong, label, valid, feats_weak, feats_strong)


@MODELS.register_module()
class MixedViews(ContrastViewBuilder):
    """The weak target crop against the target pixels of the mixed image, teacher labels.

    Args:
        feature_pixels (int): Locations sampled per image for feature terms. Defaults to 256.
        weak_grad (bool): Backpropagate the weak view. See :class:`ContrastViewBuilder`.
            Defaults to True.
    """

    def __call__(self, step: UDAStep, forward: StudentForward, strong_aug: Callable) -> ContrastViews:
        logits_weak, feats_weak = self._forward_weak(forward, step.tgt_img)
        flipped = step.strong.flipped
        logits_strong = flip_batch(step.mix_logits, flipped)
        feats_strong = None if step.mix_feats is None else flip_batch(step.mix_feats, flipped)
        target_pixels = ~step.mix_mask
        label, valid = self._teacher_label(step, tuple(logits_weak.shape[-2:]), target_pixels)
        return ContrastViews(logits_weak, logits_strong, label, valid, feats_weak, feats_strong)
