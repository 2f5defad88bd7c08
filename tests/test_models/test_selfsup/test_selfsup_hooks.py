"""kNN monitor, k-means and prototype clustering hook, accuracy metric; runner and DDP smoke runs."""
import os
import os.path as osp
import shutil
import subprocess
import sys

import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner

import mmcontrast.engine  # noqa: F401
import mmcontrast.evaluation  # noqa: F401
from mmcontrast.datasets import make_toy_cls
from mmcontrast.engine.hooks import KNNMonitorHook, PrototypeClusteringHook, kmeans
from mmcontrast.evaluation.metrics import Accuracy, knn_classify

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
TOY_CFG = osp.join(ROOT, 'configs/selfsup/protonce/protonce_resnet18-w16_1xb64-coslr-6e_toycls.py')
MOCO_CFG = osp.join(ROOT, 'configs/selfsup/mocov2/mocov2_resnet18-w16_1xb64-coslr-6e_toycls.py')


def test_knn_classify_votes():
    bank = torch.tensor([[1., 0.], [0.9, 0.1], [0., 1.], [0.1, 0.9]])
    labels = torch.tensor([0, 0, 1, 1])
    query = torch.tensor([[1., 0.05], [0.05, 1.], [0.6, 0.4]])
    scores = knn_classify(bank, labels, query, num_classes=3, k=2, temperature=0.1)
    assert scores.argmax(1).tolist() == [0, 1, 0] and (scores[:, 2] == 0).all()
    # k larger than the bank uses the whole bank; weights are exp(cos / t)
    full = knn_classify(bank, labels, query[:1], num_classes=2, k=10, temperature=1.0)
    cos = torch.nn.functional.normalize(bank, dim=1) @ torch.nn.functional.normalize(query[:1], dim=1).t()
    torch.testing.assert_close(full[0], torch.stack([cos[:2].exp().sum(), cos[2:].exp().sum()]))
    with pytest.raises(ValueError, match='labels must lie'):
        knn_classify(bank, torch.tensor([0, 0, 1, 5]), query, num_classes=3)


def test_kmeans_recovers_clusters_and_reseeds():
    torch.manual_seed(0)
    centres = torch.tensor([[5., 0.], [-5., 0.], [0., 5.]])
    x = torch.cat([c + 0.1 * torch.randn(30, 2) for c in centres])
    found, assign = kmeans(x, 3, num_iters=10, seed=1)
    assert len(set(assign.tolist())) == 3
    for c in range(3):  # every true cluster maps to one found cluster
        assert len(set(assign[30 * c:30 * (c + 1)].tolist())) == 1
    again, assign2 = kmeans(x, 3, num_iters=10, seed=1)
    assert torch.equal(assign, assign2) and torch.equal(found, again)
    dup = torch.zeros(10, 2)  # identical points: empty clusters get re-seeded, no NaN
    cents, a = kmeans(dup, 4, num_iters=3)
    assert torch.isfinite(cents).all() and a.shape == (10, )
    with pytest.raises(ValueError, match='num_clusters'):
        kmeans(x, 100)


def test_accuracy_metric():
    metric = Accuracy(topk=(1, 2))
    samples = [dict(pred_score=torch.tensor([0.1, 0.7, 0.2]), gt_label=torch.tensor(1)),
               dict(pred_score=torch.tensor([0.5, 0.1, 0.4]), gt_label=torch.tensor(2)),
               dict(pred_score=torch.tensor([0.2, 0.3, 0.5]), gt_label=torch.tensor(0))]
    metric.process(None, samples)
    assert metric.compute_metrics(metric.results) == {'top1': pytest.approx(100 / 3), 'top2': pytest.approx(200 / 3)}


def _tiny_overrides(cfg, data_root, work_dir):
    """Shrink a toy config to seconds: 4-wide backbone, 40 images, batch 8."""
    cfg.work_dir = work_dir
    cfg.model.backbone.base_channels = 4
    cfg.model.neck.in_channels = 32
    cfg.model.queue_len = 16
    cfg.train_dataloader.batch_size = 8
    for loader in (cfg.train_dataloader, cfg.knn_bank_dataloader, cfg.knn_query_dataloader):
        loader.dataset.data_root = data_root
    for hook in cfg.custom_hooks:
        for key in ('bank_dataloader', 'query_dataloader', 'dataloader'):
            if key in hook:
                hook[key].dataset.data_root = data_root
                hook[key].batch_size = 16
        if hook['type'] == 'KNNMonitorHook':
            hook['k'] = 5
    cfg.default_hooks.logger.interval = 1
    cfg.log_level = 'WARNING'
    return cfg


@pytest.fixture(scope='module')
def tiny_toy(tmp_path_factory):
    root = tmp_path_factory.mktemp('toy')
    make_toy_cls(str(root), num_train_per_class=4, num_test_per_class=2, seed=0)
    return str(root)


@pytest.mark.slow
def test_protonce_runner_with_clustering_and_knn(tiny_toy, tmp_path):
    cfg = _tiny_overrides(Config.fromfile(TOY_CFG), tiny_toy, str(tmp_path))
    cfg.model.head.num_neg_prototypes = 4
    cfg.custom_hooks[1].num_clusters = (3, 5)
    cfg.custom_hooks[1].warmup_epochs = 1  # the toy config warms up for 2 of its 6 epochs
    cfg.train_cfg.max_epochs = 2
    cfg.param_scheduler[0].update(T_max=2, end=2)
    cfg.default_hooks.checkpoint.interval = 2
    runner = Runner.from_cfg(cfg)
    runner.train()
    knn_hook = next(h for h in runner.hooks if isinstance(h, KNNMonitorHook))
    assert [e for e, _ in knn_hook.history] == [0, 1, 2]  # random init, then after each epoch
    assert all(0 <= acc <= 100 for _, acc in knn_hook.history)
    model = runner.model
    assert model.has_clusters  # epoch 2 (after the warm-up epoch) was trained with prototypes
    assert [p.shape for p in model.prototypes] == [(3, 128), (5, 128)]
    assert model.assignments[0].shape == (40, ) and int(model.assignments[1].max()) < 5
    torch.testing.assert_close(model.concentrations[0].mean(), torch.tensor(0.2))
    assert osp.isfile(osp.join(str(tmp_path), 'epoch_2.pth'))
    with pytest.raises(TypeError, match='set_clusters'):
        PrototypeClusteringHook(dataloader=None).before_train_epoch(
            type('R', (), dict(model=torch.nn.Linear(1, 1)))())


@pytest.mark.slow
@pytest.mark.dist
def test_mocov2_ddp_smoke(tiny_toy, tmp_path):
    """Two gloo processes through tools/train.py: batch shuffle across ranks, gathered queue and kNN.

    Both ranks must end with the same encoders and the same queue (keys gathered from both), and
    the kNN accuracy the 2 ranks computed together must be the one a single process computes
    from the checkpoint."""
    import glob
    import json
    import socket
    sys.path.insert(0, osp.join(ROOT, 'tests', 'test_engine'))
    try:
        import rank_state_dump
    finally:
        sys.path.pop(0)
    cfg = _tiny_overrides(Config.fromfile(MOCO_CFG), tiny_toy, str(tmp_path / 'work'))
    cfg.train_dataloader.batch_size = 4
    cfg.train_cfg.max_epochs = 1
    cfg.param_scheduler[0].update(T_max=1, end=1)
    cfg.default_hooks.checkpoint.interval = 1
    cfg.randomness = dict(seed=1)
    single = cfg.copy()
    rank_state_dump.use_in(cfg)
    cfg_path = str(tmp_path / 'ddp_cfg.py')
    cfg.dump(cfg_path)
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        port = str(sock.getsockname()[1])
    torchrun = shutil.which('torchrun', path=osp.dirname(sys.executable)) or 'torchrun'
    env = dict(os.environ, OMP_NUM_THREADS='1',
               PYTHONPATH=os.pathsep.join([ROOT, osp.join(ROOT, 'tests', 'test_engine')]))
    proc = subprocess.run(
        [torchrun, '--nproc_per_node', '2', '--master_port', port, osp.join(ROOT, 'tools/train.py'), cfg_path,
         '--launcher', 'pytorch'],
        cwd=str(tmp_path), env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    ckpt_path = str(tmp_path / 'work' / 'epoch_1.pth')
    ckpt = torch.load(ckpt_path, map_location='cpu', weights_only=True)
    # 40 images, 2 ranks x 4, drop_last: 5 iterations x 8 gathered keys into a 16-slot queue
    assert int(ckpt['state_dict']['queue_ptr']) == (5 * 8) % 16

    # both ranks: same parameters (DDP), same queue (the keys of both ranks, gathered)
    ranks = rank_state_dump.load_ranks(str(tmp_path / 'work'))
    for name in ranks[0]['params'] + ['queue', 'queue_ptr']:
        assert torch.equal(ranks[0]['state'][name], ranks[1]['state'][name]), name
    assert not torch.equal(ranks[0]['state']['queue'][:8], ranks[0]['state']['queue'][8:])

    # the kNN accuracy of the 2-rank run (features gathered from both) = one process's
    logged = []
    for path in glob.glob(str(tmp_path / 'work' / '*' / 'vis_data' / 'scalars.json')):
        with open(path) as f:
            logged += [json.loads(line)['knn/top1'] for line in f if 'knn/top1' in line]
    assert len(logged) == 2  # random init, after epoch 1
    single.work_dir = str(tmp_path / 'single')
    runner = Runner.from_cfg(single)
    runner.load_checkpoint(ckpt_path)
    knn = next(h for h in runner.hooks if isinstance(h, KNNMonitorHook))
    assert knn.evaluate(runner, epoch=1) == pytest.approx(logged[-1], abs=1e-9)
