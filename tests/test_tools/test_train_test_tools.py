"""End-to-end runs of tools/train.py, tools/dist_train.sh and tools/test.py on tiny toy data."""
import glob
import os
import os.path as osp
import socket
import subprocess
import sys

import pytest

from mmcontrast.datasets.toy_uda import generate_toy_uda

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(ROOT, 'configs/toy_uda/deeplabv3_r18-narrow_2k_toy-source.py')


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _options(data_root, max_iters):
    return [
        f'train_dataloader.dataset.data_root={data_root}', f'val_dataloader.dataset.data_root={data_root}',
        f'test_dataloader.dataset.data_root={data_root}', 'train_dataloader.batch_size=2',
        'train_dataloader.num_workers=0', 'train_dataloader.persistent_workers=False',
        'val_dataloader.num_workers=0', 'val_dataloader.persistent_workers=False',
        'test_dataloader.num_workers=0', 'test_dataloader.persistent_workers=False',
        f'train_cfg.max_iters={max_iters}', f'train_cfg.val_interval={max_iters}',
        'default_hooks.checkpoint.interval=2', 'default_hooks.logger.interval=1'
    ]


def _run(cmd, **env):
    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHONUNBUFFERED='1', **env)
    result = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, (result.stdout[-4000:], result.stderr[-4000:])
    return result.stdout + result.stderr


@pytest.fixture(scope='module')
def toy_root(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('toy') / 'toy_uda')
    generate_toy_uda(root, num_train=8, num_val=4)
    return root


@pytest.mark.dist
def test_dist_train_two_cpu_processes(toy_root, tmp_path):
    work_dir = str(tmp_path / 'dist')
    # dist_train.sh calls `python`: put this interpreter first on PATH.
    log = _run(['bash', 'tools/dist_train.sh', CONFIG, '2', '--work-dir', work_dir, '--cfg-options',
                *_options(toy_root, 4)],
               PORT=str(_free_port()),
               PATH=f'{osp.dirname(sys.executable)}:{os.environ["PATH"]}')
    assert 'Distributed training: True' in log and 'GPU number: 2' in log
    assert 'mIoU' in log
    assert osp.exists(osp.join(work_dir, 'iter_4.pth'))


def test_train_resume_and_test(toy_root, tmp_path):
    work_dir = str(tmp_path / 'single')
    _run([sys.executable, 'tools/train.py', CONFIG, '--work-dir', work_dir, '--cfg-options',
          *_options(toy_root, 2)])
    assert osp.exists(osp.join(work_dir, 'iter_2.pth'))

    # --resume with no path picks the latest checkpoint of the work dir and goes on from iter 2.
    log = _run([sys.executable, 'tools/train.py', CONFIG, '--work-dir', work_dir, '--resume',
                '--cfg-options', *_options(toy_root, 4)])
    assert 'resumed epoch: 0, iter: 2' in log
    assert osp.exists(osp.join(work_dir, 'iter_4.pth'))

    out_dir, show_dir = str(tmp_path / 'pred'), str(tmp_path / 'show')
    log = _run([sys.executable, 'tools/test.py', CONFIG, osp.join(work_dir, 'iter_4.pth'), '--work-dir',
                str(tmp_path / 'test'), '--out', out_dir, '--show-dir', show_dir, '--cfg-options',
                *_options(toy_root, 4)])
    assert 'mIoU' in log
    assert len(glob.glob(osp.join(out_dir, '*.png'))) == 4
    assert len(glob.glob(osp.join(show_dir, '**', '*.png'), recursive=True)) == 4
