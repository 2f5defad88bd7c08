"""Fixtures of the packaging tests: one wheel + sdist build per session, in a copy of the tree.

The build runs in a copy (the files git tracks plus untracked, not ignored ones) so that setup.py's
``mmcontrast/.mim`` copy never lands in the working tree. Tests marked ``packaging`` need
requirements/packaging.txt (``MMCONTRAST_EXTRAS=packaging bash tools/setup_env.sh``); they skip
without it, except under CI=true, where a missing tool is a failure.
"""
import importlib.util
import os
import os.path as osp
import shutil
import subprocess
import sys
import time

import pytest

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def _require(module: str, extra: str) -> None:
    """Skip (fail under CI) when ``module`` of ``requirements/<extra>.txt`` is missing."""
    if importlib.util.find_spec(module) is not None:
        return
    msg = f'{module} is not installed: MMCONTRAST_EXTRAS={extra} bash tools/setup_env.sh'
    if os.environ.get('CI', '').lower() == 'true':
        pytest.fail(msg)
    pytest.skip(msg)


def _run(cmd, cwd=ROOT, timeout=600, **env):
    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHONUNBUFFERED='1', **env)
    start = time.monotonic()
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    out = result.stdout + result.stderr
    assert result.returncode == 0, (cmd, out[-6000:])
    return out, time.monotonic() - start


def _source_files():
    out = subprocess.run(['git', 'ls-files', '-co', '--exclude-standard', '-z'],
                         cwd=ROOT,
                         capture_output=True,
                         check=True).stdout.decode()
    return [p for p in out.split('\0') if p and osp.isfile(osp.join(ROOT, p))]


@pytest.fixture(scope='session')
def require():
    """``require(module, extra)``: skip, or fail under CI=true, when ``module`` is missing."""
    return _require


@pytest.fixture(scope='session')
def run():
    """``run(cmd, cwd=ROOT, timeout=600, **env) -> (output, seconds)``; asserts exit status 0."""
    return _run


@pytest.fixture(scope='session')
def dists(tmp_path_factory):
    """``python -m build`` (sdist, then the wheel from the sdist) of a copy of the tree."""
    _require('build', 'packaging')
    base = tmp_path_factory.mktemp('build')
    src, out_dir = base / 'src', base / 'dist'
    for rel in _source_files():
        dst = src / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(osp.join(ROOT, rel), dst)
    # --no-isolation: build with the venv's pinned setuptools/wheel instead of fetching new ones.
    log, seconds = _run([sys.executable, '-m', 'build', '--no-isolation', '--outdir', str(out_dir), str(src)])
    wheels, sdists = sorted(out_dir.glob('*.whl')), sorted(out_dir.glob('*.tar.gz'))
    assert len(wheels) == 1 and len(sdists) == 1, log[-3000:]
    return dict(wheel=wheels[0], sdist=sdists[0], src=src, seconds=seconds, log=log)


@pytest.fixture(scope='session')
def installed_wheel(dists, tmp_path_factory):
    """The wheel installed (without dependencies) into its own directory, first on PYTHONPATH.

    The venv keeps its editable mmcontrast, whose distribution mim cannot use (it looks for
    ``.mim`` next to the installed distribution); the wheel's copy shadows it for the subprocesses.
    """
    target = tmp_path_factory.mktemp('site')
    _run([
        sys.executable, '-m', 'pip', 'install', '--disable-pip-version-check', '-q', '--no-deps', '--no-compile',
        '--target',
        str(target),
        str(dists['wheel'])
    ])
    return target
