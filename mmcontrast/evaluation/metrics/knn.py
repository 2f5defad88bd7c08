"""Weighted k-nearest-neighbour classification of features (the kNN monitor of SSL)."""
import torch
import torch.nn.functional as F
from torch import Tensor


@torch.no_grad()
def knn_classify(bank_feats: Tensor,
                 bank_labels: Tensor,
                 query_feats: Tensor,
                 num_classes: int,
                 k: int = 200,
                 temperature: float = 0.1,
                 chunk_size: int = 512) -> Tensor:
    """Class scores of queries by a similarity-weighted vote of their k nearest bank items.

    The protocol of Wu et al. 2018 (InstDisc), used by MoCo/SimCLR monitors and
    solo-learn: cosine similarity on l2-normalised features, the ``k`` most similar
    bank items vote for their class with weight ``exp(sim / temperature)``.

    Args:
        bank_feats (Tensor): ``[M, D]`` features of the labelled bank (train set).
        bank_labels (Tensor): ``[M]`` labels in ``[0, num_classes)``.
        query_feats (Tensor): ``[N, D]`` features to classify.
        num_classes (int): Number of classes.
        k (int): Neighbours; clipped to ``M``. Defaults to 200.
        temperature (float): Vote temperature. Defaults to 0.1.
        chunk_size (int): Queries per block (memory is ``chunk_size x M``).
            Defaults to 512.

    Returns:
        Tensor: ``[N, num_classes]`` vote scores (argmax is the prediction).
    """
    if bank_feats.dim() != 2 or query_feats.dim() != 2 or bank_feats.shape[1] != query_feats.shape[1]:
        raise ValueError(f'need bank [M, D] and queries [N, D], got {tuple(bank_feats.shape)}, '
                         f'{tuple(query_feats.shape)}')
    if bank_labels.shape != bank_feats.shape[:1]:
        raise ValueError(f'bank_labels {tuple(bank_labels.shape)} must be [M={bank_feats.shape[0]}]')
    if bank_feats.shape[0] == 0:
        raise ValueError('the kNN bank is empty')
    if bank_labels.min() < 0 or bank_labels.max() >= num_classes:
        raise ValueError(f'bank labels must lie in [0, {num_classes}) (unlabelled items have no vote)')
    bank = F.normalize(bank_feats.float(), dim=1)
    k = min(k, bank.shape[0])
    scores = []
    for start in range(0, query_feats.shape[0], chunk_size):
        q = F.normalize(query_feats[start:start + chunk_size].float(), dim=1)
        sim, idx = (q @ bank.t()).topk(k, dim=1)
        weights = (sim / temperature).exp()
        votes = torch.zeros(q.shape[0], num_classes, device=q.device)
        votes.scatter_add_(1, bank_labels[idx].long(), weights)
        scores.append(votes)
    return torch.cat(scores) if scores else query_feats.new_zeros(0, num_classes)
