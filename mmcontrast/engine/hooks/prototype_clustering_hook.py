"""Per-epoch k-means of the momentum features for ProtoNCE / PAUC."""
from typing import List, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from mmengine.dist import broadcast, get_rank
from mmengine.hooks import Hook
from mmengine.runner import Runner
from torch import Tensor
from torch.utils.data import DataLoader

from mmcontrast.models.losses.pauc import estimate_concentration
from mmcontrast.registry import HOOKS
from .knn_hook import collect_features, unwrap


def _nearest(x: Tensor, centroids: Tensor, max_elements: int = 1 << 26) -> Tuple[Tensor, Tensor]:
    """Index of and squared distance to the nearest centroid, in blocks of rows."""
    chunk = max(1, max_elements // max(centroids.shape[0], 1))
    c_sq = centroids.pow(2).sum(1)
    assign, dist = [], []
    for start in range(0, x.shape[0], chunk):
        block = x[start:start + chunk]
        d = block.pow(2).sum(1, keepdim=True) - 2 * block @ centroids.t() + c_sq[None]
        best = d.min(dim=1)
        assign.append(best.indices)
        dist.append(best.values.clamp_min(0))
    return torch.cat(assign), torch.cat(dist)


@torch.no_grad()
def kmeans(x: Tensor, num_clusters: int, num_iters: int = 20, seed: int = 0) -> Tuple[Tensor, Tensor]:
    """Lloyd's k-means (Euclidean), initialised with random samples as faiss does.

    A cluster that empties is re-seeded with a random sample, so all
    ``num_clusters`` centroids stay in use. Deterministic for a given ``seed``.

    Args:
        x (Tensor): ``[N, D]`` points.
        num_clusters (int): ``K <= N``.
        num_iters (int): Lloyd iterations. Defaults to 20 (faiss's default).
        seed (int): Seed of the initialisation. Defaults to 0.

    Returns:
        tuple[Tensor, Tensor]: Centroids ``[K, D]`` and assignments ``[N]``.
    """
    num = x.shape[0]
    if not 1 <= num_clusters <= num:
        raise ValueError(f'k-means needs 1 <= num_clusters <= number of points, got {num_clusters} for {num}')
    gen = torch.Generator().manual_seed(seed)
    x = x.float()
    centroids = x[torch.randperm(num, generator=gen)[:num_clusters].to(x.device)].clone()
    for _ in range(num_iters):
        assign, _ = _nearest(x, centroids)
        counts = torch.bincount(assign, minlength=num_clusters)
        sums = torch.zeros_like(centroids).index_add_(0, assign, x)
        centroids = sums / counts.clamp_min(1)[:, None].to(x.dtype)
        empty = (counts == 0).nonzero().squeeze(1)
        if empty.numel():
            centroids[empty] = x[torch.randperm(num, generator=gen)[:empty.numel()].to(x.device)]
    assign, _ = _nearest(x, centroids)
    return centroids, assign


@HOOKS.register_module()
class PrototypeClusteringHook(Hook):
    """Cluster the momentum embeddings of the training set at the start of each epoch.

    From epoch ``warmup_epochs`` on, every epoch starts by embedding the whole
    training set with the momentum encoder (``dataloader``: the training images
    with a test pipeline, same order and length), running k-means for each entry of
    ``num_clusters``, estimating every prototype's concentration ``phi`` with
    :func:`~mmcontrast.models.losses.pauc.estimate_concentration` and handing the
    l2-normalised prototypes, assignments and concentrations to the model's
    ``set_clusters`` (``ProtoNCE`` / ``PAUC``). Before that the model's clusters are
    cleared, so the warm-up epochs train with InfoNCE only. Rank 0 clusters and
    broadcasts, so every rank holds the same prototypes. Resuming recomputes the
    clusters of the resumed epoch.

    Args:
        dataloader (dict | DataLoader): Single-view loader over the training set.
        num_clusters (Sequence[int]): Granularities. Defaults to
            (25000, 50000, 100000) (ImageNet in the ProtoNCE paper).
        warmup_epochs (int): Epochs of InfoNCE only. Defaults to 20.
        num_iters (int): k-means iterations. Defaults to 20.
        temperature (float): Mean concentration ``phi``. Defaults to 0.2.
        seed (int): k-means seed (offset by epoch and granularity). Defaults to 0.
    """

    priority = 'NORMAL'

    def __init__(self,
                 dataloader: Union[dict, DataLoader],
                 num_clusters: Sequence[int] = (25000, 50000, 100000),
                 warmup_epochs: int = 20,
                 num_iters: int = 20,
                 temperature: float = 0.2,
                 seed: int = 0) -> None:
        if not num_clusters or min(num_clusters) < 1:
            raise ValueError(f'num_clusters must be positive ints, got {num_clusters}')
        if warmup_epochs < 0 or num_iters < 1 or temperature <= 0:
            raise ValueError('need warmup_epochs >= 0, num_iters >= 1 and temperature > 0')
        self._loader_cfg = dataloader
        self._loader = dataloader if isinstance(dataloader, DataLoader) else None
        self.num_clusters = tuple(int(k) for k in num_clusters)
        self.warmup_epochs = warmup_epochs
        self.num_iters = num_iters
        self.temperature = temperature
        self.seed = seed

    def _dataloader(self, runner: Runner) -> DataLoader:
        if self._loader is None:
            self._loader = Runner.build_dataloader(self._loader_cfg, seed=runner.seed, diff_rank_seed=False)
        train_len = len(runner.train_dataloader.dataset)
        if len(self._loader.dataset) != train_len:
            raise ValueError(f'the clustering dataloader has {len(self._loader.dataset)} samples, the training set '
                             f'{train_len}: it must hold the training set (sample_idx links them)')
        return self._loader

    def cluster(self, model: torch.nn.Module, loader: DataLoader, epoch: int) -> Tuple[List[Tensor], ...]:
        """Embed, cluster and estimate concentrations; identical results on every rank."""

        def feat_fn(inputs):
            return F.normalize(model.momentum_encoder(inputs), dim=1)

        feats, _ = collect_features(model, loader, feat_fn)
        device = model.queue.device
        feats = feats.to(device)
        prototypes, assignments, concentrations = [], [], []
        for m, k in enumerate(self.num_clusters):
            if k > feats.shape[0]:
                raise ValueError(f'{k} clusters requested for {feats.shape[0]} training samples')
            if get_rank() == 0:
                centroids, assign = kmeans(feats, k, self.num_iters, seed=self.seed + 1000 * epoch + m)
                phi = estimate_concentration(feats, assign, centroids, self.temperature)
                centroids = F.normalize(centroids, dim=1)
            else:
                centroids = feats.new_empty(k, feats.shape[1])
                assign = torch.empty(feats.shape[0], dtype=torch.long, device=device)
                phi = feats.new_empty(k)
            for t in (centroids, assign, phi):
                broadcast(t, src=0)
            prototypes.append(centroids)
            assignments.append(assign)
            concentrations.append(phi)
        return prototypes, assignments, concentrations

    def before_train_epoch(self, runner: Runner) -> None:
        model = unwrap(runner.model)
        if not hasattr(model, 'set_clusters'):
            raise TypeError(f'PrototypeClusteringHook needs a model with set_clusters (ProtoNCE, PAUC), got '
                            f'{type(model).__name__}')
        if runner.epoch < self.warmup_epochs:
            model.clear_clusters()
            return
        prototypes, assignments, concentrations = self.cluster(model, self._dataloader(runner), runner.epoch)
        model.set_clusters(prototypes, assignments, concentrations)
        sizes = ', '.join(f'{k}: phi mean {float(c.mean()):.3f}' for k, c in zip(self.num_clusters, concentrations))
        runner.logger.info(f'epoch {runner.epoch}: clustered {assignments[0].shape[0]} momentum embeddings ({sizes})')
