"""Class rankings as data: the shipped files, the two forms, validation errors."""
import glob
import json
import os.path as osp

import pytest
import torch

from mmcontrast.models.losses import RankedSupConLoss
from mmcontrast.models.losses.ranked_supcon import build_rank_matrix, parse_class_ranking
from mmcontrast.utils.class_ranking import ClassRanking, ClassRankingError, load_class_ranking

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
RANKINGS = sorted(glob.glob(osp.join(ROOT, 'configs/_base_/class_rankings/*.yaml')))


def _write(tmp_path, text, name='ranking.yaml'):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_shipped_rankings_exist():
    import os
    import re
    names = {osp.basename(p) for p in RANKINGS}
    assert {'cifar10.yaml', 'voc.yaml', 'toy_uda.yaml', 'toy_uda_det.yaml', 'toy_cls_id8.yaml'} <= names
    # the glob sees every file of the folder, so each gets the load test below
    folder = osp.join(ROOT, 'configs/_base_/class_rankings')
    assert set(os.listdir(folder)) == names
    # every ranking a config names is shipped (and so tested)
    referenced = set()
    for path in glob.glob(osp.join(ROOT, 'configs/**/*.py'), recursive=True):
        with open(path) as f:
            referenced |= set(re.findall(r'class_rankings/([\w.-]+)[\'"]', f.read()))
    assert {'toy_uda_det.yaml', 'toy_cls_id8.yaml'} <= referenced
    assert referenced <= names, referenced - names


@pytest.mark.parametrize('path', RANKINGS, ids=osp.basename)
def test_shipped_rankings_load_and_agree_with_the_loss(path):
    ranking = load_class_ranking(path)
    assert ranking.num_tiers >= 1
    # RankedSupConLoss reads the same files to the same ranks
    loss_matrix = build_rank_matrix(parse_class_ranking(path), ranking.num_classes)
    assert torch.equal(loss_matrix, ranking.rank_matrix())
    RankedSupConLoss(class_ranking=path)


def test_cifar10_hierarchy_ranks():
    ranking = load_class_ranking(osp.join(ROOT, 'configs/_base_/class_rankings/cifar10.yaml'))
    assert ranking.tiers['automobile'] == [['truck'], ['airplane', 'ship']]
    ranks = ranking.rank_matrix()
    cls = ranking.classes.index
    assert ranks[cls('cat'), cls('dog')] == 1
    assert ranks[cls('cat'), cls('bird')] == 2
    assert ranks[cls('cat'), cls('truck')] == -1
    assert ranks[cls('cat'), cls('cat')] == 0


def test_hierarchy_and_explicit_forms_agree(tmp_path):
    tree = _write(tmp_path, 'classes: [a, b, c, d, e]\nhierarchy:\n  g1: {g11: [a, b], g12: [c]}\n  g2: [d]\n')
    explicit = _write(tmp_path, 'classes: [a, b, c, d, e]\nranking:\n  a: [[a], [b], [c]]\n  b: [[b], [a], [c]]\n'
                      '  c: [[a, b]]\n', 'explicit.yaml')
    assert torch.equal(load_class_ranking(tree).rank_matrix(), load_class_ranking(explicit).rank_matrix())
    # rank 0 may be left implicit
    implicit = load_class_ranking(dict(classes=['a', 'b', 'c'], ranking=dict(a=[['b'], 'c'])))
    assert implicit.tiers == {'a': [['b'], ['c']]}


def test_json_and_round_trip(tmp_path):
    data = dict(classes=['x', 'y', 'z'], ranking=dict(x=[['x'], ['y']], z=[['z'], ['x', 'y']]))
    path = _write(tmp_path, json.dumps(data), 'ranking.json')
    ranking = load_class_ranking(path)
    again = load_class_ranking(ranking.to_dict())
    assert torch.equal(again.rank_matrix(), ranking.rank_matrix())
    assert load_class_ranking(ranking) is ranking


def test_subset_keeps_label_order_and_drops_empty_tiers():
    ranking = load_class_ranking(osp.join(ROOT, 'configs/_base_/class_rankings/toy_uda.yaml'))
    det = load_class_ranking(osp.join(ROOT, 'configs/_base_/class_rankings/toy_uda.yaml'), classes=['car', 'person'])
    assert det.classes == ('car', 'person')
    assert det.rank_matrix().tolist() == [[0, 1], [1, 0]]
    sub = ranking.subset(['building', 'vegetation'])
    assert sub.tiers['building'] == [['vegetation']]
    with pytest.raises(ClassRankingError, match="unknown class 'bus'"):
        ranking.subset(['car', 'bus'])


@pytest.mark.parametrize('text, match', [
    ('classes: [cat, dog]\nranking:\n  cat: [[dgo]]\n',
     r"tier 1 of 'cat' names unknown class 'dgo' \(did you mean 'dog'\?\)"),
    ('classes: [cat, dog]\nranking:\n  cow: [[dog]]\n', "the ranking names unknown class 'cow'"),
    ('classes: [a, b, c]\nranking:\n  a: [[b], [c, b]]\n', r"'b' is ranked twice for 'a' \(tiers 1 and 2\)"),
    ('classes: [a, b, c]\nranking:\n  a: [[b]]\n  a: [[c]]\n', "key 'a' appears twice"),
    ('classes: [a, b]\nranking:\n  a: [[b], [a]]\n', "'a' ranks itself in tier 2"),
    ('ranking:\n  a: [[b]]\n', "'classes' is required"),
    ('classes: [a, a]\nranking: {}\n', "class 'a' is listed twice"),
    ('classes: [a, b]\nranking: {}\nhierarchy: [a, b]\n', 'exactly one of'),
    ('classes: [a, b]\nranks: {}\n', r"unknown top-level keys \['ranks'\]"),
    ('classes: [a, b, c]\nhierarchy:\n  g: [a, b]\n  h: [b, c]\n', "class 'b' appears twice in the hierarchy"),
    ('classes: [a, b]\nranking:\n  a: [[]]\n', "tier 1 of 'a' must be a non-empty list"),
    ('classes: [a, b]\nranking:\n  a: [b\n', 'cannot parse'),
    ('[a, b]\n', 'the top level must be a mapping'),
])
def test_invalid_rankings_fail_with_clear_errors(tmp_path, text, match):
    path = _write(tmp_path, text)
    with pytest.raises(ClassRankingError, match=match) as info:
        load_class_ranking(path)
    assert path in str(info.value)  # the file is named


def test_duplicate_json_keys_and_bad_paths(tmp_path):
    path = _write(tmp_path, '{"classes": ["a", "b"], "ranking": {"a": [["b"]], "a": [["b"]]}}', 'r.json')
    with pytest.raises(ClassRankingError, match="key 'a' appears twice"):
        load_class_ranking(path)
    with pytest.raises(ClassRankingError, match='use a .yaml, .yml or .json'):
        load_class_ranking(_write(tmp_path, 'x', 'r.txt'))
    with pytest.raises(FileNotFoundError):
        load_class_ranking(str(tmp_path / 'missing.yaml'))
    with pytest.raises(TypeError):
        load_class_ranking(3)
    with pytest.raises(ClassRankingError, match='at least 2 class names'):
        ClassRanking(['only'], {})
