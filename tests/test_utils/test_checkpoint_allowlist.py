import os
import pickle
import subprocess
import sys

import pytest
import torch
import torch.nn as nn
from mmengine.model import BaseModel
from mmengine.runner import Runner, load_checkpoint
from torch.utils.data import Dataset

import mmcontrast  # noqa: F401  (installs the allowlist)


class _TinyModel(BaseModel):

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(4, 2)

    def forward(self, inputs, labels=None, mode='tensor'):
        out = self.linear(inputs)  # default_collate already stacked the batch
        if mode == 'loss':
            return dict(loss=nn.functional.cross_entropy(out, labels))
        return out


class _TinyDataset(Dataset):
    # dataset_meta ends up in the checkpoint's meta, as with mmdet/mmseg datasets.
    metainfo = dict(classes=('a', 'b'), palette=[(0, 0, 0), (255, 255, 255)])

    def __len__(self):
        return 16

    def __getitem__(self, i):
        g = torch.Generator().manual_seed(i)
        return dict(inputs=torch.randn(4, generator=g), labels=torch.tensor(i % 2))


def _runner(work_dir, max_iters, **kwargs):
    return Runner(
        model=_TinyModel(),
        work_dir=str(work_dir),
        train_dataloader=dict(
            dataset=_TinyDataset(),
            sampler=dict(type='InfiniteSampler', shuffle=True),
            collate_fn=dict(type='default_collate'),
            batch_size=4),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1, momentum=0.9)),
        param_scheduler=dict(type='MultiStepLR', milestones=[2], by_epoch=False),
        train_cfg=dict(by_epoch=False, max_iters=max_iters),
        default_hooks=dict(
            checkpoint=dict(type='CheckpointHook', interval=3, by_epoch=False),
            logger=dict(type='LoggerHook', interval=1)),
        randomness=dict(seed=0),
        experiment_name=f'allowlist_{max_iters}_{os.getpid()}_{id(kwargs)}',
        **kwargs)


@pytest.fixture(scope='module')
def checkpoint(tmp_path_factory):
    work_dir = tmp_path_factory.mktemp('train')
    runner = _runner(work_dir, max_iters=3)
    runner.train()
    path = work_dir / 'iter_3.pth'
    assert path.exists()
    return path, {k: v.clone() for k, v in runner.model.state_dict().items()}


def test_runner_checkpoint_needs_no_unsafe_globals(checkpoint):
    path, _ = checkpoint
    assert torch.serialization.get_unsafe_globals_in_checkpoint(str(path)) == []
    ckpt = torch.load(path, weights_only=True)
    assert ckpt['meta']['iter'] == 3
    assert 'message_hub' in ckpt


def test_allowlist_is_what_makes_it_load(checkpoint):
    # Without mmcontrast's allowlist the same file holds globals torch refuses.
    path, _ = checkpoint
    code = ('import torch, sys; '
            f'print(torch.serialization.get_unsafe_globals_in_checkpoint({str(path)!r}))')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, check=True)
    assert 'HistoryBuffer' in out.stdout


def test_resume_restores_iteration_and_weights(checkpoint, tmp_path):
    path, weights = checkpoint
    runner = _runner(tmp_path, max_iters=5, resume=True, load_from=str(path))
    restored = {}

    class _Probe:  # records the state right after resume, before the first new step
        priority = 'VERY_LOW'

        def before_train(self, runner):
            restored['iter'] = runner.iter
            restored['weights'] = {k: v.clone() for k, v in runner.model.state_dict().items()}
            restored['lr'] = runner.optim_wrapper.get_lr()['lr'][0]
            restored['momentum'] = runner.optim_wrapper.optimizer.state_dict()['state']

    from mmengine.hooks import Hook
    probe = type('Probe', (Hook, ), {'before_train': _Probe.before_train})()
    runner.register_hook(probe, priority='VERY_LOW')
    runner.train()
    assert restored['iter'] == 3
    for key, value in weights.items():
        torch.testing.assert_close(restored['weights'][key], value)
    assert restored['lr'] == pytest.approx(0.01)  # MultiStepLR already stepped past its milestone
    assert restored['momentum'], 'optimizer momentum buffers were not restored'
    assert runner.iter == 5


def test_checkpoint_with_pickled_callable_is_refused(tmp_path):
    path = tmp_path / 'evil.pth'
    torch.save({'state_dict': {'w': torch.zeros(1)}, 'meta': {'hook': os.system}}, path)
    with pytest.raises(pickle.UnpicklingError, match='system'):
        torch.load(path)
    with pytest.raises(pickle.UnpicklingError):
        load_checkpoint(nn.Linear(1, 1), str(path))


class _GetattrGadget:
    """Pickles as ``getattr(HistoryBuffer, name)``, like HistoryBuffer's own methods."""

    def __init__(self, name):
        self.name = name

    def __reduce__(self):
        from mmengine.logging import HistoryBuffer
        return getattr, (HistoryBuffer, self.name)


def test_getattr_only_resolves_history_buffer_statistics(tmp_path):
    from mmengine.logging import HistoryBuffer
    ok, bad = tmp_path / 'ok.pth', tmp_path / 'bad.pth'
    torch.save({'m': _GetattrGadget('mean')}, ok)
    assert torch.load(ok)['m'] is HistoryBuffer.mean
    torch.save({'m': _GetattrGadget('__init__')}, bad)
    with pytest.raises(pickle.UnpicklingError, match='__init__'):
        torch.load(bad)


def test_registration_is_idempotent():
    before = len(torch.serialization.get_safe_globals())
    mmcontrast.utils.register_checkpoint_safe_globals()
    assert len(torch.serialization.get_safe_globals()) == before
