"""The dependency pins agree everywhere: docs/get_started.md's table, pyproject.toml,
requirements/runtime.txt, tools/setup_env.sh, the import-time check and the installed stack.

The table states exactly what is pinned (and so tested) and, separately, the wider ranges the
import check accepts without testing them.
"""
import importlib.metadata as md
import os.path as osp
import re
import sys
import tomllib

import pytest

import mmcontrast

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
PINNED = ('mmengine', 'mmdet', 'mmsegmentation')


def _read(path):
    with open(osp.join(ROOT, path)) as f:
        return f.read()


@pytest.fixture(scope='module')
def table():
    text = _read('docs/get_started.md')
    section = text[text.index('## Requirements'):text.index('## Install (CPU)')]
    rows = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip('|').split('|')]
        if len(cells) == 4 and cells[0] not in ('package', '---'):
            rows[cells[0].split(' (')[0]] = cells[1:]
    assert set(rows) == {'Python', 'PyTorch', 'mmengine', 'mmcv', 'mmdet', 'mmsegmentation'}, rows
    return rows


@pytest.fixture(scope='module')
def project():
    return tomllib.loads(_read('pyproject.toml'))['project']


def _spec(requirements, name):
    found = [r for r in requirements if re.match(rf'{name}\s*[=<>!~]', r)]
    assert len(found) == 1, (name, requirements)
    return found[0][len(name):].strip()


def test_python(table, project):
    assert table['Python'][0] == f'`{project["requires-python"]}`'
    major, minor = sys.version_info[:2]
    assert table['Python'][1] == f'{major}.{minor}'
    assert project['requires-python'] == f'>={major}.{minor},<{major}.{minor + 1}'


def test_mm_pins(table, project):
    runtime = [line.split('#')[0].strip() for line in _read('requirements/runtime.txt').splitlines()]
    runtime = [r for r in runtime if r]
    for name in PINNED:
        pin = _spec(project['dependencies'], name)
        assert pin == _spec(runtime, name), name
        assert pin.startswith('=='), f'{name}: {pin} is a range; the table says only the pin is tested'
        version = pin[2:]
        assert table[name][0] == f'`{pin}`', name
        assert table[name][1] == version, name
        assert md.version(name) == version, f'{name}: installed {md.version(name)}, pinned {version}'


def test_torch_and_mmcv_from_setup_env(table):
    script = _read('tools/setup_env.sh')
    torch = re.search(r'TORCH_SPEC="\$\{TORCH_SPEC:-torch==([\d.]+)\}"', script).group(1)
    mmcv = re.search(r'MMCV_VERSION="([\d.]+)"', script).group(1)
    assert f'`torch=={torch}`' in table['PyTorch'][0] and table['PyTorch'][1].startswith(torch)
    assert f'`mmcv=={mmcv}`' in table['mmcv'][0] and table['mmcv'][1] == mmcv
    assert md.version('torch').split('+')[0] == torch
    assert md.version('mmcv') == mmcv


def test_import_check_ranges(table):
    """The last column is what ``mmcontrast._check_versions`` enforces."""
    for dist, low, high, _ in mmcontrast._REQUIREMENTS:
        row = {'torch': 'PyTorch'}.get(dist, dist)
        lo = '.'.join(low.split('.')[:2]) if low.endswith('.0') else low
        want = f'>={lo}' + (f',<{".".join(high.split(".")[:2]) if high.endswith(".0") else high}' if high else '')
        assert table[row][2].startswith(f'`{want}`'), (dist, want, table[row][2])
