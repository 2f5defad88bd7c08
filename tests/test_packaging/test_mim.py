"""openmim on the built wheel: `mim search mmcontrast`, 2-iteration `mim train` and `mim test`.

The wheel is installed without dependencies into its own directory, first on PYTHONPATH, so
mim finds ``mmcontrast/.mim`` next to that distribution; the stack comes from the venv.
"""
import os
import os.path as osp
import shutil
import sys

import pytest

pytestmark = pytest.mark.packaging
CONFIG = 'deeplabv3_r18-narrow_2k_toy-source.py'  # the cheapest toy config: source-only toy seg


def _mim():
    exe = osp.join(osp.dirname(sys.executable), 'mim')
    return [exe] if osp.exists(exe) else [shutil.which('mim') or 'mim']


def _options(data_root, iters):
    loaders = ('train_dataloader', 'val_dataloader', 'test_dataloader')
    return ([f'{d}.dataset.data_root={data_root}'
             for d in loaders] + [f'{d}.num_workers=0'
                                  for d in loaders] + [f'{d}.persistent_workers=False' for d in loaders] + [
                                      'train_dataloader.batch_size=2', 'val_dataloader.batch_size=2',
                                      f'train_cfg.max_iters={iters}', f'train_cfg.val_interval={iters}',
                                      f'default_hooks.checkpoint.interval={iters}', 'default_hooks.logger.interval=1'
                                  ])


@pytest.fixture(scope='module')
def mim_env(installed_wheel, require):
    require('mim', 'packaging')
    # COLUMNS: mim's table width does not depend on it, but rich's does; keep it stable.
    return dict(PYTHONPATH=os.pathsep.join([str(installed_wheel), os.environ.get('PYTHONPATH', '')]), COLUMNS='120')


def test_mim_search(mim_env, installed_wheel, run, tmp_path):
    out, seconds = run(_mim() + ['search', 'mmcontrast'], cwd=str(tmp_path), **mim_env)
    assert 'config id: dacs-pcl_deeplabv3-r18-narrow_2k_toy-src2tgt' in out
    assert 'toy uda target val/miou' in out and '43.4' in out
    assert 'config id: mocov2_resnet18-w16_1xb64-coslr-6e_toycls' in out
    out_one, _ = run(_mim() + ['search', 'mmcontrast', '--model', 'ranked supcon'], cwd=str(tmp_path), **mim_env)
    assert 'ranked-supcon_resnet18-w16_linear-5e_toycls-id8' in out_one
    print(f'\nmim search mmcontrast: {out.count("config id:")} models in {seconds:.1f} s\n{out_one[-2500:]}')


def test_mim_train_and_test_two_iterations(mim_env, run, tmp_path):
    from mmcontrast.datasets.toy_uda import generate_toy_uda
    data_root = str(tmp_path / 'toy_uda')
    generate_toy_uda(data_root, num_train=4, num_val=2)
    work_dir = str(tmp_path / 'work')
    # CONFIG is a bare name: mim finds it under mmcontrast/.mim/configs of the installed wheel,
    # and runs mmcontrast/.mim/tools/train.py.
    out, seconds = run(
        _mim() + ['train', 'mmcontrast', CONFIG, '--work-dir', work_dir, '--cfg-options'] + _options(data_root, 2),
        cwd=str(tmp_path),
        **mim_env)
    assert f'mmcontrast/.mim/configs/toy_uda/{CONFIG}' in out
    assert 'Training finished successfully' in out or 'Iter(train) [2/2]' in out
    ckpt = osp.join(work_dir, 'iter_2.pth')
    assert osp.exists(ckpt)
    out_test, seconds_test = run(
        _mim() +
        ['test', 'mmcontrast', CONFIG, '--checkpoint', ckpt, '--work-dir',
         str(tmp_path / 'test'), '--cfg-options'] + _options(data_root, 2),
        cwd=str(tmp_path),
        **mim_env)
    assert 'mIoU' in out_test
    print(f'\nmim train (2 iterations): {seconds:.1f} s, mim test: {seconds_test:.1f} s')
