"""Build hook of mmcontrast: everything else is declared in pyproject.toml.

Like mmdet's and mmseg's setup.py, it puts ``configs/``, ``tools/``, ``demo/``, ``checkpoints/`` (the toy world
backbone the toy configs load) and ``model-index.yml`` into
``mmcontrast/.mim`` so that an installed mmcontrast carries them and ``mim train mmcontrast CONFIG``,
``mim test mmcontrast ...`` and ``mim search mmcontrast`` find them:

- ``sdist`` / ``bdist_wheel`` (``python -m build``, ``pip install .``): the files are copied;
  the wheel built from the sdist takes the copy the sdist carries.
- legacy ``setup.py develop``: symlinks into the source tree (mmdet's behaviour).
- ``pip install -e .`` (PEP 660, what tools/setup_env.sh does): nothing. mim looks for the
  files next to the installed distribution, which is site-packages for a PEP 660 editable
  install, so symlinks in the checkout would not help it; in a checkout use
  ``python tools/train.py`` / ``tools/test.py``, or install the wheel (docs/get_started.md).
"""
import os
import os.path as osp
import platform
import shutil
import sys
import warnings
from setuptools import setup

MIM_FILES = ('configs', 'tools', 'demo', 'checkpoints', 'model-index.yml')


def add_mim_extension() -> None:
    """Copy or symlink the mim resources into ``mmcontrast/.mim`` (mmdet's recipe)."""
    if 'develop' in sys.argv:
        mode = 'copy' if platform.system() == 'Windows' else 'symlink'
    elif 'sdist' in sys.argv or 'bdist_wheel' in sys.argv:
        mode = 'copy'
    else:
        return

    repo_path = osp.dirname(osp.abspath(__file__))
    mim_path = osp.join(repo_path, 'mmcontrast', '.mim')
    os.makedirs(mim_path, exist_ok=True)

    for filename in MIM_FILES:
        src_path = osp.join(repo_path, filename)
        if not osp.exists(src_path):
            # Building a wheel from an unpacked sdist: .mim came with it and there is no
            # top-level copy to refresh it from.
            continue
        tar_path = osp.join(mim_path, filename)
        if osp.isfile(tar_path) or osp.islink(tar_path):
            os.remove(tar_path)
        elif osp.isdir(tar_path):
            shutil.rmtree(tar_path)

        if mode == 'symlink':
            os.symlink(osp.relpath(src_path, osp.dirname(tar_path)), tar_path)
        elif osp.isfile(src_path):
            shutil.copyfile(src_path, tar_path)
        elif osp.isdir(src_path):
            shutil.copytree(src_path, tar_path, ignore=shutil.ignore_patterns('__pycache__', '*.pyc'))
        else:
            warnings.warn(f'Cannot copy {src_path} into {mim_path}.')


if __name__ == '__main__':
    add_mim_extension()
    setup()
