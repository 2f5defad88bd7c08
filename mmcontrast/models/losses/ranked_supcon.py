"""Ranked supervised contrast (RINCE-style class-similarity ranks).

Hoffmann et al., "Ranking Info Noise Contrastive Estimation: Boosting Contrastive
Learning via Ranked Positives", AAAI 2022. Positives come in ranks: rank 0 is the
anchor's own class, rank r > 0 a group of classes judged similar to it. Each rank is
contrasted against the samples of its own and lower (less similar) ranks and the true
negatives, with a temperature that grows with the rank.
"""
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.fileio import load
from torch import Tensor

from mmcontrast.registry import MODELS
from mmcontrast.utils.class_ranking import ClassRanking, load_class_ranking
from .utils import check_non_negative, check_per_row, check_positive, check_tensor, finite_zero, fp32_compute

RankingLike = Union[str, Path, Mapping, object]


def _class_index(value, classes: Optional[Sequence[str]], where: str) -> int:
    if isinstance(value, str):
        if classes is not None and value in classes:
            return list(classes).index(value)
        if value.isdigit():  # JSON object keys are always strings
            value = int(value)
        elif classes is None:
            raise ValueError(f'{where}: class name {value!r} needs a `classes` list to map names to indices')
        else:
            raise ValueError(f'{where}: unknown class {value!r}; known classes: {list(classes)}')
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f'{where}: a class must be an int index or a name, got {value!r}')
    if value < 0 or (classes is not None and value >= len(classes)):
        bound = f' [0, {len(classes)})' if classes is not None else ' >= 0'
        raise ValueError(f'{where}: unknown class index {value}, expected{bound}')
    return value


def parse_class_ranking(class_ranking: RankingLike,
                        classes: Optional[Sequence[str]] = None) -> Dict[int, List[List[int]]]:
    """Validate a class ranking and map it to class indices.

    Args:
        class_ranking (str | Path | Mapping | ClassRanking):
            ``{class: [[class], [similar, ...], ...]}`` keyed by index or name, or
            ``{'classes': [...], 'ranking': {...}}``, or a YAML/JSON file of either. A
            rank group may be a single class instead of a list. Rank 0 must be exactly
            the class itself, and a class may appear at most once within an entry.
            ``{'classes': [...], 'hierarchy': ...}`` and ``ClassRanking`` objects are
            expanded by :mod:`mmcontrast.utils.class_ranking`.
        classes (Sequence[str], optional): Class names, needed when names are used (a
            file's own ``classes`` takes precedence).

    Returns:
        dict[int, list[list[int]]]: Rank groups per class index.
    """
    if isinstance(class_ranking, (str, Path)):
        class_ranking = load(str(class_ranking))
    if isinstance(class_ranking, Mapping) and 'classes' in class_ranking:
        # The name-keyed file format (explicit ranks or a hierarchy) is validated and
        # expanded by mmcontrast.utils.class_ranking; its explicit form is read below.
        class_ranking = load_class_ranking(dict(class_ranking))
    if isinstance(class_ranking, ClassRanking):
        class_ranking = class_ranking.to_dict()
    if isinstance(class_ranking, Mapping) and 'ranking' in class_ranking:
        classes = class_ranking.get('classes', classes)
        class_ranking = class_ranking['ranking']
    if not isinstance(class_ranking, Mapping):
        raise ValueError(f'class_ranking must be a dict (or a YAML/JSON file of one), got '
                         f'{type(class_ranking).__name__}')
    parsed: Dict[int, List[List[int]]] = {}
    for key, groups in class_ranking.items():
        cls = _class_index(key, classes, 'class_ranking key')
        where = f'class_ranking[{key!r}]'
        if cls in parsed:
            raise ValueError(f'{where}: class {cls} has two entries')
        if not isinstance(groups, (list, tuple)) or not groups:
            raise ValueError(f'{where} must be a non-empty list of rank groups, got {groups!r}')
        rank_groups = []
        for r, group in enumerate(groups):
            group = list(group) if isinstance(group, (list, tuple)) else [group]
            if not group:
                raise ValueError(f'{where}: rank {r} is empty')
            rank_groups.append([_class_index(c, classes, f'{where} rank {r}') for c in group])
        if rank_groups[0] != [cls]:
            raise ValueError(f'{where}: rank 0 must be the class itself ([{key!r}]), got {groups[0]!r}')
        seen = set()
        for r, group in enumerate(rank_groups):
            for c in group:
                if c in seen:
                    raise ValueError(f'{where}: class {c} is ranked twice (again at rank {r})')
                seen.add(c)
        parsed[cls] = rank_groups
    return parsed


def build_rank_matrix(ranking: Mapping[int, List[List[int]]], num_classes: int) -> Tensor:
    """``R[y, c]``: rank of class c for an anchor of class y, -1 for a negative.

    Classes without an entry rank only themselves (rank 0).
    """
    matrix = torch.full((num_classes, num_classes), -1, dtype=torch.long)
    matrix.fill_diagonal_(0)
    for cls, groups in ranking.items():
        if cls >= num_classes:
            continue
        for r, group in enumerate(groups):
            for c in group:
                if c < num_classes:
                    matrix[cls, c] = r
    return matrix


def _masked_logsumexp(logits: Tensor, mask: Tensor) -> Tensor:
    # finite fill: rows with an empty mask stay finite (their result is discarded)
    return torch.logsumexp(logits.masked_fill(~mask, torch.finfo(logits.dtype).min), dim=1)


@fp32_compute
def ranked_supcon_loss(features: Tensor,
                       labels: Tensor,
                       rank_matrix: Tensor,
                       taus: Sequence[float],
                       bank_features: Optional[Tensor] = None,
                       bank_labels: Optional[Tensor] = None,
                       weight: Optional[Tensor] = None) -> Tensor:
    """RINCE loss with class ranks.

    For anchor a (cosine similarities ``s``), with ``P_r`` the candidates at rank r
    (self excluded) and ``N`` the candidates of no rank:
    ``loss_a = sum_r -log( sum_{P_r} e^{s/tau_r} / (sum_{P_{>=r}} e^{s/tau_r} + sum_N e^{s/tau_r}) )``
    over the ranks with at least one candidate; the mean over anchors with at least one
    such rank (each multiplied by ``weight[a]`` if given, as in :func:`supcon_loss`).
    Candidates are the batch and the optional memory bank.

    Args:
        features (Tensor): ``[N, D]`` anchor features (l2-normalised inside).
        labels (Tensor): ``[N]`` class indices.
        rank_matrix (Tensor): ``[C, C]`` from :func:`build_rank_matrix`, C > max label.
        taus (Sequence[float]): Temperature of each rank.
        bank_features (Tensor, optional): ``[Q, D]`` extra candidates.
        bank_labels (Tensor, optional): ``[Q]`` their labels.
        weight (Tensor, optional): ``[N]`` per-anchor weights. Defaults to None.

    Returns:
        Tensor: Scalar loss; a graph-connected 0 when no anchor has a positive.
    """
    check_tensor('features', features, (2, ))
    check_per_row('labels', labels, 'features', features)
    check_positive('ranked_supcon_loss', **{f'taus[{r}]': t for r, t in enumerate(taus)})
    if weight is not None:
        check_per_row('weight', weight, 'features', features, floating=True)
    if (bank_features is None) != (bank_labels is None):
        raise ValueError('bank_features and bank_labels must be given together')
    anchors = F.normalize(features, dim=1)
    contrast, contrast_labels = anchors, labels.long()
    if bank_features is not None:
        check_tensor('bank_features', bank_features, (2, ))
        check_tensor('bank_labels', bank_labels, (1, ), floating=False)
        if bank_features.shape[1] != features.shape[1] or bank_labels.shape[0] != bank_features.shape[0]:
            raise ValueError(f'bank_features {tuple(bank_features.shape)} / bank_labels '
                             f'{tuple(bank_labels.shape)} do not match features {tuple(features.shape)}')
        contrast = torch.cat([anchors, F.normalize(bank_features, dim=1)])
        contrast_labels = torch.cat([contrast_labels, bank_labels.long()])
    zero = finite_zero(contrast)
    if contrast_labels.numel() and contrast_labels.min() < 0:
        raise ValueError('labels must be non-negative class indices')
    if contrast_labels.numel() and contrast_labels.max() >= rank_matrix.shape[0]:
        raise ValueError(f'label {int(contrast_labels.max())} outside the rank matrix '
                         f'{tuple(rank_matrix.shape)}')
    num = anchors.shape[0]
    if num == 0:
        return zero
    ranks = rank_matrix.to(labels.device)[labels.long()][:, contrast_labels]
    # self is neither a positive nor part of any denominator
    ranks[torch.arange(num), torch.arange(num)] = -2
    sim = anchors @ contrast.t()
    per_anchor = sim.new_zeros(num)
    has_pos = torch.zeros(num, dtype=torch.bool, device=sim.device)
    for r, tau in enumerate(taus):
        positive = ranks == r
        present = positive.any(dim=1)
        if not present.any():
            continue
        logits = sim / tau
        denominator = (ranks >= r) | (ranks == -1)
        term = _masked_logsumexp(logits, denominator) - _masked_logsumexp(logits, positive)
        per_anchor = per_anchor + torch.where(present, term, torch.zeros_like(term))
        has_pos |= present
    if not has_pos.any():
        return zero
    if weight is not None:
        per_anchor = per_anchor * weight
    return per_anchor[has_pos].mean() + zero


def _ranking_classes(class_ranking, classes: Optional[Sequence[str]]) -> Optional[List[str]]:
    """The class names a (loaded) ranking declares, else ``classes``, else None."""
    if isinstance(class_ranking, ClassRanking):
        return list(class_ranking.classes)
    if isinstance(class_ranking, Mapping) and 'classes' in class_ranking:
        return list(class_ranking['classes'])
    return list(classes) if classes is not None else None


@MODELS.register_module()
class RankedSupConLoss(nn.Module):
    """Ranked supervised contrastive loss (see :func:`ranked_supcon_loss`).

    Labels are checked against the ranking's classes: with class names (``classes``, or a
    ranking file that lists them) or ``num_classes``, a label outside ``[0, num_classes)``
    is an error. A ranking keyed by indices alone does not bound the labels: one it never
    mentions ranks only itself. Either way the rank matrix of a batch covers only the
    classes present in it, so memory does not grow with the label values.

    Args:
        class_ranking (str | Path | dict): Rank groups per class (see
            :func:`parse_class_ranking`), or a YAML/JSON file of them.
        taus (Sequence[float], optional): Temperature per rank, finite, > 0 and
            non-decreasing, at least as many as the longest ranking. Defaults to None:
            linear from ``min_tau`` to ``max_tau`` over the longest ranking.
        min_tau (float): Temperature of rank 0, > 0. Defaults to 0.1.
        max_tau (float): Temperature of the last rank, > 0. Defaults to 0.6.
        loss_weight (float): Multiplier of the loss, >= 0. Defaults to 1.0.
        classes (Sequence[str], optional): Class names, to write the ranking with names;
            they also bound the labels. Defaults to None.
        num_classes (int, optional): Number of classes, when the ranking does not name
            them. Defaults to None: the number of ``classes`` if known, else unbounded.
    """

    def __init__(self,
                 class_ranking: RankingLike,
                 taus: Optional[Sequence[float]] = None,
                 min_tau: float = 0.1,
                 max_tau: float = 0.6,
                 loss_weight: float = 1.0,
                 classes: Optional[Sequence[str]] = None,
                 num_classes: Optional[int] = None) -> None:
        super().__init__()
        check_positive('RankedSupConLoss', min_tau=min_tau, max_tau=max_tau)
        check_non_negative('RankedSupConLoss', loss_weight=loss_weight)
        if isinstance(class_ranking, (str, Path)):
            class_ranking = load(str(class_ranking))
        names = _ranking_classes(class_ranking, classes)
        self.ranking = parse_class_ranking(class_ranking, classes)
        num_ranks = max((len(groups) for groups in self.ranking.values()), default=1)
        if taus is None:
            taus = torch.linspace(min_tau, max_tau, num_ranks).tolist() if num_ranks > 1 else [min_tau]
        taus = list(taus)
        if len(taus) < num_ranks:
            raise ValueError(f'taus has {len(taus)} entries but the ranking has {num_ranks} ranks')
        check_positive('RankedSupConLoss', **{f'taus[{r}]': t for r, t in enumerate(taus)})
        taus = [float(t) for t in taus]
        if any(b < a for a, b in zip(taus, taus[1:])):
            raise ValueError(f'taus must be positive and non-decreasing with the rank, got {taus}')
        self.taus = taus[:num_ranks]
        self.loss_weight = loss_weight
        known = max((c for groups in self.ranking.values() for group in groups for c in group), default=0) + 1
        if num_classes is None and names is not None:
            num_classes = len(names)
        if num_classes is not None:
            check_non_negative('RankedSupConLoss', integer=True, num_classes=num_classes)
            if known > num_classes:
                raise ValueError(f'RankedSupConLoss: the ranking mentions class {known - 1}, but num_classes is '
                                 f'{num_classes}')
        self.num_classes = num_classes
        self.classes = names
        self._rank_matrix = build_rank_matrix(self.ranking, num_classes or known)

    def _check_labels(self, name: str, labels: Tensor) -> None:
        check_tensor(name, labels, (1, ), floating=False)
        if not labels.numel():
            return
        if labels.min() < 0:
            raise ValueError(f'RankedSupConLoss: {name} must be non-negative class indices, got {int(labels.min())}')
        if self.num_classes is not None and labels.max() >= self.num_classes:
            named = f' ({", ".join(self.classes)})' if self.classes else ''
            raise ValueError(f'RankedSupConLoss: {name} holds {int(labels.max())}, not a class of the ranking: '
                             f'expected [0, {self.num_classes}){named}')

    def _batch_rank_matrix(self, ids: Tensor) -> Tuple[Tensor, Tensor]:
        """Ranks among the classes present in ``ids``, and ``ids`` re-indexed into them."""
        present, inverse = torch.unique(ids, return_inverse=True)
        full = self._rank_matrix.to(ids.device)
        ranked = (present < full.shape[0]).nonzero().squeeze(1)
        matrix = torch.full((present.numel(), present.numel()), -1, dtype=torch.long, device=ids.device)
        matrix.fill_diagonal_(0)  # a class the ranking never mentions ranks only itself
        cls = present[ranked]
        matrix[ranked[:, None], ranked[None, :]] = full[cls[:, None], cls[None, :]]
        return matrix, inverse

    def forward(self,
                features: Tensor,
                labels: Tensor,
                bank_features: Optional[Tensor] = None,
                bank_labels: Optional[Tensor] = None,
                weight: Optional[Tensor] = None) -> Tensor:
        """Return the weighted loss of ``[N, D]`` features, ``[N]`` labels, an optional bank
        and optional ``[N]`` per-anchor weights."""
        self._check_labels('labels', labels)
        ids = labels.long()
        if bank_labels is not None:
            self._check_labels('bank_labels', bank_labels)
            ids = torch.cat([ids, bank_labels.long().to(ids.device)])
        matrix, inverse = self._batch_rank_matrix(ids)
        num = labels.shape[0]
        batch_labels, batch_bank = inverse[:num], (inverse[num:] if bank_labels is not None else None)
        loss = ranked_supcon_loss(features, batch_labels, matrix, self.taus, bank_features, batch_bank, weight)
        return self.loss_weight * loss
