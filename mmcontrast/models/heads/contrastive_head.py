"""InfoNCE against a queue of negatives (MoCo's head)."""
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from mmcontrast.registry import MODELS


@MODELS.register_module()
class ContrastiveHead(nn.Module):
    """MoCo's loss: cross-entropy of the positive key among ``1 + K`` candidates.

    ``logits = [q.k, q.queue_1, ..., q.queue_K] / temperature`` on l2-normalised
    vectors, target index 0. Computed in fp32.

    Args:
        temperature (float): Defaults to 0.2 (MoCo v2).
        loss_weight (float): Defaults to 1.0.
    """

    def __init__(self, temperature: float = 0.2, loss_weight: float = 1.0) -> None:
        super().__init__()
        if temperature <= 0:
            raise ValueError(f'temperature must be positive, got {temperature}')
        self.temperature = temperature
        self.loss_weight = loss_weight

    def forward(self, q: Tensor, k: Tensor, queue: Tensor) -> Tensor:
        """Loss of queries ``q [N, D]``, positive keys ``k [N, D]`` and ``queue [K, D]``."""
        if q.dim() != 2 or q.shape != k.shape or queue.dim() != 2 or queue.shape[1] != q.shape[1]:
            raise ValueError(f'need q [N, D], k [N, D], queue [K, D]; got {tuple(q.shape)}, '
                             f'{tuple(k.shape)}, {tuple(queue.shape)}')
        q, k, queue = (F.normalize(t.float(), dim=1) for t in (q, k, queue))
        logits = torch.cat([(q * k).sum(1, keepdim=True), q @ queue.t()], dim=1) / self.temperature
        target = logits.new_zeros(q.shape[0], dtype=torch.long)
        return self.loss_weight * F.cross_entropy(logits, target)

    def extra_repr(self) -> str:
        return f'temperature={self.temperature}, loss_weight={self.loss_weight}'
