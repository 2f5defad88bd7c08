"""RNGStateHook: a resumed run repeats the uninterrupted one bit for bit (tiny model, seconds)."""
import os.path as osp
import random
import uuid

import numpy as np
import pytest
import torch
import torch.nn as nn
from mmengine.evaluator import BaseMetric
from mmengine.model import BaseModel
from mmengine.runner import Runner
from torch.utils.data import Dataset

import mmcontrast  # noqa: F401  (allowlist for weights_only loads)
from mmcontrast.engine.hooks import AtomicCheckpointHook, RNGStateHook
from mmcontrast.utils.rng import get_rng_state, set_rng_state


class _NoisyModel(BaseModel):
    """Its training step draws from python random, numpy and torch, like DACS's class mix and
    strong augmentation."""

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(4, 2)
        self.register_buffer('bank', torch.zeros(8, 4))  # a queue, overwritten at random rows

    def forward(self, inputs, labels=None, mode='tensor'):
        if mode == 'loss':
            scale = random.uniform(0.5, 1.5) * float(np.random.uniform(0.5, 1.5))
            x = nn.functional.dropout(inputs * scale, p=0.5, training=True)
            with torch.no_grad():
                self.bank[torch.randint(0, 8, (1, ))] = x[0].detach()
            return dict(loss=nn.functional.cross_entropy(self.linear(x + self.bank.mean(0)), labels))
        return [dict(pred=p) for p in self.linear(inputs)]


class _NoisyDataset(Dataset):
    """Its 'pipeline' draws from the process's global generators, like mmcv transforms."""
    metainfo = dict(classes=('a', 'b'))

    def __len__(self):
        return 12

    def __getitem__(self, i):
        g = torch.Generator().manual_seed(i)
        jitter = random.random() + float(np.random.rand()) + float(torch.rand(()))
        return dict(inputs=torch.randn(4, generator=g) + jitter, labels=torch.tensor(i % 2))


class _Metric(BaseMetric):

    def process(self, data_batch, data_samples):
        self.results.append(0.0)

    def compute_metrics(self, results):
        return dict(score=0.0)


def _runner(work_dir,
            by_epoch,
            length,
            rng_hook=True,
            seed=0,
            num_workers=0,
            val=False,
            ckpt_by_epoch=None,
            save_best=None,
            **kwargs):
    train_cfg = dict(by_epoch=True, max_epochs=length) if by_epoch else dict(by_epoch=False, max_iters=length)
    ckpt_by_epoch = by_epoch if ckpt_by_epoch is None else ckpt_by_epoch
    hooks = dict(
        checkpoint=dict(
            type=AtomicCheckpointHook,
            interval=1 if by_epoch else 3,
            by_epoch=ckpt_by_epoch,
            save_best=save_best,
            rule='greater' if save_best else None),
        logger=dict(type='LoggerHook', interval=1))
    if rng_hook:
        hooks['rng_state'] = dict(type=RNGStateHook)
    if val:
        train_cfg['val_interval'] = 1 if by_epoch else 3
        kwargs.update(
            val_dataloader=dict(
                dataset=_NoisyDataset(),
                sampler=dict(type='DefaultSampler', shuffle=True),
                collate_fn=dict(type='default_collate'),
                batch_size=4,
                num_workers=num_workers),
            val_cfg=dict(),
            val_evaluator=dict(type=_Metric))
    return Runner(
        model=dict(type=_NoisyModel),  # built after the seed is set
        work_dir=str(work_dir),
        train_dataloader=dict(
            dataset=_NoisyDataset(),
            sampler=dict(type='DefaultSampler' if by_epoch else 'InfiniteSampler', shuffle=True),
            collate_fn=dict(type='default_collate'),
            batch_size=4,
            num_workers=num_workers,
            persistent_workers=False),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1, momentum=0.9)),
        train_cfg=train_cfg,
        default_hooks=hooks,
        randomness=dict(seed=seed),
        experiment_name=f'rng_{uuid.uuid4().hex}',
        **kwargs)


def _weights(runner):
    return {k: v.clone() for k, v in runner.model.state_dict().items()}


def _straight_and_resumed(tmp_path, by_epoch, **kwargs):
    """A 2N run and an N run resumed to 2N (N = 3 iterations or 2 epochs of 3)."""
    n = 2 if by_epoch else 3
    straight = _runner(tmp_path / 'straight', by_epoch, 2 * n, **kwargs)
    straight.train()
    first = _runner(tmp_path / 'split', by_epoch, n, **kwargs)
    first.train()
    ckpt = osp.join(str(tmp_path / 'split'), f'epoch_{n}.pth' if by_epoch else f'iter_{n}.pth')
    resumed = _runner(tmp_path / 'split', by_epoch, 2 * n, resume=True, load_from=ckpt, **kwargs)
    resumed.train()
    assert resumed.iter == straight.iter == 2 * n * (3 if by_epoch else 1)
    return _weights(straight), _weights(resumed)


def _assert_equal(a, b):
    for key in a:
        assert torch.equal(a[key], b[key]), f'{key} differs by {(a[key] - b[key]).abs().max()}'


@pytest.mark.parametrize('by_epoch', [False, True], ids=['iter', 'epoch'])
@pytest.mark.parametrize('num_workers', [0, 2])
def test_resumed_run_is_bit_exact(tmp_path, by_epoch, num_workers):
    straight, resumed = _straight_and_resumed(tmp_path, by_epoch, num_workers=num_workers)
    _assert_equal(straight, resumed)


def test_without_the_hook_the_resumed_run_differs(tmp_path):
    # the model really draws from the global generators: the test above can fail
    straight, resumed = _straight_and_resumed(tmp_path, False, rng_hook=False)
    assert any(not torch.equal(straight[k], resumed[k]) for k in straight)


@pytest.mark.parametrize('by_epoch', [False, True], ids=['iter', 'epoch'])
def test_validation_does_not_shift_the_training_stream(tmp_path, by_epoch):
    # validation right after each save draws from the generators (its loader's seed, the
    # noisy dataset); the resumed run must not see a difference
    straight, resumed = _straight_and_resumed(tmp_path, by_epoch, val=True)
    _assert_equal(straight, resumed)


def test_a_best_checkpoint_written_during_validation_holds_the_training_stream(tmp_path):
    # the best checkpoint is saved inside the validation, whose draws must not be in it: it holds
    # the state of the regular checkpoint of the same iteration, saved just before the validation
    _runner(tmp_path, False, 3, val=True, save_best='score').train()
    best = torch.load(tmp_path / 'best_score_iter_3.pth', weights_only=True)['rng_state']['ranks'][0]
    regular = torch.load(tmp_path / 'iter_3.pth', weights_only=True)['rng_state']['ranks'][0]
    assert torch.equal(best['torch'], regular['torch'])
    assert torch.equal(best['numpy']['keys'], regular['numpy']['keys'])
    assert best['numpy']['pos'] == regular['numpy']['pos']
    assert torch.equal(best['python']['internal'], regular['python']['internal'])


def test_sampler_and_worker_seeds_come_back_with_an_unseeded_config(tmp_path):
    # randomness.seed=None: each run draws its own seed, so the resumed run's sampler and
    # workers start from another one unless the checkpoint's are restored
    straight = _runner(tmp_path / 'straight', False, 6, seed=None, num_workers=1)
    straight.train()
    first = _runner(tmp_path / 'split', False, 3, seed=straight.seed, num_workers=1)
    first.train()
    resumed = _runner(
        tmp_path / 'split',
        False,
        6,
        seed=None,
        num_workers=1,
        resume=True,
        load_from=str(tmp_path / 'split' / 'iter_3.pth'))
    assert resumed.train_dataloader.sampler.seed != straight.seed or pytest.skip('drew the same seed')
    resumed.train()
    assert resumed.train_dataloader.sampler.seed == straight.seed
    _assert_equal(_weights(straight), _weights(resumed))


def test_checkpoint_carries_every_generator_and_the_data_state(tmp_path):
    runner = _runner(tmp_path, False, 3)
    runner.train()
    ckpt = torch.load(tmp_path / 'iter_3.pth', weights_only=True)  # loads without extra globals
    state = ckpt['rng_state']
    assert state['world_size'] == 1 and len(state['ranks']) == 1
    assert set(state['ranks'][0]) == {'version', 'python', 'numpy', 'torch', 'cuda'}
    data = state['data']
    assert data['sampler'] == 'InfiniteSampler' and data['seed'] == 0 and data['worker_seed'] == 0
    assert data['batch_size'] == 4 and data['num_workers'] == 0
    # the saved state is the one right after the save: the next draws are those of the run
    set_rng_state(state['ranks'][0])
    assert isinstance(random.random(), float)


def test_state_round_trip_restores_all_generators():
    random.seed(1), np.random.seed(2), torch.manual_seed(3)
    np.random.randn()  # leaves a cached gaussian in numpy's legacy state
    saved = get_rng_state()
    draws = (random.random(), random.gauss(0, 1), np.random.randn(3).tolist(), torch.rand(3).tolist())
    set_rng_state(saved)
    assert draws == (random.random(), random.gauss(0, 1), np.random.randn(3).tolist(), torch.rand(3).tolist())
    with pytest.raises(ValueError, match='unknown RNG state layout'):
        set_rng_state(dict(saved, version=99))


def test_load_from_does_not_restore(tmp_path):
    # fine-tuning from a checkpoint (load_from without resume) starts a fresh stream
    _runner(tmp_path / 'a', False, 3).train()
    fresh = _runner(tmp_path / 'b', False, 3)
    fresh.train()
    loaded = _runner(tmp_path / 'c', False, 3, load_from=str(tmp_path / 'a' / 'iter_3.pth'))
    restored = []
    loaded.register_hook(type('Probe', (RNGStateHook, ), dict(_apply=lambda self, r: restored.append(1)))())
    loaded.train()
    assert not restored


def test_a_checkpoint_without_states_warns_or_raises(tmp_path):
    _runner(tmp_path, False, 3, rng_hook=False).train()
    with pytest.raises(RuntimeError, match='holds no generator states'):
        runner = _runner(tmp_path, False, 6, resume=True, load_from=str(tmp_path / 'iter_3.pth'))
        runner.register_hook(RNGStateHook(strict=True))
        runner.train()


def test_mid_epoch_checkpoints_are_refused(tmp_path):
    runner = _runner(tmp_path, True, 1, ckpt_by_epoch=False)
    with pytest.raises(ValueError, match='mid-epoch checkpoints'):
        runner.train()


def test_resuming_an_epoch_loop_from_a_mid_epoch_checkpoint_is_refused(tmp_path):
    # a foreign checkpoint written at iteration 2 of a 3-iteration epoch
    _runner(tmp_path, False, 2).train()
    ckpt = tmp_path / 'iter_2.pth'
    runner = _runner(tmp_path / 'epochs', True, 2, resume=True, load_from=str(ckpt))
    with pytest.raises(RuntimeError, match='written in the middle of an epoch'):
        runner.train()
