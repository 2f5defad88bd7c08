"""Two-process CPU (gloo) training of the toy PCL config with torchrun, then a resume."""
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import mmcontrast  # noqa: F401  (allowlists mmengine checkpoint contents for weights_only loads)

ROOT = Path(__file__).parents[3]
CONFIG = ROOT / 'configs/uda_seg/dacs-pcl_deeplabv3-r18-narrow_2k_toy-src2tgt.py'
SMALL = """
_base_ = [{base!r}]
crop = (64, 64)
model = dict(segmentor=dict(data_preprocessor=dict(size=crop)),
             contrast=dict(losses=dict(pixel_pcl=dict(max_pixels=64))))
train_dataloader = dict(batch_size=2, num_workers=0, persistent_workers=False)  # ASPP pooling BN needs 2
train_cfg = dict(max_iters={iters}, val_interval=1000)
val_cfg = None
val_dataloader = None
val_evaluator = None
test_cfg = None
test_dataloader = None
test_evaluator = None
default_hooks = dict(logger=dict(interval=1), checkpoint=dict(interval=2, save_best=None))
custom_hooks = []
"""


# Small crops: list items of the inherited pipelines are overridden from the command line.
CROP_OPTIONS = [
    '--cfg-options', 'train_dataloader.dataset.source.pipeline.3.crop_size=(64,64)',
    'train_dataloader.dataset.target.pipeline.2.crop_size=(64,64)'
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _write_cfg(tmp_path: Path, iters: int) -> Path:
    cfg = tmp_path / f'small_{iters}.py'
    cfg.write_text(SMALL.format(base=str(CONFIG), iters=iters))
    return cfg


def _run(cmd, tmp_path: Path, name: str) -> str:
    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHONPATH=str(ROOT))
    proc = subprocess.run(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=600)
    (tmp_path / f'{name}.log').write_text(proc.stdout)
    assert proc.returncode == 0, proc.stdout[-4000:]
    return proc.stdout


@pytest.mark.slow
@pytest.mark.dist
def test_two_process_gloo_training_then_resume(tmp_path):
    work_dir = tmp_path / 'work'
    out = _run([
        sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node', '2', '--master_port',
        str(_free_port()), 'tools/train.py', str(_write_cfg(tmp_path, 2)), '--launcher', 'pytorch', '--work-dir',
        str(work_dir)
    ] + CROP_OPTIONS, tmp_path, 'dist')
    assert 'tgt.loss_class_pcl' in out and 'tgt.loss_pixel_pcl' in out
    assert 'Distributed training: True' in out and "type='mmcontrast.UDADistributedDataParallel'" in out
    assert out.count('Saving checkpoint at 2 iterations') == 1  # rank 0 only
    ckpt = torch.load(work_dir / 'iter_2.pth', map_location='cpu', weights_only=True)
    state = ckpt['state_dict']
    assert int(state['teacher.steps']) == 2

    # Resume in a single process: the teacher and its EMA step counter come back.
    out = _run([sys.executable, 'tools/train.py', str(_write_cfg(tmp_path, 3)), '--work-dir', str(work_dir),
                '--resume', str(work_dir / 'iter_2.pth')] + CROP_OPTIONS, tmp_path, 'resume')
    assert 'resumed epoch: 0, iter: 2' in out
    resumed = torch.load(work_dir / 'iter_3.pth', map_location='cpu', weights_only=True)['state_dict']
    assert int(resumed['teacher.steps']) == 3
    # update 2 (alpha = 2/3) blended the loaded teacher with the student; a teacher lost on
    # resume would have restarted at update 0 and copied the student instead
    key = 'teacher.module.decode_head.conv_seg.weight'
    assert not torch.equal(resumed[key], resumed['student.decode_head.conv_seg.weight'])
