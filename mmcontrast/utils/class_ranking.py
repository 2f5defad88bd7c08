"""User-defined rankings of class similarity, stored as YAML or JSON.

A ranking tells a ranked contrastive loss (``RankedSupConLoss``) which other
classes count as *nearer* positives for an anchor class before the rest become
negatives. Files are keyed by class names, so they survive a change of label
order, and are validated on load.

File format (YAML shown; JSON has the same structure)::

    classes: [airplane, automobile, bird, cat, deer, dog, frog, horse, ship, truck]
    # Either explicit ranks per anchor class, most similar first; rank 0, the
    # anchor itself, may be written out (RankedSupConLoss reads files in that
    # form) or left implicit ...
    ranking:
      automobile: [[automobile], [truck], [airplane, ship]]
      cat: [[dog], [deer, horse]]
    # ... or a hierarchy, from which the tiers follow by tree distance
    # (siblings are tier 1, cousins tier 2, ...; the implicit root is no tier).
    hierarchy:
      vehicle:
        road: [automobile, truck]
        other: [airplane, ship]
      animal: [bird, cat, deer, dog, frog, horse]

``classes`` is required: it fixes the label index of every class and must match
the dataset's ``metainfo['classes']``. Classes that an anchor does not rank are
its negatives. The anchor itself is always rank 0 and may not appear in any
other rank. ``tools/misc/expand_class_ranking.py`` writes the explicit form of a
hierarchy file.
"""
import difflib
import json
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import yaml

__all__ = ['ClassRanking', 'ClassRankingError', 'load_class_ranking']

RankingSource = Union[str, Path, dict, 'ClassRanking']


class ClassRankingError(ValueError):
    """A class ranking file or dict that cannot be used."""


class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML loader that rejects duplicate keys (plain YAML keeps the last)."""


def _construct_unique_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    mapping = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in mapping:
            raise ClassRankingError(f'key {key!r} appears twice (line {key_node.start_mark.line + 1}); '
                                    'a class may be ranked only once')
        mapping[key] = loader.construct_object(value_node, deep=deep)
    return mapping


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_unique_mapping)


def _json_unique_pairs(pairs: List[Tuple[str, object]]) -> dict:
    mapping = {}
    for key, value in pairs:
        if key in mapping:
            raise ClassRankingError(f'key {key!r} appears twice; a class may be ranked only once')
        mapping[key] = value
    return mapping


class ClassRanking:
    """A validated ranking of class similarity.

    Args:
        classes (Sequence[str]): Class names in label-index order.
        tiers (Dict[str, List[List[str]]]): For each anchor class, the other
            classes grouped into tiers, most similar first. Anchors that are
            missing rank nothing (every other class is a negative).
        source (str): Where the ranking came from, used in error messages.
            Defaults to ``'<dict>'``.
    """

    def __init__(self, classes: Sequence[str], tiers: Dict[str, List[List[str]]], source: str = '<dict>') -> None:
        self.source = source
        self.classes = self._check_classes(classes)
        self.tiers = self._check_tiers(tiers)

    # ----------------------------------------------------------------- checks
    def _error(self, msg: str) -> ClassRankingError:
        return ClassRankingError(f'class ranking {self.source}: {msg}')

    def _check_classes(self, classes: Sequence[str]) -> Tuple[str, ...]:
        if isinstance(classes, str) or not isinstance(classes, Sequence) or len(classes) < 2:
            raise self._error(f"'classes' must be a list of at least 2 class names, got {classes!r}")
        seen = set()
        for name in classes:
            if not isinstance(name, str) or not name:
                raise self._error(f"'classes' must hold non-empty strings, got {name!r}")
            if name in seen:
                raise self._error(f"class {name!r} is listed twice in 'classes'")
            seen.add(name)
        return tuple(classes)

    def _check_name(self, name: object, where: str) -> str:
        if not isinstance(name, str) or name not in self.classes:
            close = difflib.get_close_matches(str(name), self.classes, n=1)
            hint = f' (did you mean {close[0]!r}?)' if close else ''
            raise self._error(f'{where} names unknown class {name!r}{hint}; known classes: {list(self.classes)}')
        return name

    def _check_tiers(self, tiers: Dict[str, List[List[str]]]) -> Dict[str, List[List[str]]]:
        if not isinstance(tiers, dict):
            raise self._error(f"'ranking' must map class names to lists of tiers, got {type(tiers).__name__}")
        checked = {}
        for anchor, anchor_tiers in tiers.items():
            self._check_name(anchor, 'the ranking')
            if not isinstance(anchor_tiers, list):
                raise self._error(f'the ranking of {anchor!r} must be a list of tiers (lists of class names), '
                                  f'got {anchor_tiers!r}')
            if anchor_tiers and anchor_tiers[0] in ([anchor], anchor):
                # Rank 0 written out (the form RankedSupConLoss reads): the anchor itself.
                anchor_tiers = anchor_tiers[1:]
            ranked_at = {}
            clean = []
            for level, tier in enumerate(anchor_tiers, start=1):
                # A bare name is a tier of one class.
                tier = [tier] if isinstance(tier, str) else tier
                if not isinstance(tier, list) or not tier:
                    raise self._error(f'tier {level} of {anchor!r} must be a non-empty list of class names, '
                                      f'got {tier!r}')
                for name in tier:
                    self._check_name(name, f'tier {level} of {anchor!r}')
                    if name == anchor:
                        raise self._error(f'{anchor!r} ranks itself in tier {level}; the anchor is always rank 0 '
                                          'and must not be listed')
                    if name in ranked_at:
                        raise self._error(f'{name!r} is ranked twice for {anchor!r} (tiers {ranked_at[name]} '
                                          f'and {level})')
                    ranked_at[name] = level
                clean.append(list(tier))
            checked[anchor] = clean
        return checked

    # ------------------------------------------------------------------ views
    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def num_tiers(self) -> int:
        """The largest number of tiers any anchor uses."""
        return max((len(t) for t in self.tiers.values()), default=0)

    def rank_matrix(self, negative: int = -1) -> torch.Tensor:
        """Rank of every class relative to every anchor.

        Args:
            negative (int): Value for classes an anchor does not rank.
                Defaults to -1.

        Returns:
            Tensor: Long tensor ``R`` of shape ``(C, C)``; ``R[i, j]`` is 0 for
            ``j == i``, ``k`` if class ``j`` is in tier ``k`` (1-based) of
            anchor ``i``, and ``negative`` otherwise.
        """
        index = {name: i for i, name in enumerate(self.classes)}
        ranks = torch.full((self.num_classes, self.num_classes), negative, dtype=torch.long)
        ranks.fill_diagonal_(0)
        for anchor, anchor_tiers in self.tiers.items():
            for level, tier in enumerate(anchor_tiers, start=1):
                for name in tier:
                    ranks[index[anchor], index[name]] = level
        return ranks

    def subset(self, classes: Sequence[str]) -> 'ClassRanking':
        """The ranking restricted to ``classes`` (in that label order).

        Classes outside ``classes`` are dropped from every tier and tiers left
        empty are removed, so one file can serve several label sets (e.g. the
        8 toy segmentation classes and the 2 toy detection classes).

        Args:
            classes (Sequence[str]): Class names in label-index order; all
                must be known to this ranking.

        Returns:
            ClassRanking: A new, validated ranking.
        """
        for name in classes:
            self._check_name(name, 'the requested subset')
        keep = set(classes)
        tiers = {}
        for anchor, anchor_tiers in self.tiers.items():
            if anchor not in keep:
                continue
            kept = [[n for n in tier if n in keep] for tier in anchor_tiers]
            tiers[anchor] = [tier for tier in kept if tier]
        return ClassRanking(classes, tiers, source=f'{self.source} (subset)')

    def to_dict(self) -> dict:
        """``dict(classes=..., ranking=...)`` with rank 0 written out.

        This is the file format with every anchor's first group being the
        anchor itself, which ``RankedSupConLoss(class_ranking=...)`` reads
        directly (as a dict or from a YAML/JSON file) and this module loads
        again.
        """
        return dict(
            classes=list(self.classes),
            ranking={k: [[k]] + [list(t) for t in self.tiers.get(k, [])]
                     for k in self.classes})

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(source={self.source}, num_classes={self.num_classes}, '
                f'num_tiers={self.num_tiers})')


def _tiers_from_hierarchy(hierarchy: object, source: str) -> Dict[str, List[List[str]]]:
    """Derive per-class tiers from a nested dict/list tree of class names."""
    paths: Dict[str, Tuple[int, ...]] = {}  # leaf -> group ids from the outermost to the innermost

    def walk(node: object, path: Tuple[int, ...], counter: List[int]) -> None:
        if isinstance(node, str):
            if node in paths:
                raise ClassRankingError(f'class ranking {source}: class {node!r} appears twice in the hierarchy')
            paths[node] = path
        elif isinstance(node, dict):
            for child in node.values():
                counter[0] += 1
                walk(child, path + (counter[0], ), counter)
        elif isinstance(node, list):
            for child in node:
                walk(child, path, counter)
        else:
            raise ClassRankingError(f'class ranking {source}: the hierarchy may only hold dicts, lists and class '
                                    f'names, got {node!r}')

    if not isinstance(hierarchy, (dict, list)):
        raise ClassRankingError(f"class ranking {source}: 'hierarchy' must be a dict or list, got {hierarchy!r}")
    walk(hierarchy, (), [0])
    tiers = {}
    for anchor, anchor_path in paths.items():
        levels: Dict[int, List[str]] = {}
        for other, other_path in paths.items():
            if other == anchor:
                continue
            shared = 0
            while (shared < min(len(anchor_path), len(other_path)) and anchor_path[shared] == other_path[shared]):
                shared += 1
            if shared:  # sharing only the implicit root makes a negative
                levels.setdefault(len(anchor_path) - shared + 1, []).append(other)
        tiers[anchor] = [levels[k] for k in sorted(levels)]
    return tiers


def _read_file(path: Path) -> dict:
    if not path.is_file():
        raise FileNotFoundError(f'class ranking file not found: {path}')
    text = path.read_text()
    try:
        if path.suffix.lower() == '.json':
            data = json.loads(text, object_pairs_hook=_json_unique_pairs)
        elif path.suffix.lower() in ('.yaml', '.yml'):
            data = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 (safe loader subclass)
        else:
            raise ClassRankingError(f'class ranking {path}: use a .yaml, .yml or .json file')
    except ClassRankingError as err:
        raise ClassRankingError(f'class ranking {path}: {err}') from None
    except (yaml.YAMLError, json.JSONDecodeError) as err:
        raise ClassRankingError(f'class ranking {path}: cannot parse: {err}') from None
    return data


def load_class_ranking(source: RankingSource, classes: Optional[Sequence[str]] = None) -> ClassRanking:
    """Load and validate a class ranking.

    Args:
        source (str | Path | dict | ClassRanking): A ``.yaml``/``.yml``/
            ``.json`` file, or a dict with the file's structure.
        classes (Sequence[str], optional): The dataset's class names in label
            order. If given, the ranking is restricted to them (see
            :meth:`ClassRanking.subset`); every name must be in the file.
            Defaults to None (use the file's ``classes``).

    Returns:
        ClassRanking: The validated ranking.

    Raises:
        ClassRankingError: On an unknown class, a class ranked twice, a
            missing ``classes`` list or a malformed structure.
    """
    if isinstance(source, ClassRanking):
        ranking = source
    else:
        if isinstance(source, (str, Path)):
            name, data = str(source), _read_file(Path(source))
        elif isinstance(source, dict):
            name, data = '<dict>', source
        else:
            raise TypeError(f'class_ranking must be a file path, a dict or a ClassRanking, got {type(source)}')
        if not isinstance(data, dict):
            raise ClassRankingError(f'class ranking {name}: the top level must be a mapping with keys '
                                    f"'classes' and 'ranking' or 'hierarchy', got {type(data).__name__}")
        unknown_keys = set(data) - {'classes', 'ranking', 'hierarchy', 'description'}
        if unknown_keys:
            raise ClassRankingError(f'class ranking {name}: unknown top-level keys {sorted(unknown_keys)}; '
                                    "allowed: 'classes', 'ranking', 'hierarchy', 'description'")
        if 'classes' not in data:
            raise ClassRankingError(f"class ranking {name}: 'classes' is required (the dataset's class names in "
                                    'label order)')
        if ('ranking' in data) == ('hierarchy' in data):
            raise ClassRankingError(f"class ranking {name}: give exactly one of 'ranking' and 'hierarchy'")
        if 'ranking' in data:
            tiers = data['ranking'] if data['ranking'] is not None else {}
        else:
            tiers = _tiers_from_hierarchy(data['hierarchy'], name)
        ranking = ClassRanking(data['classes'], tiers, source=name)
    if classes is not None and tuple(classes) != ranking.classes:
        ranking = ranking.subset(classes)
    return ranking
