"""ProtoNCE and PAUC (prototype alignment, uniformity and correlation).

- ProtoNCE: Li et al., "Prototypical Contrastive Learning of Unsupervised
  Representations", ICLR 2021. InfoNCE against a MoCo queue plus, for each of M
  clusterings, a cross-entropy of the query against its prototype and sampled negative
  prototypes, each prototype with its own concentration ``phi``.
- PAUC: Mo et al., "Rethinking Prototypical Contrastive Learning through Alignment,
  Uniformity and Correlation" (BMVC 2022). The paper has no public code: the three
  extra terms below, their normalisations, and the two forms of the correlation
  term are *our reading* of it (see ``docs/selfsup.md``, "PAUC, term by term").
"""
import math
import warnings
from typing import List, Optional, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from mmcontrast.registry import MODELS
from mmcontrast.utils.distributed import gather_no_grad, gather_with_grad, get_dist_info
from .utils import (
    check_non_negative,
    check_positive,
    check_queue,
    check_tensor,
    finite_zero,
    fp32_compute,
    moco_logits,
    standardise,
)

CORR_FORMS = ('dimension', 'prototype')


@torch.no_grad()
def estimate_concentration(features: Tensor,
                           assignments: Tensor,
                           centroids: Tensor,
                           temperature: float = 0.2) -> Tensor:
    """Per-cluster concentration ``phi`` as in the ProtoNCE paper (Eq. 12).

    ``phi_c = sum_{v in c} ||v - c|| / (Z log(Z + 10))`` for a cluster of Z > 1 members;
    clusters with at most one member take the largest such value. The values are then
    clipped to their 10th..90th percentile and rescaled so that their mean equals
    ``temperature``.

    Args:
        features (Tensor): ``[N, D]`` embeddings that were clustered.
        assignments (Tensor): ``[N]`` cluster id of each embedding.
        centroids (Tensor): ``[K, D]`` cluster centres.
        temperature (float): Target mean of ``phi``. Defaults to 0.2.

    Returns:
        Tensor: ``[K]`` concentrations, positive, mean ``temperature``.
    """
    check_tensor('features', features, (2, ))
    check_tensor('centroids', centroids, (2, ))
    check_tensor('assignments', assignments, (1, ), floating=False)
    if assignments.shape[0] != features.shape[0] or centroids.shape[1] != features.shape[1]:
        raise ValueError(f'features {tuple(features.shape)}, assignments {tuple(assignments.shape)} and '
                         f'centroids {tuple(centroids.shape)} do not match')
    num_clusters = centroids.shape[0]
    assignments = assignments.long()
    dtype = torch.promote_types(torch.promote_types(features.dtype, centroids.dtype), torch.float32)
    dist = torch.linalg.vector_norm(features.to(dtype) - centroids.to(dtype)[assignments], dim=1)
    counts = torch.bincount(assignments, minlength=num_clusters).to(dtype)
    sums = dist.new_zeros(num_clusters).index_add_(0, assignments, dist)
    multi = counts > 1
    phi = torch.zeros_like(sums)
    phi[multi] = sums[multi] / (counts[multi] * torch.log(counts[multi] + 10))
    phi[~multi] = phi[multi].max() if multi.any() else 1.0
    phi = phi.clamp(torch.quantile(phi, 0.1).item(), torch.quantile(phi, 0.9).item())
    mean = phi.mean()
    if mean <= 0:  # every member sits on its centroid: no spread to measure
        return torch.full_like(phi, temperature)
    return temperature * phi / mean


def _check_clusterings(q: Tensor, prototypes: Sequence[Tensor], assignments: Sequence[Tensor],
                       concentrations: Sequence[Tensor]) -> None:
    if not len(prototypes) == len(assignments) == len(concentrations):
        raise ValueError(f'prototypes, assignments and concentrations must list the same clusterings, got '
                         f'{len(prototypes)}, {len(assignments)} and {len(concentrations)} entries')
    for m, (protos, assign, conc) in enumerate(zip(prototypes, assignments, concentrations)):
        check_tensor(f'prototypes[{m}]', protos, (2, ))
        check_tensor(f'assignments[{m}]', assign, (1, ), floating=False)
        check_tensor(f'concentrations[{m}]', conc, (1, ))
        if protos.shape[1] != q.shape[1] or conc.shape[0] != protos.shape[0] or assign.shape[0] != q.shape[0]:
            raise ValueError(f'clustering {m}: prototypes {tuple(protos.shape)}, concentrations '
                             f'{tuple(conc.shape)} and assignments {tuple(assign.shape)} do not match '
                             f'q {tuple(q.shape)}')
        if assign.numel() and (assign.min() < 0 or assign.max() >= protos.shape[0]):
            raise ValueError(f'assignments[{m}] must be in [0, {protos.shape[0]})')


def _proto_term(q: Tensor, protos: Tensor, assign: Tensor, conc: Tensor, num_neg: int,
                generator: Optional[torch.Generator]) -> Tensor:
    """Cross-entropy of ``q . [c_pos (one per sample), sampled negatives] / phi``."""
    assign = assign.long()
    occupied = torch.zeros(protos.shape[0], dtype=torch.bool, device=q.device)
    occupied[assign] = True
    pool = (~occupied).nonzero().squeeze(1)
    if pool.numel() > num_neg:
        rng_device = generator.device if generator is not None else pool.device
        pool = pool[torch.randperm(pool.numel(), generator=generator, device=rng_device)[:num_neg].to(pool.device)]
    selected = torch.cat([assign, pool])
    logits = q @ protos[selected].t() / conc[selected]
    return F.cross_entropy(logits, torch.arange(q.shape[0], device=q.device))


@fp32_compute
def proto_nce_loss(q: Tensor,
                   k: Tensor,
                   queue: Tensor,
                   prototypes: List[Tensor],
                   assignments: List[Tensor],
                   concentrations: List[Tensor],
                   temperature: float = 0.2,
                   num_neg_prototypes: int = 16000,
                   generator: Optional[torch.Generator] = None) -> Tensor:
    """ProtoNCE: ``InfoNCE(q, k, queue) + mean_m CE(q . [c_pos, c_neg] / phi_m)``.

    ``q`` and ``k`` are l2-normalised inside; ``queue`` (keys) and ``prototypes`` are
    used as given (l2-normalised, as the queue/clustering hooks produce them). For each
    clustering the candidates are the positive prototype of every sample of the batch
    (the target of sample i is column i) and up to ``num_neg_prototypes`` prototypes
    that are nobody's positive, sampled at random.

    Args:
        q (Tensor): ``[N, D]`` query embeddings.
        k (Tensor): ``[N, D]`` key embeddings (positives).
        queue (Tensor): ``[K, D]`` negative keys.
        prototypes (list[Tensor]): M tensors ``[K_m, D]``.
        assignments (list[Tensor]): M tensors ``[N]``, prototype id of each sample.
        concentrations (list[Tensor]): M tensors ``[K_m]``, ``phi`` per prototype
            (see :func:`estimate_concentration`).
        temperature (float): Temperature of the instance InfoNCE. Defaults to 0.2.
        num_neg_prototypes (int): Negative prototypes per clustering. Defaults to 16000.
        generator (torch.Generator, optional): RNG of the negative sampling.

    Returns:
        Tensor: Scalar loss; a graph-connected 0 for an empty batch.
    """
    check_queue(q, k, queue)
    _check_clusterings(q, prototypes, assignments, concentrations)
    if q.shape[0] == 0:
        return finite_zero(q, k)
    q, k = F.normalize(q, dim=1), F.normalize(k, dim=1)
    logits = moco_logits(q, k, queue) / temperature
    loss = F.cross_entropy(logits, logits.new_zeros(q.shape[0], dtype=torch.long))
    if prototypes:
        proto = [
            _proto_term(q, protos, assign, conc, num_neg_prototypes, generator)
            for protos, assign, conc in zip(prototypes, assignments, concentrations)
        ]
        loss = loss + torch.stack(proto).mean()
    return loss


def prototype_features(v: Tensor, assign: Tensor, num_prototypes: int) -> Tensor:
    """``u``: the l2-normalised mean of the embeddings sharing a prototype, one row per
    occupied prototype (differentiable w.r.t. ``v``)."""
    assign = assign.long()
    sums = v.new_zeros(num_prototypes, v.shape[1]).index_add_(0, assign, v)
    occupied = torch.bincount(assign, minlength=num_prototypes) > 0
    return F.normalize(sums[occupied], dim=1)


def alignment_term(v: Tensor, centres: Tensor, alpha: float = 2.0) -> Tensor:
    """``mean_i ||v_i - c_{s(i)}||^alpha``."""
    return torch.linalg.vector_norm(v - centres, dim=1).pow(alpha).mean()


def uniformity_term(u: Tensor, t: float = 2.0) -> Tensor:
    """Wang & Isola: ``log mean_{a < b} exp(-t ||u_a - u_b||^2)`` (0 for fewer than 2 rows)."""
    if u.shape[0] < 2:
        return finite_zero(u)
    rows, cols = torch.triu_indices(u.shape[0], u.shape[0], offset=1, device=u.device)
    # squared distances without a sqrt, so equal rows give no NaN gradient
    sq = (u[rows] - u[cols]).pow(2).sum(dim=1)
    return torch.logsumexp(-t * sq, dim=0) - math.log(sq.numel())


def correlation_term(u: Tensor, eps: float = 1e-5) -> Tensor:
    """Sum of squared off-diagonal entries of the D x D correlation matrix of the rows of
    ``u`` (standardised per dimension), divided by D (0 for fewer than 2 rows)."""
    if u.shape[0] < 2:
        return finite_zero(u)
    z = standardise(u, eps)
    corr = z.t() @ z / u.shape[0]
    off_diag = corr - torch.diag_embed(torch.diagonal(corr))
    return off_diag.pow(2).sum() / u.shape[1]


def prototype_correlation_term(u: Tensor, eps: float = 1e-5) -> Tensor:
    """Sum of squared off-diagonal entries of the n x n correlation matrix between the
    rows of ``u`` (each prototype feature standardised over its D dimensions), divided
    by n (0 for fewer than 2 rows). It can reach 0 when n < D: n centred vectors in D
    dimensions can be mutually orthogonal."""
    if u.shape[0] < 2:
        return finite_zero(u)
    z = standardise(u.t(), eps).t()  # rows: zero mean, unit variance over the D dimensions
    corr = z @ z.t() / u.shape[1]
    off_diag = corr - torch.diag_embed(torch.diagonal(corr))
    return off_diag.pow(2).sum() / u.shape[0]


def _warn_if_unsatisfiable(u: Tensor, form: str) -> None:
    """Warn when the correlation term cannot reach 0 at this number of prototypes. The
    text does not depend on ``n``, so Python's default filter shows it once per process
    instead of once per batch."""
    n, d = u.shape
    if form == 'dimension' and 1 < n <= d:
        warnings.warn(
            f'PAUC correlation term with no more occupied prototypes in the batch than the {d} '
            'feature dimensions: the correlation matrix then has rank < D and the term cannot '
            'fall below D / (n - 1) - 1, so it adds a gradient it cannot satisfy. Gather the batch '
            "of all ranks (gather_distributed=True), use corr_form='prototype', or a small "
            'corr_weight (configs/selfsup/README.md measures 0.1 against 0 on the toy set).', UserWarning,
            stacklevel=3)
    elif form == 'prototype' and n >= d:
        warnings.warn(
            f'PAUC prototype-form correlation term with at least as many occupied prototypes as the {d} '
            'feature dimensions: n centred vectors cannot all be uncorrelated in D < n + 1 dimensions, '
            "so the term cannot reach 0. Use corr_form='dimension' for batches with more prototypes "
            'than dimensions.', UserWarning, stacklevel=3)


@fp32_compute
def pauc_loss(q: Tensor,
              k: Tensor,
              queue: Tensor,
              prototypes: List[Tensor],
              assignments: List[Tensor],
              concentrations: List[Tensor],
              temperature: float = 0.2,
              num_neg_prototypes: int = 16000,
              align_weight: float = 1.0,
              align_alpha: float = 2.0,
              uniform_weight: float = 1.0,
              uniform_t: float = 2.0,
              corr_weight: float = 1.0,
              corr_form: str = 'dimension',
              gather_distributed: bool = False,
              generator: Optional[torch.Generator] = None) -> Tensor:
    """PAUC: ProtoNCE plus alignment, uniformity and correlation on prototypes.

    With ``v = normalize(q)``, for each clustering m (terms averaged over m):
    alignment ``mean_i ||v_i - c_{s(i)}||^alpha``; uniformity and correlation on the
    prototype-level features ``u`` (:func:`prototype_features`). A term whose weight is
    0 is not computed. The correlation term decorrelates the D feature dimensions over
    the occupied prototypes (``corr_form='dimension'``, :func:`correlation_term`,
    reachable only with more prototypes than dimensions) or the prototypes from each
    other (``'prototype'``, :func:`prototype_correlation_term`, reachable only with
    fewer prototypes than dimensions).

    With ``gather_distributed``, the prototype-level features are built from the
    embeddings and assignments of all ranks (``v`` gathered with gradient), so
    uniformity and correlation see the global batch; every rank computes the same
    global terms, and the gradient each rank receives for its own embeddings is
    ``world_size`` times the single-process one (the convention of
    :mod:`mmcontrast.utils.distributed`, which DDP's averaging undoes). Alignment is
    per sample and stays local.

    Args:
        q, k, queue, prototypes, assignments, concentrations, temperature,
            num_neg_prototypes, generator: As in :func:`proto_nce_loss`.
        align_weight (float): Weight of the alignment term. Defaults to 1.0.
        align_alpha (float): Exponent of the alignment distance. Defaults to 2.
        uniform_weight (float): Weight of the uniformity term. Defaults to 1.0.
        uniform_t (float): Uniformity temperature ``t``. Defaults to 2.0.
        corr_weight (float): Weight of the correlation term. Defaults to 1.0.
        corr_form (str): ``'dimension'`` or ``'prototype'``. Defaults to 'dimension'.
        gather_distributed (bool): Prototype-level terms over the batch of all ranks.
            Defaults to False.

    Returns:
        Tensor: Scalar loss.
    """
    if corr_form not in CORR_FORMS:
        raise ValueError(f'corr_form must be one of {CORR_FORMS}, got {corr_form!r}')
    loss = proto_nce_loss(q, k, queue, prototypes, assignments, concentrations, temperature, num_neg_prototypes,
                          generator)
    if q.shape[0] == 0 or not prototypes:
        return loss
    v = F.normalize(q, dim=1)
    gather = gather_distributed and get_dist_info()[1] > 1
    v_all = gather_with_grad(v) if gather and (uniform_weight or corr_weight) else v
    extra = []
    for protos, assign in zip(prototypes, assignments):
        term = finite_zero(v)
        if align_weight:
            term = term + align_weight * alignment_term(v, protos[assign.long()], align_alpha)
        if uniform_weight or corr_weight:
            assign_all = gather_no_grad(assign.long()) if gather else assign
            u = prototype_features(v_all, assign_all, protos.shape[0])
            if uniform_weight:
                term = term + uniform_weight * uniformity_term(u, uniform_t)
            if corr_weight:
                _warn_if_unsatisfiable(u, corr_form)
                corr = correlation_term(u) if corr_form == 'dimension' else prototype_correlation_term(u)
                term = term + corr_weight * corr
        extra.append(term)
    return loss + torch.stack(extra).mean()


class _PrototypeLossBase(nn.Module):
    """Shared constructor/forward signature of the prototype losses."""

    def __init__(self, temperature: float = 0.2, num_neg_prototypes: int = 16000, loss_weight: float = 1.0) -> None:
        super().__init__()
        check_positive(type(self).__name__, temperature=temperature)
        check_non_negative(type(self).__name__, integer=True, num_neg_prototypes=num_neg_prototypes)
        check_non_negative(type(self).__name__, loss_weight=loss_weight)
        self.temperature = temperature
        self.num_neg_prototypes = num_neg_prototypes
        self.loss_weight = loss_weight

    def _loss(self, *args) -> Tensor:
        raise NotImplementedError

    def forward(self, q: Tensor, k: Tensor, queue: Tensor, prototypes: List[Tensor], assignments: List[Tensor],
                concentrations: List[Tensor]) -> Tensor:
        """Return the weighted loss; see :func:`proto_nce_loss` for the inputs."""
        return self.loss_weight * self._loss(q, k, queue, prototypes, assignments, concentrations)


@MODELS.register_module()
class ProtoNCELoss(_PrototypeLossBase):
    """ProtoNCE loss (see :func:`proto_nce_loss`).

    Args:
        temperature (float): Temperature of the instance InfoNCE. Defaults to 0.2.
        num_neg_prototypes (int): Negative prototypes per clustering. Defaults to 16000.
        loss_weight (float): Multiplier of the loss. Defaults to 1.0.
    """

    def _loss(self, *args) -> Tensor:
        return proto_nce_loss(*args, temperature=self.temperature, num_neg_prototypes=self.num_neg_prototypes)


@MODELS.register_module()
class PAUCLoss(_PrototypeLossBase):
    """PAUC loss: ProtoNCE + alignment + uniformity + correlation (see :func:`pauc_loss`).

    Args:
        temperature (float): Temperature of the instance InfoNCE. Defaults to 0.2.
        num_neg_prototypes (int): Negative prototypes per clustering. Defaults to 16000.
        align_weight (float): Weight of the alignment term. Defaults to 1.0.
        align_alpha (float): Exponent of the alignment distance. Defaults to 2.
        uniform_weight (float): Weight of the uniformity term. Defaults to 1.0.
        uniform_t (float): Uniformity temperature. Defaults to 2.0.
        corr_weight (float): Weight of the correlation term. Defaults to 1.0.
        corr_form (str): ``'dimension'`` (D x D over the prototypes; needs more
            occupied prototypes per batch than dimensions) or ``'prototype'`` (n x n
            between the prototypes; needs fewer). Defaults to 'dimension'.
        gather_distributed (bool): Build the prototype-level features from the batch
            of all ranks. Defaults to False.
        loss_weight (float): Multiplier of the loss. Defaults to 1.0.
    """

    def __init__(self,
                 temperature: float = 0.2,
                 num_neg_prototypes: int = 16000,
                 align_weight: float = 1.0,
                 align_alpha: float = 2,
                 uniform_weight: float = 1.0,
                 uniform_t: float = 2.0,
                 corr_weight: float = 1.0,
                 corr_form: str = 'dimension',
                 gather_distributed: bool = False,
                 loss_weight: float = 1.0) -> None:
        super().__init__(temperature, num_neg_prototypes, loss_weight)
        check_non_negative('PAUCLoss', align_weight=align_weight, uniform_weight=uniform_weight,
                           corr_weight=corr_weight)
        check_positive('PAUCLoss', align_alpha=align_alpha, uniform_t=uniform_t)
        if corr_form not in CORR_FORMS:
            raise ValueError(f'corr_form must be one of {CORR_FORMS}, got {corr_form!r}')
        self.align_weight = align_weight
        self.align_alpha = align_alpha
        self.uniform_weight = uniform_weight
        self.uniform_t = uniform_t
        self.corr_weight = corr_weight
        self.corr_form = corr_form
        self.gather_distributed = gather_distributed

    def _loss(self, *args) -> Tensor:
        return pauc_loss(
            *args,
            temperature=self.temperature,
            num_neg_prototypes=self.num_neg_prototypes,
            align_weight=self.align_weight,
            align_alpha=self.align_alpha,
            uniform_weight=self.uniform_weight,
            uniform_t=self.uniform_t,
            corr_weight=self.corr_weight,
            corr_form=self.corr_form,
            gather_distributed=self.gather_distributed)
