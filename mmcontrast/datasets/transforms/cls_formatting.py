"""Pack classification and multi-view self-supervised samples for the models."""
from typing import Sequence

import numpy as np
import torch
from mmcv.transforms import BaseTransform
from mmengine.structures import BaseDataElement

from mmcontrast.registry import TRANSFORMS


def _img_to_tensor(img: np.ndarray) -> torch.Tensor:
    if not isinstance(img, np.ndarray) or img.ndim not in (2, 3):
        raise ValueError(f'expected an HxW or HxWxC image array, got {getattr(img, "shape", type(img))}')
    if img.ndim == 2:
        img = img[..., None]
    return torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))


@TRANSFORMS.register_module()
class PackClsInputs(BaseTransform):
    """Pack an image and its label as ``dict(inputs=CxHxW tensor, data_samples=...)``.

    The data sample is an :class:`~mmengine.structures.BaseDataElement` with
    ``gt_label`` (a 0-dim long tensor, -1 when the dataset has no label) and the
    meta keys found in ``results`` (``sample_idx``, ``img_shape``, ...).

    Args:
        meta_keys (Sequence[str]): Keys copied into the metainfo if present.
            Defaults to ``('sample_idx', 'img_path', 'ori_shape', 'img_shape', 'flip',
            'flip_direction')``.
    """

    def __init__(self, meta_keys: Sequence[str] = ('sample_idx', 'img_path', 'ori_shape', 'img_shape', 'flip',
                                                   'flip_direction')) -> None:
        self.meta_keys = tuple(meta_keys)

    def pack_inputs(self, img):
        return _img_to_tensor(img)

    def transform(self, results: dict) -> dict:
        if 'img' not in results:
            raise KeyError(f'{type(self).__name__} needs results["img"]')
        sample = BaseDataElement(metainfo={k: results[k] for k in self.meta_keys if k in results})
        sample.gt_label = torch.as_tensor(int(results.get('gt_label', -1)), dtype=torch.long)
        return dict(inputs=self.pack_inputs(results['img']), data_samples=sample)

    def __repr__(self) -> str:
        return f'{type(self).__name__}(meta_keys={self.meta_keys})'


@TRANSFORMS.register_module()
class PackSelfSupInputs(PackClsInputs):
    """Pack the views of :class:`MultiView` as ``inputs=[view0, view1, ...]``.

    Args: as :class:`PackClsInputs`.
    """

    def pack_inputs(self, img):
        if not isinstance(img, (list, tuple)) or not img:
            raise ValueError(f'{type(self).__name__} needs results["img"] as a list of views (use '
                             f'MultiView before it), got {type(img).__name__}')
        return [_img_to_tensor(v) for v in img]
