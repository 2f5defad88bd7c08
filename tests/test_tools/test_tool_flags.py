"""tools/test.py --tta, tools/train.py --auto-scale-lr and --amp, and the Python finder of tools/*.sh."""
import glob
import importlib.util
import os
import os.path as osp
import subprocess
import sys
from argparse import Namespace

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmengine.runner import Runner

import mmcontrast.models  # noqa: F401
from mmcontrast.datasets.toy_uda import ensure_toy_uda
from mmcontrast.registry import MODELS

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SEG_CONFIG = osp.join(ROOT, 'configs/uda_seg/dacs_deeplabv3-r18-narrow_2k_toy-src2tgt.py')
DET_CONFIG = osp.join(ROOT, 'configs/uda_det/mean-teacher_faster-rcnn_r18-narrow-fpn_1k_toy-src2tgt.py')


def _load(name):
    spec = importlib.util.spec_from_file_location(f'_mmcontrast_tools_{name}', osp.join(ROOT, 'tools', f'{name}.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


test_tool, train_tool = _load('test'), _load('train')


@pytest.fixture(scope='module')
def toy_root(tmp_path_factory):
    return ensure_toy_uda(str(tmp_path_factory.mktemp('toy') / 'toy_uda'), num_train=2, num_val=2)


# ------------------------------------------------------------------------------- --tta
def test_flip_tta_pipelines():
    seg = [dict(type='LoadImageFromFile'), dict(type='Resize', scale=(8, 4)), dict(type='LoadAnnotations'),
           dict(type='PackSegInputs')]
    tta = test_tool.flip_tta_pipeline(seg, detection=False)
    assert [t['type'] for t in tta] == ['LoadImageFromFile', 'Resize', 'TestTimeAug']
    flips, labels, pack = tta[-1]['transforms']
    assert [f['prob'] for f in flips] == [0., 1.] and labels == [dict(type='LoadAnnotations')]  # after the flip
    det = [dict(type='LoadImageFromFile'), dict(type='Resize', scale=(8, 4)),
           dict(type='PackDetInputs', meta_keys=('img_id', 'img_path'))]
    tta = test_tool.flip_tta_pipeline(det, detection=True)
    assert {'flip', 'flip_direction', 'img_id'} <= set(tta[-1]['transforms'][1][0]['meta_keys'])


def _save(config, scope, path):
    cfg = Config.fromfile(config)
    with DefaultScope.overwrite_default_scope(scope):
        model = MODELS.build(cfg.model)
    if hasattr(model.teacher, 'steps'):
        model.teacher.steps.fill_(1)
    torch.save(dict(state_dict=model.state_dict(), meta=dict()), path)


def _tta_test(config, scope, tmp_path, toy_root, loader_key='test_dataloader'):
    ckpt = str(tmp_path / 'uda.pth')
    _save(config, scope, ckpt)
    cfg = Config.fromfile(config)
    cfg.test_dataloader.dataset.data_root = toy_root
    if 'ann_file' in cfg.test_dataloader.dataset:
        cfg.test_evaluator.ann_file = osp.join(toy_root, cfg.test_dataloader.dataset.ann_file)
    cfg.test_dataloader.update(num_workers=0, persistent_workers=False, batch_size=1)
    cfg.merge_from_dict(dict(work_dir=str(tmp_path / 'work'), load_from=ckpt, log_level='WARNING'))
    test_tool.enable_tta(cfg)
    assert cfg.model.module.type.endswith(('DACSSegmentor', 'DomainAdaptiveTeacher'))
    runner = Runner.from_cfg(cfg)
    return runner.test()


def test_tta_on_a_uda_segmentor(tmp_path, toy_root):
    cfg = Config.fromfile(SEG_CONFIG)
    assert cfg.tta_model.type == 'SegTTAModel' and cfg.tta_pipeline[-1]['type'] == 'TestTimeAug'
    metrics = _tta_test(SEG_CONFIG, 'mmseg', tmp_path, toy_root)
    assert 'mIoU' in metrics


def test_tta_on_a_uda_detector_without_tta_settings(tmp_path, toy_root):
    assert 'tta_model' not in Config.fromfile(DET_CONFIG)
    metrics = _tta_test(DET_CONFIG, 'mmdet', tmp_path, toy_root)
    assert 'coco/bbox_mAP' in metrics


# ------------------------------------------------------------------------------- train.py
def _args(**kwargs):
    return Namespace(**dict(dict(amp=False, resume=None, auto_scale_lr=False), **kwargs))


def test_auto_scale_lr():
    cfg = Config.fromfile(osp.join(ROOT, 'configs/uda_seg/daformer_mit-b5_1xb2-40k_gta2cs-512x512.py'))
    assert cfg.auto_scale_lr == dict(enable=False, base_batch_size=2)
    cfg = train_tool.apply_train_args(cfg, _args(auto_scale_lr=True))
    assert cfg.auto_scale_lr.enable and cfg.auto_scale_lr.base_batch_size == 2
    toy = Config.fromfile(osp.join(ROOT, 'configs/toy_uda/deeplabv3_r18-narrow_2k_toy-source.py'))
    with pytest.raises(ValueError, match=r'needs auto_scale_lr = dict\(base_batch_size=N\)'):
        train_tool.apply_train_args(toy, _args(auto_scale_lr=True))


@pytest.mark.skipif(torch.cuda.is_available(), reason='--amp runs where there is a GPU')
def test_amp_without_a_gpu_is_one_line_before_anything_is_built(tmp_path):
    result = subprocess.run([sys.executable, 'tools/train.py', SEG_CONFIG, '--amp', '--work-dir', str(tmp_path)],
                            cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].startswith('--amp needs a CUDA')
    assert 'Traceback' not in result.stderr and not os.listdir(tmp_path)  # no config dump, no log


# ------------------------------------------------------------------------------- tools/*.sh
def _find(env):
    return subprocess.run(['bash', '-c', 'source tools/find_python.sh && echo "PY=$PY"'], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def test_shell_launchers_find_the_virtualenv_or_say_how():
    bare = dict(os.environ, PATH='/usr/bin:/bin')
    bare.pop('PYTHON', None)
    venv = osp.dirname(osp.dirname(sys.executable))
    found = _find(dict(bare, VENV=venv))
    assert found.returncode == 0 and f'PY={venv}/bin/python' in found.stdout
    missing = _find(dict(bare, VENV='/nonexistent'))
    if 'PY=' in missing.stdout:  # a system python with torch, mmengine and mmcv
        pytest.skip('the system python has the stack')
    assert missing.returncode == 1 and 'tools/setup_env.sh' in missing.stderr and 'activate' in missing.stderr
    explicit = _find(dict(bare, PYTHON='/opt/my/python'))
    assert 'PY=/opt/my/python' in explicit.stdout
    for script in glob.glob(osp.join(ROOT, 'tools', '*_t*.sh')):
        if osp.basename(script).startswith(('dist_', 'slurm_')):
            text = open(script).read()
            assert 'find_python.sh' in text and '"$PY"' in text, script
