"""Top-k classification accuracy."""
from typing import List, Sequence

import torch
from mmengine.evaluator import BaseMetric

from mmcontrast.models.heads.linear_cls_head import topk_accuracy
from mmcontrast.registry import METRICS


@METRICS.register_module()
class Accuracy(BaseMetric):
    """Top-k accuracy (percent) of ``pred_score`` against ``gt_label``.

    Reads the data samples that ``ImageClassifier.predict`` returns. Reported as
    ``{prefix}/top{k}``.

    Args:
        topk (int | Sequence[int]): Defaults to (1, ).
        collect_device (str): Defaults to ``'cpu'``.
        prefix (str): Defaults to ``'accuracy'``.
    """

    default_prefix = 'accuracy'

    def __init__(self, topk: Sequence[int] = (1, ), collect_device: str = 'cpu', prefix: str = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.topk = (topk, ) if isinstance(topk, int) else tuple(topk)
        if not self.topk or min(self.topk) < 1:
            raise ValueError(f'topk must be positive ints, got {topk}')

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            if 'pred_score' not in sample or 'gt_label' not in sample:
                raise KeyError('Accuracy needs pred_score and gt_label in every data sample')
            self.results.append((sample['pred_score'].cpu().float(), int(sample['gt_label'])))

    def compute_metrics(self, results: List) -> dict:
        scores = torch.stack([r[0] for r in results])
        labels = torch.tensor([r[1] for r in results])
        accs = topk_accuracy(scores, labels, self.topk)
        return {f'top{k}': float(a) for k, a in zip(self.topk, accs)}
