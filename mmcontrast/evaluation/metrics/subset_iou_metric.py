"""mmseg IoUMetric that also reports mIoU over class subsets (SYNTHIA's mIoU16 / mIoU13)."""
import logging
from typing import Dict, List, Sequence, Union

import numpy as np
from mmengine.logging import print_log
from mmseg.evaluation import IoUMetric

from mmcontrast.registry import METRICS

# Cityscapes classes of the SYNTHIA -> Cityscapes protocol: 16 classes without terrain,
# truck and train; 13 classes additionally without wall, fence and pole.
SYNTHIA_SUBSETS = dict(
    mIoU16=('road', 'sidewalk', 'building', 'wall', 'fence', 'pole', 'traffic light', 'traffic sign', 'vegetation',
            'sky', 'person', 'rider', 'car', 'bus', 'motorcycle', 'bicycle'),
    mIoU13=('road', 'sidewalk', 'building', 'traffic light', 'traffic sign', 'vegetation', 'sky', 'person', 'rider',
            'car', 'bus', 'motorcycle', 'bicycle'))
_PRESETS = dict(synthia=SYNTHIA_SUBSETS)


@METRICS.register_module()
class SubsetIoUMetric(IoUMetric):
    """:class:`mmseg.evaluation.IoUMetric` plus the mean IoU of named class subsets.

    Each subset's mIoU is the mean of the per-class IoUs of its classes (classes absent
    from both prediction and ground truth are skipped, as in ``mIoU``), in percent.

    Args:
        subsets (str | dict): A preset name ('synthia': mIoU16 and mIoU13) or
            ``{metric_name: [class names or indices]}``. Defaults to 'synthia'.
        **kwargs: Arguments of :class:`mmseg.evaluation.IoUMetric`.
    """

    def __init__(self, subsets: Union[str, Dict[str, Sequence[Union[int, str]]]] = 'synthia', **kwargs) -> None:
        super().__init__(**kwargs)
        if isinstance(subsets, str):
            if subsets not in _PRESETS:
                raise ValueError(f'unknown subsets preset {subsets!r}; choose from {sorted(_PRESETS)} or pass a dict')
            subsets = _PRESETS[subsets]
        self.subsets = {name: tuple(classes) for name, classes in subsets.items()}

    def _subset_indices(self, classes: Sequence[Union[int, str]]) -> List[int]:
        names = list(self.dataset_meta['classes'])
        indices = []
        for c in classes:
            if isinstance(c, str):
                if c not in names:
                    raise ValueError(f'subset class {c!r} is not a dataset class {names}')
                indices.append(names.index(c))
            elif not 0 <= c < len(names):
                raise ValueError(f'subset class index {c} out of range for {len(names)} classes')
            else:
                indices.append(int(c))
        return indices

    def compute_metrics(self, results: list) -> Dict[str, float]:
        """IoUMetric's metrics plus one entry per subset."""
        metrics = super().compute_metrics(results)
        if self.format_only:
            return metrics
        intersect = sum(r[0] for r in results).double().cpu().numpy()
        union = sum(r[1] for r in results).double().cpu().numpy()
        with np.errstate(divide='ignore', invalid='ignore'):
            iou = intersect / union
        for name, classes in self.subsets.items():
            values = iou[self._subset_indices(classes)]
            if np.isnan(values).all():
                print_log(f'{name}: no class of the subset occurs in predictions or labels', logger='current',
                          level=logging.WARNING)
                metrics[name] = float('nan')
            else:
                metrics[name] = float(np.round(np.nanmean(values) * 100, 2))
        return metrics

