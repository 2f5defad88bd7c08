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
from mmcontrast.utils.checkpoint import checkpoint_safe_globals, numeric_dtype_classes


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
        # the hooks of mmcontrast's default runtimes: their additions must load too
        default_hooks=dict(
            checkpoint=dict(type='mmcontrast.AtomicCheckpointHook', interval=3, by_epoch=False),
            rng_state=dict(type='mmcontrast.RNGStateHook'),
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


# What a Runner checkpoint holds beyond torch's defaults (get_unsafe_globals_in_checkpoint):
# the message hub's HistoryBuffers with their numpy arrays, their statistics methods
# (pickled as getattr(HistoryBuffer, name)) and numpy scalars.
RUNNER_GLOBALS = {
    'builtins.getattr', 'mmengine.logging.history_buffer.HistoryBuffer', 'numpy._core.multiarray._reconstruct',
    'numpy._core.multiarray.scalar', 'numpy.dtype', 'numpy.ndarray'
}


def _in_fresh_process(code):
    """Run ``code`` in a python without mmcontrast's allowlist; returns stdout."""
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout


def test_allowlist_is_what_makes_it_load(checkpoint):
    path, weights = checkpoint
    # Without mmcontrast the restricted loader refuses the file, and names exactly these globals.
    out = _in_fresh_process(
        'import pickle, torch\n'
        f'print(sorted(torch.serialization.get_unsafe_globals_in_checkpoint({str(path)!r})))\n'
        'try:\n'
        f'    torch.load({str(path)!r})\n'
        '    print("LOADED")\n'
        'except pickle.UnpicklingError as e:\n'
        '    print("REFUSED")\n')
    unsafe, verdict = out.strip().splitlines()
    assert set(eval(unsafe)) == RUNNER_GLOBALS and verdict == 'REFUSED'
    # With it, the very same file loads, weights included.
    out = _in_fresh_process(
        'import torch, mmcontrast\n'
        f'ckpt = torch.load({str(path)!r})\n'
        'print(ckpt["meta"]["iter"], float(ckpt["state_dict"]["linear.weight"].sum()))\n')
    assert out.split()[0] == '3'
    assert float(out.split()[1]) == pytest.approx(float(weights['linear.weight'].sum()), abs=1e-6)


def _allowlisted_names():
    names = []
    for entry in checkpoint_safe_globals():
        obj, name = entry if isinstance(entry, tuple) else (entry, f'{entry.__module__}.{entry.__qualname__}')
        names.append(name)
    return names


def test_allowlist_holds_exactly_what_runner_checkpoints_need():
    import numpy as np
    dtype_classes = {f'{c.__module__}.{c.__qualname__}' for c in numeric_dtype_classes()}
    assert set(_allowlisted_names()) == RUNNER_GLOBALS | dtype_classes
    assert not any('Config' in name for name in _allowlisted_names())
    # every numeric dtype's class, and no object/string/void dtype
    assert type(np.dtype('f8')) in numeric_dtype_classes() and type(np.dtype('O')) not in numeric_dtype_classes()


def _needs(name):
    """An object whose checkpoint needs the allowlisted global ``name``."""
    import numpy as np
    from mmengine.logging import HistoryBuffer
    for cls in numeric_dtype_classes():
        if name == f'{cls.__module__}.{cls.__qualname__}':
            code = next(c for c in '?' + np.typecodes['AllInteger'] + np.typecodes['AllFloat']
                        if type(pickle.loads(pickle.dumps(np.dtype(c)))) is cls)
            return np.zeros(2, dtype=np.dtype(code))
    if name.endswith('.scalar'):
        return np.float64(0.25)
    if name.endswith(('_reconstruct', 'ndarray', 'numpy.dtype')):
        return np.arange(3.0)
    buffer = HistoryBuffer()
    buffer.update(1.0)
    return buffer  # HistoryBuffer and builtins.getattr


@pytest.mark.parametrize('name', _allowlisted_names())
def test_each_allowlisted_global_is_needed_and_sufficient(tmp_path, name):
    path = tmp_path / 'needs.pth'
    torch.save({'state_dict': {'w': torch.ones(1)}, 'meta': {'value': _needs(name)}}, path)
    assert torch.load(path)['meta']['value'] is not None  # loads with the allowlist
    saved = torch.serialization.get_safe_globals()
    try:
        torch.serialization.clear_safe_globals()
        torch.serialization.add_safe_globals([g for g in saved if g not in checkpoint_safe_globals()] + [
            g for g in checkpoint_safe_globals()
            if (g[1] if isinstance(g, tuple) else f'{g.__module__}.{g.__qualname__}') != name
        ])
        with pytest.raises(pickle.UnpicklingError):
            torch.load(path)
    finally:
        torch.serialization.clear_safe_globals()
        torch.serialization.add_safe_globals(saved)


class _HostileConfig:
    """Pickles as ``Config(None, None, path)``: Config reads ``path`` in its constructor."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        from mmengine.config import Config
        return Config, (None, None, self.path)


class _HostileConfigDict:

    def __reduce__(self):
        from mmengine.config import ConfigDict
        return ConfigDict, ({'a': 1}, )


def test_config_reducers_are_refused_without_reading_the_file(tmp_path):
    fifo = tmp_path / 'fifo.py'
    os.mkfifo(fifo)  # reading it would block the loader forever
    path = tmp_path / 'hostile.pth'
    torch.save({'state_dict': {}, 'meta': {'cfg': _HostileConfig(str(fifo))}}, path)
    out = _in_fresh_process(
        'import pickle, torch, mmcontrast\n'
        'try:\n'
        f'    torch.load({str(path)!r})\n'
        '    print("LOADED")\n'
        'except pickle.UnpicklingError as e:\n'
        '    print("REFUSED", "Config" in str(e))\n')
    assert out.split() == ['REFUSED', 'True']
    torch.save({'meta': {'cfg': _HostileConfigDict()}}, path)
    with pytest.raises(pickle.UnpicklingError, match='ConfigDict'):
        torch.load(path)


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
