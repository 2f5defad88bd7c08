"""tools/analysis_tools/ood_eval.py and tools/dataset_converters/withhold_classes.py."""
import importlib.util
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config

from mmcontrast.datasets.cifar import CIFAR10
from mmcontrast.datasets.toy_cls import make_toy_cls

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def _load_tool(path):
    spec = importlib.util.spec_from_file_location(osp.splitext(osp.basename(path))[0], osp.join(ROOT, path))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


ood_eval = _load_tool('tools/analysis_tools/ood_eval.py')
withhold = _load_tool('tools/dataset_converters/withhold_classes.py')


def _pairwise_auroc(pos, neg):
    pos, neg = np.asarray(pos)[:, None], np.asarray(neg)[None]
    return float(((pos > neg) + 0.5 * (pos == neg)).mean())


def test_auroc_matches_the_pairwise_definition():
    rng = np.random.default_rng(0)
    pos = rng.integers(0, 5, 37).astype(float)  # many ties
    neg = rng.integers(-1, 4, 23).astype(float)
    assert ood_eval.auroc(pos, neg) == pytest.approx(_pairwise_auroc(pos, neg))
    assert ood_eval.auroc([2, 3], [0, 1]) == 1.0
    assert ood_eval.auroc([0, 1], [2, 3]) == 0.0
    assert ood_eval.auroc([1, 1], [1]) == 0.5
    with pytest.raises(ValueError, match='needs ID and OOD'):
        ood_eval.auroc([], [1.0])
    with pytest.raises(ValueError, match='non-finite'):
        ood_eval.auroc([np.nan], [1.0])


def test_fpr_at_95_tpr():
    id_scores = np.arange(100, dtype=float)  # the 5 lowest ID scores fall below the threshold
    assert ood_eval.fpr_at_tpr(id_scores, np.array([3.0, 6.0, 200.0, -1.0])) == 0.5
    assert ood_eval.fpr_at_tpr(id_scores, np.array([-5.0])) == 0.0


def test_feature_scores():
    bank = torch.tensor([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]])
    labels = torch.tensor([0, 0, 1, 1])
    query = torch.tensor([[1.0, 0.0], [1.0, 1.0], [-1.0, -1.0]])
    knn = ood_eval.knn_scores(bank, query, k=1)
    assert knn[0] == pytest.approx(1.0) and knn[2] < 0
    # the 2nd neighbour of [1, 0] is [0.9, 0.1]
    assert ood_eval.knn_scores(bank, query, k=2)[0] == pytest.approx(0.9 / np.hypot(0.9, 0.1), rel=1e-5)
    means = ood_eval.class_mean_scores(bank, labels, query)
    assert means[0] > means[1] > means[2]
    with pytest.raises(ValueError, match='k must be in'):
        ood_eval.knn_scores(bank, query, k=5)


def test_withhold_classes_writes_loadable_id_and_ood_sets(tmp_path):
    src = tmp_path / 'toy'
    make_toy_cls(str(src), num_train_per_class=5, num_test_per_class=3)
    names = withhold.withhold_classes(str(src), str(tmp_path / 'split'), ['cross', 'diamond'])
    assert names == ['disk', 'square', 'triangle', 'plus', 'ring', 'hbars', 'vbars', 'checker']
    id_train = CIFAR10(data_root=str(tmp_path / 'split/id'), split='train', pipeline=[])
    id_test = CIFAR10(data_root=str(tmp_path / 'split/id'), split='test', pipeline=[])
    ood_test = CIFAR10(data_root=str(tmp_path / 'split/ood'), split='test', pipeline=[])
    assert (len(id_train), len(id_test), len(ood_test)) == (40, 24, 6)
    assert id_train.metainfo['classes'] == tuple(names)
    assert ood_test.metainfo['classes'] == ('cross', 'diamond')
    assert sorted(set(id_test.get_gt_labels().tolist())) == list(range(8))
    with pytest.raises(ValueError, match="unknown \\['kross'\\]"):
        withhold.withhold_classes(str(src), str(tmp_path / 'bad'), ['kross'])


def test_evaluate_end_to_end(tmp_path):
    from mmengine.registry import init_default_scope
    from mmengine.runner import save_checkpoint

    from mmcontrast.registry import MODELS
    src = tmp_path / 'toy'
    make_toy_cls(str(src), num_train_per_class=4, num_test_per_class=2)
    withhold.withhold_classes(str(src), str(tmp_path / 'split'), ['cross', 'diamond'])
    cfg = Config.fromfile(osp.join(ROOT, 'configs/ranked_supcon/ce_resnet18-w16_1xb128-12e_toycls-id8.py'))
    cfg.model.backbone.base_channels = 4
    cfg.model.head.in_channels = 32
    cfg.train_dataloader.dataset.data_root = str(tmp_path / 'split/id')
    cfg.test_dataloader.dataset.data_root = str(tmp_path / 'split/id')
    init_default_scope('mmcontrast')
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    ckpt = str(tmp_path / 'model.pth')
    save_checkpoint(model.state_dict(), ckpt)
    results = ood_eval.evaluate(cfg, ckpt, str(tmp_path / 'split/ood'), k=3)
    assert (results['num_id'], results['num_ood'], results['num_bank']) == (16, 4, 32)
    for name in ('msp', 'knn', 'class_mean'):
        assert 0.0 <= results[f'auroc_{name}'] <= 1.0
        assert 0.0 <= results[f'fpr95_{name}'] <= 1.0
    assert 0.0 <= results['id_accuracy'] <= 100.0
