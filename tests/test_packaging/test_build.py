"""`python -m build` makes an sdist and a wheel that carry configs/, tools/ and model-index.yml.

Like mmdet and mmseg, they sit under ``mmcontrast/.mim`` (setup.py: add_mim_extension), where
``mim train/test/search mmcontrast`` look for them.
"""
import glob
import os.path as osp
import tarfile
import zipfile
from collections import Counter

import pytest

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
pytestmark = pytest.mark.packaging

CONFIG_EXTS = ('.py', '.yml', '.yaml', '.md')
TOOL_EXTS = ('.py', '.sh', '.md')
DEMO_EXTS = ('.py', '.sh', '.md', '.jpg', '.png')


def _tree_files(folder, exts):
    files = glob.glob(osp.join(ROOT, folder, '**', '*'), recursive=True)
    return sorted(
        osp.relpath(f, osp.join(ROOT, folder)) for f in files
        if osp.isfile(f) and f.endswith(exts) and '__pycache__' not in f)


def _under(names, prefix):
    return sorted(n[len(prefix):] for n in names if n.startswith(prefix) and not n.endswith('/'))


def test_wheel_carries_configs_tools_and_model_index(dists):
    names = zipfile.ZipFile(dists['wheel']).namelist()
    configs = _under(names, 'mmcontrast/.mim/configs/')
    tools = _under(names, 'mmcontrast/.mim/tools/')
    assert configs == _tree_files('configs', CONFIG_EXTS)
    assert tools == _tree_files('tools', TOOL_EXTS)
    assert 'mmcontrast/.mim/model-index.yml' in names
    # the toy world backbone the toy configs load ({{ fileDirname }}/../../../checkpoints/toy/...)
    assert _under(names, 'mmcontrast/.mim/checkpoints/') == _tree_files('checkpoints', ('.pth', '.md'))
    if osp.isdir(osp.join(ROOT, 'demo')):
        assert _under(names, 'mmcontrast/.mim/demo/') == _tree_files('demo', DEMO_EXTS)
    assert 'mmcontrast/__init__.py' in names and 'mmcontrast/registry.py' in names
    assert not [n for n in names if '__pycache__' in n or n.endswith('.pyc')]
    assert not [n for n in names if n.split('/')[0] in ('tests', 'configs', 'tools', 'docs', 'data')]
    top = Counter(n.split('/')[0] if '/.mim/' not in n else '/'.join(n.split('/')[:3]) for n in names)
    print(f'\nwheel {osp.basename(dists["wheel"])}: {len(names)} files; {len(configs)} under .mim/configs '
          f'({sum(n.endswith(".py") for n in configs)} .py), {len(tools)} under .mim/tools; '
          f'{dict(sorted(top.items()))}; build {dists["seconds"]:.1f} s')


def test_sdist_carries_the_same(dists):
    with tarfile.open(dists['sdist']) as tar:
        names = [m.name for m in tar.getmembers() if m.isfile()]
    prefix = names[0].split('/')[0] + '/'
    names = [n[len(prefix):] for n in names if n.startswith(prefix)]
    assert _under(names, 'mmcontrast/.mim/configs/') == _tree_files('configs', CONFIG_EXTS)
    assert _under(names, 'mmcontrast/.mim/tools/') == _tree_files('tools', TOOL_EXTS)
    for required in ('mmcontrast/.mim/model-index.yml', 'setup.py', 'pyproject.toml', 'LICENSE', 'requirements.txt',
                     'requirements/runtime.txt'):
        assert required in names, required


def test_wheel_metadata(dists):
    with zipfile.ZipFile(dists['wheel']) as whl:
        meta_name = next(n for n in whl.namelist() if n.endswith('.dist-info/METADATA'))
        meta = whl.read(meta_name).decode()
    assert 'Requires-Python: <3.12,>=3.11' in meta or 'Requires-Python: >=3.11,<3.12' in meta
    for pin in ('mmengine==0.10.7', 'mmdet==3.3.0', 'mmsegmentation==1.2.2'):
        assert f'Requires-Dist: {pin}' in meta
    assert 'Provides-Extra: tensorboard' in meta and 'Provides-Extra: docs' in meta


def test_mim_copy_is_made_at_build_time(dists):
    """setup.py made mmcontrast/.mim in the build copy, and git ignores it in a checkout."""
    assert osp.isdir(osp.join(dists['src'], 'mmcontrast', '.mim', 'configs'))
    with open(osp.join(ROOT, '.gitignore')) as f:
        ignored = f.read().split()
    assert '/mmcontrast/.mim/' in ignored and '/dist/' in ignored and '/docs/_build/' in ignored
