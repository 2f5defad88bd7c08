"""tools/dataset_converters/make_toy_cls.py: one lock with make_toy_uda.py, no mixed data sets."""
import importlib.util
import os
import os.path as osp
import pickle
import subprocess
import sys
import threading

import pytest

from mmcontrast.datasets.toy_cls import read_toy_cls_info
from mmcontrast.utils.file_lock import exclusive_lock, lock_path

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOOL = osp.join(ROOT, 'tools', 'dataset_converters', 'make_toy_cls.py')


def _tool():
    spec = importlib.util.spec_from_file_location('make_toy_cls', TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _start(out, train, seed, *extra):
    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHONPATH=ROOT)
    return subprocess.Popen([
        sys.executable, TOOL, '--out',
        str(out), '--train-per-class',
        str(train), '--test-per-class', '1', '--seed',
        str(seed), *extra
    ],
                            env=env,
                            stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE,
                            text=True)


def _finish(proc):
    out, err = proc.communicate(timeout=300)
    return proc.returncode, out + err


def _consistent(out):
    """The recorded parameters describe every file of the set."""
    info = read_toy_cls_info(str(out))
    folder = osp.join(str(out), 'cifar-10-batches-py')
    train = 0
    for i in range(1, 6):
        with open(osp.join(folder, f'data_batch_{i}'), 'rb') as f:
            train += len(pickle.load(f, encoding='bytes')[b'labels'])
    return info is not None and train == 10 * info['num_train_per_class'], info


def test_concurrent_runs_with_other_parameters_never_mix(tmp_path):
    out = tmp_path / 'toy_cls'
    procs = [_start(out, 3, 0), _start(out, 5, 1)]
    results = [_finish(p) for p in procs]
    codes = sorted(code for code, _ in results)
    assert codes[0] == 0 and codes[1] != 0, results  # one wrote it, the other refused
    refusal = next(log for code, log in results if code != 0)
    assert 'generated with other parameters' in refusal and '--force' in refusal
    ok, info = _consistent(out)
    assert ok, info
    assert not [n for n in os.listdir(out) if n.startswith('.')]  # no temporary folders left


def test_concurrent_runs_with_the_same_parameters_both_succeed(tmp_path):
    out = tmp_path / 'toy_cls'
    results = [_finish(p) for p in [_start(out, 2, 0), _start(out, 2, 0)]]
    assert [code for code, _ in results] == [0, 0], results
    assert sum('up to date' in log for _, log in results) == 1
    assert _consistent(out)[0]


def test_mismatch_is_refused_and_force_replaces(tmp_path):
    tool, out = _tool(), str(tmp_path / 'toy_cls')
    assert tool.generate(out, 2, 1, 0) is True
    assert tool.generate(out, 2, 1, 0) is False  # up to date
    with pytest.raises(ValueError, match=r"'num_train_per_class': \(2, 3\).*--force"):
        tool.generate(out, 3, 1, 0)
    assert read_toy_cls_info(out)['num_train_per_class'] == 2  # untouched
    assert tool.generate(out, 3, 1, 0, force=True) is True
    ok, info = _consistent(out)
    assert ok and info['num_train_per_class'] == 3
    with pytest.raises(ValueError, match='train_per_class must be >= 1'):
        tool.generate(out, 0, 1, 0)


def test_the_tool_waits_for_the_lock_of_make_toy_uda(tmp_path):
    tool, out = _tool(), str(tmp_path / 'toy_cls')
    assert lock_path(out) == out + '.lock'  # ensure_toy_uda's <root>.lock convention
    done = []
    with exclusive_lock(out):
        worker = threading.Thread(target=lambda: done.append(tool.generate(out, 2, 1, 0)))
        worker.start()
        worker.join(timeout=2)
        assert worker.is_alive() and not done, 'generated while another process held the lock'
        assert not osp.exists(osp.join(out, 'cifar-10-batches-py'))
    worker.join(timeout=120)
    assert done == [True] and _consistent(out)[0]
