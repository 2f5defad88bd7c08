"""ImageNet feature distance (DAFormer, Hoyer et al., CVPR 2022)."""
import copy
import logging
from typing import Optional, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.logging import print_log
from mmengine.runner.checkpoint import CheckpointLoader, load_state_dict
from mmseg.registry import MODELS as MMSEG_MODELS
from torch import Tensor

from mmcontrast.utils.scope import build_in_scope


def downscale_label_ratio(label: Tensor,
                          scale_factor: int,
                          min_ratio: float,
                          num_classes: int,
                          ignore_index: int = 255) -> Tensor:
    """Downscale labels by ``scale_factor``, keeping a cell's majority class if pure enough.

    A cell of ``scale_factor x scale_factor`` pixels takes its most frequent labelled
    class when that class covers at least ``min_ratio`` of the cell, else ``ignore_index``.

    Args:
        label (Tensor): ``[B, H, W]`` integer labels.
        scale_factor (int): Integer downscaling factor (>= 1).
        min_ratio (float): Minimum fraction of the majority class.
        num_classes (int): Number of classes.
        ignore_index (int): Ignored label. Defaults to 255.

    Returns:
        Tensor: ``[B, H // scale_factor, W // scale_factor]`` long labels.
    """
    if scale_factor < 1:
        raise ValueError(f'scale_factor must be >= 1, got {scale_factor}')
    valid = label != ignore_index
    onehot = F.one_hot(torch.where(valid, label, 0).long(), num_classes).permute(0, 3, 1, 2).float()
    onehot = onehot * valid.unsqueeze(1)
    frac = F.avg_pool2d(onehot, scale_factor)
    ratio, cls = frac.max(dim=1)
    return cls.masked_fill(ratio < min_ratio, ignore_index)


class ImageNetFeatureDistance(nn.Module):
    """L2 distance between the student's and a frozen ImageNet backbone's features.

    The distance is averaged over the pixels of the last (or ``feature_index``) feature
    map whose downscaled source label is a *thing* class in ``classes`` (all pixels if
    ``classes`` is None) and multiplied by ``loss_weight``.

    The frozen backbone is built from the student's backbone config and its ImageNet
    weights are loaded in :meth:`init_weights` from ``checkpoint``. If that fails (no
    checkpoint configured, no file, no network), a warning is logged and
    :attr:`available` stays False: the segmentor then skips the term.

    Args:
        backbone (dict): Config of the student's backbone (its ``init_cfg`` is dropped).
        checkpoint (str, optional): ImageNet checkpoint (path, URL or ``open-mmlab://``).
        loss_weight (float): lambda. Defaults to 0.005.
        classes (Sequence[int], optional): Thing classes. Defaults to None (all pixels).
        scale_min_ratio (float): ``min_ratio`` of :func:`downscale_label_ratio`.
            Defaults to 0.75.
        num_classes (int): Number of classes of the labels. Defaults to 19.
        feature_index (int): Backbone output used. Defaults to -1.
        prefix (str, optional): Keep only keys under this prefix of the checkpoint
            (e.g. 'backbone.' for a full segmentor checkpoint). Defaults to None.
        ignore_index (int): Ignored label. Defaults to 255.
    """

    def __init__(self,
                 backbone: dict,
                 checkpoint: Optional[str],
                 loss_weight: float = 0.005,
                 classes: Optional[Sequence[int]] = None,
                 scale_min_ratio: float = 0.75,
                 num_classes: int = 19,
                 feature_index: int = -1,
                 prefix: Optional[str] = None,
                 ignore_index: int = 255) -> None:
        super().__init__()
        backbone = copy.deepcopy(dict(backbone))
        backbone.pop('init_cfg', None)
        backbone.pop('pretrained', None)
        self.backbone = build_in_scope(backbone, 'mmseg', MMSEG_MODELS).requires_grad_(False)
        self.checkpoint = checkpoint
        self.loss_weight = loss_weight
        self.classes = None if classes is None else tuple(int(c) for c in classes)
        self.scale_min_ratio = scale_min_ratio
        self.num_classes = num_classes
        self.feature_index = feature_index
        self.prefix = prefix
        self.ignore_index = ignore_index
        self.available = False

    def init_weights(self) -> None:
        """Load the ImageNet weights; on failure warn and leave :attr:`available` False."""
        if self.checkpoint is None:
            print_log('ImageNet feature distance is enabled but no ImageNet checkpoint is configured '
                      '(neither imnet_feature_dist.checkpoint nor a Pretrained init_cfg of the '
                      'backbone): the feature distance is skipped.', logger='current', level=logging.WARNING)
            return
        try:
            ckpt = CheckpointLoader.load_checkpoint(self.checkpoint, map_location='cpu')
        except Exception as err:  # no file, no network, bad format: all mean "no weights"
            print_log(f'ImageNet feature distance: cannot load {self.checkpoint!r} ({type(err).__name__}: '
                      f'{err}); the feature distance is skipped.', logger='current', level=logging.WARNING)
            return
        state = ckpt.get('state_dict', ckpt)
        if self.prefix:
            state = {k[len(self.prefix):]: v for k, v in state.items() if k.startswith(self.prefix)}
        matched = set(state) & set(self.backbone.state_dict())
        if not matched:
            print_log(f'ImageNet feature distance: {self.checkpoint!r} has no key of the backbone '
                      f'(prefix={self.prefix!r}); the feature distance is skipped.',
                      logger='current', level=logging.WARNING)
            return
        load_state_dict(self.backbone, state, strict=False)
        self.available = True

    def train(self, mode: bool = True) -> 'ImageNetFeatureDistance':
        """The ImageNet backbone stays in eval mode (frozen BN statistics)."""
        super().train(mode)
        self.backbone.eval()
        return self

    def forward(self, img: Tensor, student_feats: Sequence[Tensor], label: Tensor) -> Tensor:
        """Weighted feature distance of a source batch.

        Args:
            img (Tensor): ``[B, 3, H, W]`` source images.
            student_feats (Sequence[Tensor]): The student backbone's outputs on ``img``.
            label (Tensor): ``[B, H, W]`` source labels.

        Returns:
            Tensor: Scalar loss; a graph-connected 0 when no pixel is selected.
        """
        with torch.no_grad():
            imnet_feat = self.backbone(img)[self.feature_index].detach()
        feat = student_feats[self.feature_index]
        if feat.shape != imnet_feat.shape:
            raise ValueError(f'student feature {tuple(feat.shape)} and ImageNet feature '
                             f'{tuple(imnet_feat.shape)} differ: is the backbone config the same?')
        dist = torch.norm(feat.float() - imnet_feat.float(), p=2, dim=1)
        if self.classes is not None:
            scale = label.shape[-1] // feat.shape[-1]
            small = downscale_label_ratio(label, scale, self.scale_min_ratio, self.num_classes, self.ignore_index)
            if small.shape[-2:] != feat.shape[-2:]:
                small = F.interpolate(small[:, None].float(), size=feat.shape[-2:], mode='nearest')[:, 0].long()
            mask = torch.isin(small, torch.tensor(self.classes, device=small.device))
            dist = dist[mask]
        if dist.numel() == 0:
            return feat.sum() * 0.
        return self.loss_weight * dist.mean()
