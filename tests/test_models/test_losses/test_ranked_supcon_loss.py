import json
import math

import pytest
import torch

from mmcontrast.models.losses import RankedSupConLoss, parse_class_ranking

CLASSES = ['road', 'sidewalk', 'car', 'truck', 'person']
RANKING = {0: [[0], [1]], 2: [[2], [3], [1, 0]], 3: [[3], [2]]}
NAMED = {'road': [['road'], ['sidewalk']], 'car': ['car', 'truck', ['sidewalk', 'road']], 'truck': [['truck'], ['car']]}


def _ref(features, labels, ranking, taus, bank=None, bank_labels=None):
    """Loops: RINCE over ranks with the batch (minus self) and the bank as candidates."""
    feats = [f / f.norm() for f in features]
    labs = [int(x) for x in labels]
    cands = [(j, feats[j], labs[j]) for j in range(len(feats))]
    if bank is not None:
        cands += [(-1, b / b.norm(), int(y)) for b, y in zip(bank, bank_labels)]
    losses = []
    for a, (fa, ya) in enumerate(zip(feats, labs)):
        groups = ranking.get(ya, [[ya]])

        def rank_of(c):
            for r, g in enumerate(groups):
                if c in g:
                    return r
            return None

        total, found = 0.0, False
        for r in range(len(groups)):
            pos = [float(fa @ f) for j, f, y in cands if j != a and rank_of(y) == r]
            if not pos:
                continue
            found = True
            den = [float(fa @ f) for j, f, y in cands if j != a and (rank_of(y) is None or rank_of(y) >= r)]
            num = sum(math.exp(s / taus[r]) for s in pos)
            total += -math.log(num / sum(math.exp(s / taus[r]) for s in den))
        if found:
            losses.append(total)
    return sum(losses) / len(losses)


def _batch(n=10, d=6, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g, dtype=dtype), torch.randint(0, 5, (n, ), generator=g)


def test_ranked_supcon_matches_reference():
    feats, labels = _batch()
    module = RankedSupConLoss(RANKING)
    assert module.taus == pytest.approx([0.1, 0.35, 0.6])
    expected = _ref(feats, labels, RANKING, module.taus)
    assert module(feats, labels).item() == pytest.approx(expected, rel=1e-9)
    bank, bank_labels = _batch(n=7, seed=1)
    expected = _ref(feats, labels, RANKING, module.taus, bank, bank_labels)
    assert module(feats, labels, bank, bank_labels).item() == pytest.approx(expected, rel=1e-9)
    weighted = RankedSupConLoss(RANKING, taus=[0.05, 0.2, 0.2], loss_weight=2.0)
    expected = _ref(feats, labels, RANKING, [0.05, 0.2, 0.2])
    assert weighted(feats, labels).item() == pytest.approx(2 * expected, rel=1e-9)


def test_ranked_supcon_names_and_files(tmp_path):
    feats, labels = _batch()
    by_index = RankedSupConLoss(RANKING)(feats, labels)
    torch.testing.assert_close(RankedSupConLoss(NAMED, classes=CLASSES)(feats, labels), by_index)
    json_file = tmp_path / 'ranking.json'
    json_file.write_text(json.dumps({'classes': CLASSES, 'ranking': NAMED}))
    torch.testing.assert_close(RankedSupConLoss(str(json_file))(feats, labels), by_index)
    index_json = tmp_path / 'index.json'  # JSON keys are strings: "0" means class 0
    index_json.write_text(json.dumps(RANKING))
    torch.testing.assert_close(RankedSupConLoss(index_json)(feats, labels), by_index)
    yaml_file = tmp_path / 'ranking.yaml'
    yaml_file.write_text('0: [[0], [1]]\n2: [[2], [3], [1, 0]]\n3: [[3], [2]]\n')
    torch.testing.assert_close(RankedSupConLoss(str(yaml_file))(feats, labels), by_index)
    torch.testing.assert_close(RankedSupConLoss(dict(classes=CLASSES, ranking=NAMED))(feats, labels), by_index)


def test_ranked_supcon_reads_class_ranking_objects_and_hierarchies():
    from mmcontrast.utils.class_ranking import load_class_ranking
    feats, labels = _batch()
    tiers = {'road': [['sidewalk']], 'car': [['truck'], ['sidewalk', 'road']], 'truck': [['car']]}
    ranking = load_class_ranking(dict(classes=CLASSES, ranking=tiers))
    torch.testing.assert_close(RankedSupConLoss(ranking)(feats, labels), RankedSupConLoss(RANKING)(feats, labels))
    # car/truck siblings (rank 1), road/sidewalk siblings; person alone
    hierarchy = dict(vehicle=['car', 'truck'], ground=['road', 'sidewalk'], other=['person'])
    tree = dict(classes=CLASSES, hierarchy=hierarchy)
    expected = {0: [[0], [1]], 1: [[1], [0]], 2: [[2], [3]], 3: [[3], [2]], 4: [[4]]}
    torch.testing.assert_close(RankedSupConLoss(tree)(feats, labels), RankedSupConLoss(expected)(feats, labels))


@pytest.mark.parametrize('ranking, classes, match', [
    ({'bus': [['bus']]}, CLASSES, 'unknown class'),
    ({'car': [['car'], ['bus']]}, CLASSES, 'unknown class'),
    ({7: [[7]]}, CLASSES, 'unknown class index 7'),
    ({'car': [['car']]}, None, 'needs a `classes` list'),
    ({2: [[2], [3], [3]]}, None, 'ranked twice'),
    ({2: [[2], [3, 1, 3]]}, None, 'ranked twice'),
    ({2: [[2], [2]]}, None, 'ranked twice'),
    ({2: [[3], [2]]}, None, 'rank 0 must be the class itself'),
    ({2: [[2, 3]]}, None, 'rank 0 must be the class itself'),
    ({2: []}, None, 'non-empty list'),
    ({2: [[2], []]}, None, 'rank 1 is empty'),
    ([[0]], None, 'must be a dict'),
])
def test_ranking_validation(ranking, classes, match):
    with pytest.raises(ValueError, match=match):
        parse_class_ranking(ranking, classes)


def test_ranked_supcon_per_anchor_weight():
    feats, labels = _batch()
    module = RankedSupConLoss(RANKING)
    weight = torch.rand(10, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    shares = [module(feats, labels, weight=torch.eye(10, dtype=torch.float64)[i]) for i in range(10)]
    torch.testing.assert_close(sum(shares), module(feats, labels))
    torch.testing.assert_close(module(feats, labels, weight=weight), sum(w * x for w, x in zip(weight, shares)))
    with pytest.raises(ValueError, match=r'weight \(3,\)'):
        module(feats, labels, weight=weight[:3])


def test_taus_validation():
    with pytest.raises(ValueError, match='3 ranks'):
        RankedSupConLoss(RANKING, taus=[0.1, 0.2])
    with pytest.raises(ValueError, match='non-decreasing'):
        RankedSupConLoss(RANKING, taus=[0.3, 0.2, 0.5])
    assert RankedSupConLoss({1: [[1]]}).taus == [0.1]


def test_ranked_supcon_gradcheck_and_permutation():
    feats, labels = _batch(n=5, d=3)
    labels = torch.tensor([0, 1, 2, 3, 2])
    feats.requires_grad_()
    module = RankedSupConLoss(RANKING)
    assert torch.autograd.gradcheck(lambda x: module(x, labels), (feats, ))
    perm = torch.tensor([4, 0, 3, 1, 2])
    torch.testing.assert_close(module(feats[perm], labels[perm]), module(feats, labels))


def test_ranked_supcon_edges_and_errors():
    feats, labels = _batch()
    feats.requires_grad_()
    module = RankedSupConLoss(RANKING)
    # no sample shares a class or a ranked class with another: no positive anywhere
    lonely = module(feats[:3], torch.tensor([4, 3, 0]))
    assert lonely.item() == 0.0 and lonely.requires_grad and lonely.grad_fn is not None
    lonely.backward()
    assert torch.isfinite(feats.grad).all()
    # a label the ranking never mentions (and beyond its classes) ranks only itself
    out = module(feats[:4], torch.tensor([9, 9, 0, 1]))
    assert out.item() == pytest.approx(_ref(feats[:4], [9, 9, 0, 1], RANKING, module.taus), rel=1e-9)
    with pytest.raises(ValueError, match='together'):
        module(feats, labels, bank_features=feats)
    with pytest.raises(ValueError, match=r'labels \(3,\)'):
        module(feats, labels[:3])
    with pytest.raises(ValueError, match='non-negative'):
        module(feats[:2], torch.tensor([0, -1]))


def test_ranked_supcon_autocast():
    feats, labels = _batch(dtype=torch.float32)
    module = RankedSupConLoss(RANKING)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        out = module(feats.bfloat16(), labels)
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, module(feats.bfloat16().float(), labels))
