"""AtomicCheckpointHook: a run killed while saving keeps its previous checkpoint; a resumed
checkpoint cannot make the hook delete or write files outside the work dir."""
import os
import os.path as osp
import signal
import subprocess
import sys
import time
import uuid

import pytest
import torch
import torch.nn as nn
from mmengine.config import ConfigDict
from mmengine.model import BaseModel
from mmengine.runner import Runner
from torch.utils.data import Dataset

import mmcontrast  # noqa: F401  (allowlist for weights_only loads)
from mmcontrast.engine.hooks import AtomicCheckpointHook

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

# Trains a tiny model, saving every iteration with max_keep_ckpts=1; the second checkpoint
# write stops half-way (and signals it) until the test kills the process.
KILLED_RUN = r"""
import os, sys, time
import torch, torch.nn as nn
from mmengine.fileio.backends import LocalBackend
from mmengine.model import BaseModel
from mmengine.runner import Runner
import mmcontrast

work_dir, hook_type, marker = sys.argv[1:4]
put, saves = LocalBackend.put, []

def stalling_put(self, obj, filepath):
    if str(filepath).endswith('.pth') or str(filepath).endswith('.pth.part'):
        saves.append(filepath)
        if len(saves) == 2:
            with open(filepath, 'wb') as f:
                f.write(obj[:len(obj) // 2])
                f.flush()
            open(marker, 'w').close()
            time.sleep(600)
    put(self, obj, filepath)

LocalBackend.put = stalling_put

class Model(BaseModel):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(4, 2)
    def forward(self, inputs, labels=None, mode='tensor'):
        return dict(loss=nn.functional.cross_entropy(self.linear(inputs), labels))

class Data(torch.utils.data.Dataset):
    def __len__(self):
        return 8
    def __getitem__(self, i):
        return dict(inputs=torch.full((4, ), float(i)), labels=torch.tensor(i % 2))

Runner(model=Model(), work_dir=work_dir,
       train_dataloader=dict(dataset=Data(), sampler=dict(type='InfiniteSampler'),
                             collate_fn=dict(type='default_collate'), batch_size=2),
       optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1)),
       train_cfg=dict(by_epoch=False, max_iters=3),
       default_hooks=dict(checkpoint=dict(type=hook_type, by_epoch=False, interval=1, max_keep_ckpts=1)),
       experiment_name='killed').train()
"""


def kill_during_second_save(tmp_path, hook_type):
    """Run KILLED_RUN and SIGKILL it while it writes its second checkpoint."""
    script, marker, work_dir = tmp_path / 'run.py', tmp_path / 'saving', tmp_path / 'work'
    script.write_text(KILLED_RUN)
    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHONPATH=ROOT)
    proc = subprocess.Popen(
        [sys.executable, str(script), str(work_dir), hook_type,
         str(marker)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True)
    try:
        deadline = time.time() + 300
        while not marker.exists():
            assert proc.poll() is None, f'the run ended before the second save: {proc.stderr.read()[-3000:]}'
            assert time.time() < deadline, 'the second save never started'
            time.sleep(0.2)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    return work_dir


def test_killed_save_keeps_the_previous_checkpoint(tmp_path):
    work_dir = kill_during_second_save(tmp_path, 'mmcontrast.AtomicCheckpointHook')
    assert not (work_dir / 'iter_2.pth').exists()  # never a truncated file under the final name
    assert (work_dir / '.iter_2.pth.part').exists()
    ckpt = torch.load(work_dir / 'iter_1.pth', weights_only=True)
    assert ckpt['meta']['iter'] == 1 and 'linear.weight' in ckpt['state_dict']
    assert (work_dir / 'last_checkpoint').read_text() == str(work_dir / 'iter_1.pth')

    # --resume (auto) finds it, continues, and clears the interrupted save away
    resumed = _runner(work_dir, 3, resume=True)
    resumed.train()
    assert resumed.iter == 3
    assert sorted(p.name for p in work_dir.glob('*.pth')) == ['iter_3.pth']  # max_keep_ckpts=1
    assert not list(work_dir.glob('.*.part'))


class _TinyModel(BaseModel):

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(4, 2)

    def forward(self, inputs, labels=None, mode='tensor'):
        out = self.linear(inputs)
        if mode == 'loss':
            return dict(loss=nn.functional.cross_entropy(out, labels))
        return [dict(pred=o) for o in out]


class _TinyDataset(Dataset):
    # a nested config dict in the metainfo, as a config's metainfo=dict(...) gives
    metainfo = dict(classes=('a', 'b'), extra=ConfigDict(source=dict(kind='toy')))

    def __len__(self):
        return 8

    def __getitem__(self, i):
        return dict(inputs=torch.full((4, ), float(i)), labels=torch.tensor(i % 2))


def _runner(work_dir, max_iters, **kwargs):
    return Runner(
        model=_TinyModel(),
        work_dir=str(work_dir),
        train_dataloader=dict(
            dataset=_TinyDataset(),
            sampler=dict(type='InfiniteSampler'),
            collate_fn=dict(type='default_collate'),
            batch_size=2),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1)),
        train_cfg=dict(by_epoch=False, max_iters=max_iters),
        default_hooks=dict(
            checkpoint=dict(
                type=AtomicCheckpointHook, by_epoch=False, interval=1, max_keep_ckpts=kwargs.pop('max_keep_ckpts', 1))),
        experiment_name=f'atomic_{uuid.uuid4().hex}',
        **kwargs)


def test_saves_keep_max_keep_ckpts_and_point_at_the_last(tmp_path):
    _runner(tmp_path, 4, max_keep_ckpts=2).train()
    assert sorted(p.name for p in tmp_path.glob('*.pth')) == ['iter_3.pth', 'iter_4.pth']
    assert (tmp_path / 'last_checkpoint').read_text() == str(tmp_path / 'iter_4.pth')
    assert not list(tmp_path.glob('.*'))  # no temporary files left
    ckpt = torch.load(tmp_path / 'iter_4.pth', weights_only=True)
    assert ckpt['message_hub']['runtime_info']['keep_ckpt_ids'] == [3, 4]
    # the nested ConfigDict of the metainfo was stored as a plain dict: no ConfigDict global
    assert type(ckpt['meta']['dataset_meta']['extra']) is dict
    assert ckpt['meta']['dataset_meta']['extra'] == dict(source=dict(kind='toy'))


def _forge(ckpt_path, out_path, **runtime_info):
    ckpt = torch.load(ckpt_path, weights_only=True)
    ckpt['message_hub']['runtime_info'].update(runtime_info)
    torch.save(ckpt, out_path)


def _best_runner(work_dir, **kwargs):
    """Validates every iteration with a score that improves, so the best checkpoint changes."""
    from mmengine.evaluator import BaseMetric

    class _Rising(BaseMetric):
        calls = 0

        def process(self, data_batch, data_samples):
            self.results.append(0)

        def compute_metrics(self, results):
            type(self).calls += 1
            return dict(acc=float(type(self).calls))

    runner = _runner(
        work_dir,
        kwargs.pop('max_iters'),
        val_dataloader=dict(
            dataset=_TinyDataset(),
            sampler=dict(type='DefaultSampler', shuffle=False),
            collate_fn=dict(type='default_collate'),
            batch_size=4),
        val_cfg=dict(),
        val_evaluator=dict(type=_Rising),
        **kwargs)
    runner.train_loop.val_interval = 1
    for hook in runner.hooks:
        if isinstance(hook, AtomicCheckpointHook):
            hook.save_best, hook.rules, hook.key_indicators = 'acc', ['greater'], ['acc']
            hook.is_better_than = {'acc': hook.rule_map['greater']}
            hook.best_ckpt_path = None
    return runner


def test_resume_does_not_delete_paths_named_by_a_foreign_checkpoint(tmp_path):
    victim_dir, victim_file = tmp_path / 'precious', tmp_path / 'precious.txt'
    victim_dir.mkdir()
    (victim_dir / 'data.txt').write_text('keep me')
    victim_file.write_text('keep me too')
    _best_runner(tmp_path / 'origin', max_iters=1).train()
    ckpt = tmp_path / 'foreign.pth'
    _forge(
        tmp_path / 'origin' / 'iter_1.pth',
        ckpt,
        best_ckpt=str(victim_dir),
        best_score=-1.0,
        last_ckpt=str(victim_file),
        keep_ckpt_ids=[0, '../../precious'])

    # a better score arrives at once: the stock hook would rmtree best_ckpt here
    runner = _best_runner(tmp_path / 'work', max_iters=3, resume=True, load_from=str(ckpt))
    runner.train()
    assert (victim_dir / 'data.txt').read_text() == 'keep me'
    assert victim_file.read_text() == 'keep me too'
    best = list((tmp_path / 'work').glob('best_acc_iter_*.pth'))
    assert [p.name for p in best] == ['best_acc_iter_3.pth']  # previous bests of this run removed


def test_paths_inside_the_work_dir_are_kept_on_resume(tmp_path):
    _runner(tmp_path, 2, max_keep_ckpts=3).train()
    hook = AtomicCheckpointHook(by_epoch=False)
    runner = _runner(tmp_path, 2)
    inside = str(tmp_path / 'best_acc_iter_1.pth')
    ckpt = dict(
        message_hub=dict(
            runtime_info=dict(
                best_ckpt=inside,
                last_ckpt=str(tmp_path / 'iter_2.pth'),
                keep_ckpt_ids=[1, 2],
                best_ckpt_acc=str(tmp_path / '..' / 'x.pth'))))
    hook.after_load_checkpoint(runner, ckpt)
    info = ckpt['message_hub']['runtime_info']
    assert info['best_ckpt'] == inside and info['keep_ckpt_ids'] == [1, 2]
    assert 'best_ckpt_acc' not in info  # '..' leaves the work dir


def test_symlink_out_of_the_work_dir_is_not_trusted(tmp_path):
    outside = tmp_path / 'outside'
    outside.mkdir()
    work = tmp_path / 'work'
    work.mkdir()
    os.symlink(outside, work / 'link')
    hook = AtomicCheckpointHook(by_epoch=False)
    runner = _runner(work, 1)
    ckpt = dict(message_hub=dict(runtime_info=dict(best_ckpt=str(work / 'link'))))
    hook.after_load_checkpoint(runner, ckpt)
    assert 'best_ckpt' not in ckpt['message_hub']['runtime_info']


def test_stock_checkpoint_hook_in_a_config_becomes_atomic():
    sys.path.insert(0, osp.join(ROOT, 'tools'))
    try:
        from train import apply_checkpoint_safety
    finally:
        sys.path.remove(osp.join(ROOT, 'tools'))
    from mmengine.config import Config
    cfg = Config(dict(default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=5))))
    apply_checkpoint_safety(cfg)
    assert cfg.default_hooks.checkpoint == dict(type='mmcontrast.AtomicCheckpointHook', interval=5)
    assert cfg.default_hooks.rng_state == dict(type='mmcontrast.RNGStateHook')
    off = Config(dict(default_hooks=dict(rng_state=None)))
    assert apply_checkpoint_safety(off).default_hooks.rng_state is None


@pytest.mark.parametrize('runtime', ['default_runtime.py', 'default_runtime_selfsup.py'])
def test_default_runtimes_use_the_safe_hooks(runtime):
    from mmengine.config import Config
    cfg = Config.fromfile(osp.join(ROOT, 'configs/_base_', runtime))
    assert cfg.default_hooks.checkpoint.type.endswith('AtomicCheckpointHook')
    assert cfg.default_hooks.rng_state.type.endswith('RNGStateHook')
