"""Data preprocessor for multi-view self-supervised batches."""
from typing import List, Optional, Sequence, Union

from mmengine.model import ImgDataPreprocessor
from torch import Tensor

from mmcontrast.registry import MODELS


@MODELS.register_module()
class SelfSupDataPreprocessor(ImgDataPreprocessor):
    """Normalise every view of a multi-view batch.

    ``PackSelfSupInputs`` gives each sample a list of views; mmengine's collate
    turns a batch of them into one list of images per view. Each view is
    normalised (and converted BGR -> RGB) like mmengine's ``ImgDataPreprocessor``
    and stacked, so the model receives ``inputs = [view0 [B, C, H, W], view1, ...]``.
    Single-view batches (``PackClsInputs``, e.g. for kNN feature extraction) come
    out as one ``[B, C, H, W]`` tensor.

    Args:
        mean (Sequence[float]): Per-channel mean in RGB order (with
            ``bgr_to_rgb=True``). Defaults to ImageNet's.
        std (Sequence[float]): Per-channel std. Defaults to ImageNet's.
        bgr_to_rgb (bool): Defaults to True (images are loaded as BGR).
        **kwargs: Passed to ``ImgDataPreprocessor`` (``pad_size_divisor``,
            ``non_blocking`` ...).
    """

    def __init__(self,
                 mean: Optional[Sequence[float]] = (123.675, 116.28, 103.53),
                 std: Optional[Sequence[float]] = (58.395, 57.12, 57.375),
                 bgr_to_rgb: bool = True,
                 **kwargs) -> None:
        super().__init__(mean=mean, std=std, bgr_to_rgb=bgr_to_rgb, **kwargs)

    @staticmethod
    def _is_single_view(inputs) -> bool:
        if isinstance(inputs, Tensor):
            return True
        return isinstance(inputs, (list, tuple)) and len(inputs) > 0 and isinstance(
            inputs[0], Tensor) and inputs[0].dim() == 3

    def forward(self, data: dict, training: bool = False) -> dict:
        inputs: Union[Tensor, List] = data['inputs']
        if self._is_single_view(inputs):
            return super().forward(data, training)
        if not isinstance(inputs, (list, tuple)) or not inputs:
            raise TypeError(f'expected a batch of images or a list of views, got {type(inputs).__name__}')
        views = [super(SelfSupDataPreprocessor, self).forward(dict(inputs=v), training)['inputs'] for v in inputs]
        data_samples = data.get('data_samples')
        return dict(inputs=views, data_samples=data_samples)
