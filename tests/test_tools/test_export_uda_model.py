"""Export of UDA checkpoints to stock mmseg/mmdet inference, and the image demo.

A UDA model is built from the shipped toy configs and saved as a Runner would (state dict +
``meta.dataset_meta``); tools/model_converters/export_uda_model.py writes ``model.py`` and
``model.pth``, which ``mmseg.apis.init_model`` / ``mmdet.apis.init_detector`` load and
``inference_model`` / ``inference_detector`` run.
"""
import glob
import importlib.util
import os.path as osp
import sys

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope

import mmcontrast.models  # noqa: F401
from mmcontrast.apis import export_uda_model, stock_model_config
from mmcontrast.datasets.toy_uda import TOY_SEG_CLASSES, ensure_toy_uda
from mmcontrast.registry import MODELS

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SEG_CONFIG = osp.join(ROOT, 'configs/uda_seg/dacs_deeplabv3-r18-narrow_2k_toy-src2tgt.py')
DET_CONFIG = osp.join(ROOT, 'configs/uda_det/mean-teacher_faster-rcnn_r18-narrow-fpn_1k_toy-src2tgt.py')


def _load(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


export_tool = _load(osp.join(ROOT, 'tools/model_converters/export_uda_model.py'), '_export_uda_model')
demo = _load(osp.join(ROOT, 'demo/image_demo.py'), '_image_demo')


@pytest.fixture(scope='module')
def toy_root(tmp_path_factory):
    return ensure_toy_uda(str(tmp_path_factory.mktemp('toy') / 'toy_uda'), num_train=2, num_val=2)


def _checkpoint(config, scope, path, dataset_meta):
    cfg = Config.fromfile(config)
    with DefaultScope.overwrite_default_scope(scope):
        model = MODELS.build(cfg.model)
    # Make teacher and student differ, as after training.
    with torch.no_grad():
        for p in model.student.parameters():
            p.add_(0.01)
    torch.save(dict(state_dict=model.state_dict(), meta=dict(dataset_meta=dataset_meta)), path)
    return model


def test_segmentation_export_runs_with_stock_mmseg(tmp_path, toy_root, capsys):
    from mmseg.apis import inference_model, init_model
    ckpt = str(tmp_path / 'uda.pth')
    meta = dict(classes=list(TOY_SEG_CLASSES), palette=[[i * 30, 0, 0] for i in range(len(TOY_SEG_CLASSES))])
    uda = _checkpoint(SEG_CONFIG, 'mmseg', ckpt, meta)
    assert export_tool.main([SEG_CONFIG, ckpt, str(tmp_path / 'teacher'), '--model', 'teacher']) == 0
    assert 'wrote the teacher' in capsys.readouterr().out
    assert export_tool.main([SEG_CONFIG, ckpt, str(tmp_path / 'student')]) == 0  # default: predict_on=student
    img = sorted(glob.glob(osp.join(toy_root, 'target/images/val/*.png')))[0]
    for which, module in (('teacher', uda.teacher.module), ('student', uda.student)):
        cfg = Config.fromfile(str(tmp_path / which / 'model.py'))
        assert cfg.model.type == 'EncoderDecoder' and cfg.default_scope == 'mmseg'
        assert 'LoadAnnotations' not in str(cfg.test_pipeline)
        model = init_model(str(tmp_path / which / 'model.py'), str(tmp_path / which / 'model.pth'), device='cpu')
        for key, value in module.state_dict().items():
            assert torch.equal(model.state_dict()[key], value), (which, key)
        assert model.dataset_meta['classes'] == list(TOY_SEG_CLASSES)
        result = inference_model(model, img)
        assert result.pred_sem_seg.data.shape == (1, 128, 256)


def test_detection_export_runs_with_stock_mmdet(tmp_path, toy_root):
    from mmdet.apis import inference_detector, init_detector
    ckpt = str(tmp_path / 'uda.pth')
    uda = _checkpoint(DET_CONFIG, 'mmdet', ckpt, dict(classes=['person', 'car'], palette=[[220, 20, 60], [0, 0, 142]]))
    out = export_uda_model(DET_CONFIG, ckpt, str(tmp_path / 'out'))
    assert out.model == 'teacher' and out.task == 'det'  # semi_test_cfg.predict_on
    model = init_detector(out.config, out.checkpoint, device='cpu')
    assert type(model).__name__ == 'FasterRCNN' and model.dataset_meta['classes'] == ['person', 'car']
    for key, value in uda.teacher.state_dict().items():
        assert torch.equal(model.state_dict()[key], value), key
    img = sorted(glob.glob(osp.join(toy_root, 'target/images/val/*.png')))[0]
    result = inference_detector(model, img)
    assert result.pred_instances.bboxes.shape[1] == 4


def test_injector_export_and_refusals(tmp_path):
    cfg = Config(dict(default_scope='mmseg', model=dict(
        type='mmcontrast.ContrastiveInjector', model=dict(type='EncoderDecoder', backbone=dict(type='ResNetV1c')),
        terms=[])))
    stock, prefix, task, which = stock_model_config(cfg)
    assert (prefix, task, which) == ('model.', 'seg', 'model') and stock.model.type == 'EncoderDecoder'
    with pytest.raises(ValueError, match='has no teacher or student'):
        stock_model_config(cfg, 'teacher')
    with pytest.raises(ValueError, match='is not a wrapper'):
        stock_model_config(osp.join(ROOT, 'configs/toy_uda/deeplabv3_r18-narrow_2k_toy-source.py'))
    torch.save(dict(state_dict={'backbone.conv1.weight': torch.zeros(1)}), str(tmp_path / 'stock.pth'))
    with pytest.raises(KeyError, match="no key starts with 'student.'.*'backbone'"):
        export_uda_model(SEG_CONFIG, str(tmp_path / 'stock.pth'), str(tmp_path / 'out'))
    assert export_tool.main([SEG_CONFIG, str(tmp_path / 'stock.pth'), str(tmp_path / 'out')]) == 1


@pytest.mark.parametrize('config,scope', [(SEG_CONFIG, 'mmseg'), (DET_CONFIG, 'mmdet')])
def test_image_demo_writes_an_overlay(config, scope, tmp_path, toy_root):
    ckpt = str(tmp_path / 'uda.pth')
    _checkpoint(config, scope, ckpt, None)
    img = sorted(glob.glob(osp.join(toy_root, 'target/images/val/*.png')))[0]
    out = str(tmp_path / 'overlay.png')
    assert demo.main([img, config, ckpt, '--out-file', out, '--score-thr', '0']) == 0
    import mmcv
    overlay = mmcv.imread(out)
    assert overlay.shape[:2] == (128, 256)


def test_extract_backbone_names_what_it_wrote(tmp_path, monkeypatch, capsys):
    """A whole segmentor selected by --prefix is not reported as "backbone tensors"."""
    tool = _load(osp.join(ROOT, 'tools/model_converters/extract_backbone.py'), '_extract_backbone')
    state = {'student.backbone.conv1.weight': torch.zeros(1), 'student.decode_head.conv_seg.weight': torch.zeros(1),
             'teacher.module.backbone.conv1.weight': torch.zeros(1), 'backbone.conv1.weight': torch.zeros(1)}
    torch.save(dict(state_dict=state), str(tmp_path / 'uda.pth'))
    monkeypatch.setattr(sys, 'argv', ['x', str(tmp_path / 'uda.pth'), str(tmp_path / 'a.pth'), '--prefix', 'student.'])
    tool.main()
    out = capsys.readouterr().out
    assert 'backbone tensors' not in out and 'model tensors (backbone, decode_head)' in out
    monkeypatch.setattr(sys, 'argv', ['x', str(tmp_path / 'uda.pth'), str(tmp_path / 'b.pth')])
    tool.main()
    assert 'wrote 1 backbone tensors' in capsys.readouterr().out
