"""End-to-end runs of tools/train.py, tools/dist_train.sh and tools/test.py on tiny toy data.

Every run's working directory is the test's tmp_path: nothing is written into the
repository (mmengine's distributed evaluation, for one, creates ``.dist_test/`` in the
working directory).
"""
import glob
import json
import os
import os.path as osp
import socket
import subprocess
import sys

import pytest
import torch

import mmcontrast  # noqa: F401  (allowlist for weights_only loads)
from mmcontrast.datasets.toy_uda import generate_toy_uda

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(ROOT, 'configs/toy_uda/deeplabv3_r18-narrow_2k_toy-source.py')

# The toy config made batch-size independent, so that 2 ranks x 2 images train exactly as
# 1 process x 4 images: group norm instead of batch norm, no dropout, no random augmentation;
# random init (the toy world backbone has BN layers).
BATCH_INDEPENDENT = """
_base_ = [{config!r}]
norm_cfg = dict(type='GN', num_groups=8, requires_grad=True)
model = dict(
    data_preprocessor=dict(size=(64, 128)),
    backbone=dict(norm_cfg=norm_cfg, init_cfg=None),
    decode_head=dict(norm_cfg=norm_cfg, dropout_ratio=0.0),
    auxiliary_head=dict(norm_cfg=norm_cfg, dropout_ratio=0.0))
train_dataloader = dict(dataset=dict(pipeline=[
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='Resize', scale=(128, 64), keep_ratio=False),
    dict(type='PackSegInputs'),
]))
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _options(data_root, max_iters, batch_size=2):
    return [
        f'train_dataloader.dataset.data_root={data_root}', f'val_dataloader.dataset.data_root={data_root}',
        f'test_dataloader.dataset.data_root={data_root}', f'train_dataloader.batch_size={batch_size}',
        'train_dataloader.num_workers=0', 'train_dataloader.persistent_workers=False', 'val_dataloader.num_workers=0',
        'val_dataloader.persistent_workers=False', 'test_dataloader.num_workers=0',
        'test_dataloader.persistent_workers=False', f'train_cfg.max_iters={max_iters}',
        f'train_cfg.val_interval={max_iters}', 'default_hooks.checkpoint.interval=2', 'default_hooks.logger.interval=1'
    ]


def _run(cmd, cwd, **env):
    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHONUNBUFFERED='1', **env)
    result = subprocess.run(cmd, cwd=str(cwd), env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, (result.stdout[-4000:], result.stderr[-4000:])
    return result.stdout + result.stderr


def _scalars(work_dir, key):
    """``{step: value}`` of ``key`` in the scalars a training run logged (vis_data/scalars.json)."""
    values = {}
    for path in glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json')):
        with open(path) as f:
            for line in f:
                record = json.loads(line)
                if key in record:
                    values[record['step']] = record[key]
    return values


def _test_metrics(work_dir):
    """The metrics tools/test.py dumped (``<timestamp>/<timestamp>.json``)."""
    paths = [p for p in glob.glob(osp.join(work_dir, '*', '*.json')) if osp.basename(osp.dirname(p)) in p]
    assert len(paths) == 1, paths
    with open(paths[0]) as f:
        return json.load(f)


def _weights(path):
    return torch.load(path, map_location='cpu', weights_only=True)['state_dict']


@pytest.fixture(scope='module')
def toy_root(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('toy') / 'toy_uda')
    generate_toy_uda(root, num_train=8, num_val=4)
    return root


@pytest.mark.dist
def test_dist_train_two_cpu_processes(toy_root, tmp_path):
    config = tmp_path / 'batch_independent.py'
    config.write_text(BATCH_INDEPENDENT.format(config=CONFIG))
    dist_dir, single_dir = str(tmp_path / 'dist'), str(tmp_path / 'single')
    # dist_train.sh calls `python`: put this interpreter first on PATH.
    log = _run([
        'bash',
        osp.join(ROOT, 'tools/dist_train.sh'),
        str(config), '2', '--work-dir', dist_dir, '--cfg-options', *_options(toy_root, 4, batch_size=2)
    ],
               cwd=tmp_path,
               PORT=str(_free_port()),
               PATH=f'{osp.dirname(sys.executable)}:{os.environ["PATH"]}')
    assert 'Distributed training: True' in log
    _run([
        sys.executable,
        osp.join(ROOT, 'tools/train.py'),
        str(config), '--work-dir', single_dir, '--cfg-options', *_options(toy_root, 4, batch_size=4)
    ],
         cwd=tmp_path)

    # 2 ranks x 2 images trained as 1 process x 4 images: DDP averaged the gradients of both
    # ranks, each rank saw its half of the batch
    dist_ckpt = torch.load(osp.join(dist_dir, 'iter_4.pth'), map_location='cpu', weights_only=True)
    # both ranks' generator states were gathered into rank 0's checkpoint
    ranks = dist_ckpt['rng_state']['ranks']
    assert dist_ckpt['rng_state']['world_size'] == 2 and len(ranks) == 2 and all(r is not None for r in ranks)
    dist_weights, single_weights = dist_ckpt['state_dict'], _weights(osp.join(single_dir, 'iter_4.pth'))
    assert dist_weights.keys() == single_weights.keys()
    for key, value in single_weights.items():
        torch.testing.assert_close(dist_weights[key], value, rtol=1e-4, atol=1e-5, msg=key)
    # the gathered validation (2 ranks, 2 images each) scores what one process scores
    dist_miou, single_miou = _scalars(dist_dir, 'mIoU'), _scalars(single_dir, 'mIoU')
    assert list(dist_miou) == list(single_miou) == [4]
    assert dist_miou[4] == pytest.approx(single_miou[4], abs=0.1)
    # (and training moved the weights: the comparison is not between two untrained models)
    earlier = _weights(osp.join(dist_dir, 'iter_2.pth'))
    assert not torch.allclose(earlier['decode_head.conv_seg.weight'], dist_weights['decode_head.conv_seg.weight'])
    # mmengine's distributed evaluation made its scratch folder in the working directory: here, not
    # in the repository
    assert (tmp_path / '.dist_test').is_dir()


def test_train_resume_and_test(toy_root, tmp_path):
    straight, split = str(tmp_path / 'straight'), str(tmp_path / 'split')
    _run([
        sys.executable,
        osp.join(ROOT, 'tools/train.py'), CONFIG, '--work-dir', straight, '--cfg-options', *_options(toy_root, 4)
    ],
         cwd=tmp_path)
    _run([
        sys.executable,
        osp.join(ROOT, 'tools/train.py'), CONFIG, '--work-dir', split, '--cfg-options', *_options(toy_root, 2)
    ],
         cwd=tmp_path)
    assert osp.exists(osp.join(split, 'iter_2.pth'))

    # --resume with no path picks the latest checkpoint of the work dir and goes on from iter 2,
    # ending bit for bit where the uninterrupted run ends (random augmentation, dropout, BN)
    log = _run([
        sys.executable,
        osp.join(ROOT, 'tools/train.py'), CONFIG, '--work-dir', split, '--resume', '--cfg-options',
        *_options(toy_root, 4)
    ],
               cwd=tmp_path)
    assert 'resumed epoch: 0, iter: 2' in log
    resumed, uninterrupted = _weights(osp.join(split, 'iter_4.pth')), _weights(osp.join(straight, 'iter_4.pth'))
    assert resumed.keys() == uninterrupted.keys()
    for key, value in uninterrupted.items():
        assert torch.equal(resumed[key], value), key
    assert not torch.equal(resumed['decode_head.conv_seg.weight'],
                           _weights(osp.join(split, 'iter_2.pth'))['decode_head.conv_seg.weight'])

    out_dir, show_dir, test_dir = str(tmp_path / 'pred'), str(tmp_path / 'show'), str(tmp_path / 'test')
    _run([
        sys.executable,
        osp.join(ROOT, 'tools/test.py'), CONFIG,
        osp.join(split, 'iter_4.pth'), '--work-dir', test_dir, '--out', out_dir, '--show-dir', show_dir,
        '--cfg-options', *_options(toy_root, 4)
    ],
         cwd=tmp_path)
    # the test of the checkpoint scores what the training run's validation scored at iter 4
    assert _test_metrics(test_dir)['mIoU'] == _scalars(straight, 'mIoU')[4]
    assert len(glob.glob(osp.join(out_dir, '*.png'))) == 4
    assert len(glob.glob(osp.join(show_dir, '**', '*.png'), recursive=True)) == 4
