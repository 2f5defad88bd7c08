"""ProtoNCE: Li et al., "Prototypical Contrastive Learning of Unsupervised Representations", ICLR 2021.

Named ProtoNCE here: in this project "PCL" is *probabilistic* contrastive learning.
"""
from typing import Dict, List, Optional, Sequence

import torch
from mmengine.structures import BaseDataElement
from torch import Tensor

from mmcontrast.registry import MODELS
from .moco import MoCo


@MODELS.register_module()
class ProtoNCE(MoCo):
    """MoCo v2 plus prototypes from k-means of the momentum features, at several granularities.

    ``PrototypeClusteringHook`` clusters the momentum-encoder embeddings of the whole
    training set at the start of every epoch after the warm-up and hands the result to
    :meth:`set_clusters`: for each granularity m, the l2-normalised prototypes
    ``[K_m, D]``, the cluster of every dataset sample ``[N_dataset]`` and the
    concentration ``phi`` of every prototype ``[K_m]``. The loss is then
    ``head(q, k, queue, prototypes, assignments_of_batch, concentrations)``
    (``ProtoNCELoss``: instance InfoNCE + prototype terms). During warm-up there are no
    clusters and the same head reduces to MoCo's InfoNCE. Samples are matched to their
    clusters through ``sample_idx`` in their data samples.

    Official defaults (PCL v1 code): queue 16384, m 0.999, temperature 0.2,
    16000 negative prototypes, clusters (25000, 50000, 100000) on ImageNet, 20 warm-up
    epochs (the latter two are options of the hook).

    Args:
        backbone (dict): Backbone config.
        neck (dict): Projector config.
        head (dict): Prototype loss, called as above. Defaults to
            ``ProtoNCELoss(temperature=0.2, num_neg_prototypes=16000)``.
        queue_len (int): Defaults to 16384.
        **kwargs: Other :class:`MoCo` arguments.
    """

    def __init__(self,
                 backbone: dict,
                 neck: dict,
                 head: dict = dict(type='ProtoNCELoss', temperature=0.2, num_neg_prototypes=16000),
                 queue_len: int = 16384,
                 **kwargs) -> None:
        super().__init__(backbone, neck, head=head, queue_len=queue_len, **kwargs)
        self.clear_clusters()

    def clear_clusters(self) -> None:
        """Drop the clusters (warm-up: InfoNCE only)."""
        self.prototypes: List[Tensor] = []
        self.assignments: List[Tensor] = []
        self.concentrations: List[Tensor] = []

    @property
    def has_clusters(self) -> bool:
        return bool(self.prototypes)

    def set_clusters(self, prototypes: Sequence[Tensor], assignments: Sequence[Tensor],
                     concentrations: Sequence[Tensor]) -> None:
        """Install the clusterings of the current epoch.

        Args:
            prototypes (Sequence[Tensor]): M tensors ``[K_m, feat_dim]``, l2-normalised.
            assignments (Sequence[Tensor]): M tensors ``[N_dataset]``, the cluster of
                each training sample (by ``sample_idx``).
            concentrations (Sequence[Tensor]): M tensors ``[K_m]``.
        """
        if not len(prototypes) == len(assignments) == len(concentrations):
            raise ValueError(f'got {len(prototypes)} prototype sets, {len(assignments)} assignments and '
                             f'{len(concentrations)} concentrations')
        num = {a.shape[0] for a in assignments}
        if len(num) > 1:
            raise ValueError(f'all assignments must cover the same dataset, got lengths {sorted(num)}')
        for p, c in zip(prototypes, concentrations):
            if p.dim() != 2 or p.shape[1] != self.feat_dim or c.shape != p.shape[:1]:
                raise ValueError(f'prototypes must be [K, {self.feat_dim}] with [K] concentrations, got '
                                 f'{tuple(p.shape)} and {tuple(c.shape)}')
        device = self.queue.device
        self.prototypes = [p.detach().to(device, torch.float32) for p in prototypes]
        self.assignments = [a.detach().to(device, torch.long) for a in assignments]
        self.concentrations = [c.detach().to(device, torch.float32) for c in concentrations]

    def _batch_assignments(self, data_samples: Optional[List[BaseDataElement]]) -> List[Tensor]:
        if not self.has_clusters:
            return []
        if not data_samples or any('sample_idx' not in s for s in data_samples):
            raise KeyError(f'{type(self).__name__} matches samples to clusters by sample_idx: keep it in the '
                           'meta_keys of PackSelfSupInputs')
        idx = torch.tensor([s.sample_idx for s in data_samples], device=self.queue.device)
        num = self.assignments[0].shape[0]
        if int(idx.max()) >= num:
            raise IndexError(f'sample_idx {int(idx.max())} outside the {num} clustered samples: the clustering '
                             'dataloader must hold the training set')
        return [a[idx] for a in self.assignments]

    def loss(self, inputs: List[Tensor], data_samples: Optional[List[BaseDataElement]] = None) -> Dict[str, Tensor]:
        assignments = self._batch_assignments(data_samples)
        q, k, z = self.query_and_key(inputs)
        main = self.head(q, k, self.queue.clone().detach(), self.prototypes, assignments, self.concentrations)
        losses = self.dimcl_losses(main, inputs, z)
        self.enqueue(k)
        return losses
