"""Every config in configs/uda_seg loads and its model builds (no weights are loaded)."""
from pathlib import Path
from unittest import mock

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope

from mmcontrast.registry import MODELS

CONFIG_DIR = Path(__file__).parents[3] / 'configs' / 'uda_seg'
CONFIGS = sorted(CONFIG_DIR.glob('*.py'))


def test_the_expected_configs_exist():
    names = {p.name for p in CONFIGS}
    for method in ('daformer', 'daformer-pcl'):
        for model in ('deeplabv2red-r101-d8', 'mit-b5'):
            for task in ('gta2cs', 'synthia2cs'):
                assert f'{method}_{model}_1xb2-40k_{task}-512x512.py' in names
    assert 'daformer-fcl_deeplabv2red-r101-d8_1xb2-40k_gta2cs-512x512.py' in names
    assert 'daformer_segformer-mit-b5_1xb2-40k_gta2cs-512x512.py' in names
    for method in ('dacs', 'dacs-pcl', 'dacs-fcl'):
        assert f'{method}_deeplabv3-r18-narrow_2k_toy-src2tgt.py' in names


@pytest.mark.parametrize('path', CONFIGS, ids=[p.stem for p in CONFIGS])
def test_config_builds(path):
    cfg = Config.fromfile(str(path))
    model_cfg = cfg.model
    assert model_cfg.type == 'mmcontrast.DACSSegmentor'
    assert cfg.train_dataloader.dataset.type == 'mmcontrast.UDADataset'
    seg = model_cfg.segmentor
    seg.pretrained = None
    seg.backbone.init_cfg = None
    real = 'toy' not in path.stem
    if real:
        assert cfg.optim_wrapper.optimizer.type == 'AdamW' and cfg.optim_wrapper.optimizer.lr == 6e-5
        assert cfg.train_cfg.max_iters == 40000 and cfg.train_dataloader.batch_size == 2
        hrda = 'hrda' in path.stem  # full-resolution HRDA / MIC(HRDA): 1024x1024 crops
        assert seg.data_preprocessor.size == ((1024, 1024) if hrda else (512, 512))
        weight = 0.008 if 'synthia' in path.stem else 0.01
        if 'pcl' in path.stem:  # EHTDI configs/gta5.yaml and synthia.yaml NCE_weight
            losses = model_cfg.contrast.losses
            assert losses.class_pcl.loss_weight == weight and losses.pixel_pcl.loss_weight == weight
            assert model_cfg.contrast.views.type == 'mmcontrast.EHTDIViews' and losses.pixel_pcl.max_pixels is None
        # The DAFormer recipe; no best-checkpoint selection on the target val set.
        assert model_cfg.teacher.type == 'mmcontrast.DAFormerTeacher' and model_cfg.teacher.alpha == 0.999
        assert model_cfg.predict_on == 'student' and cfg.default_hooks.checkpoint.save_best is None
        head = seg.decode_head
        if 'deeplabv2red' in path.stem:
            assert tuple(head.dilations) == (6, 12)
        head_type = 'mmcontrast.HRDAHead' if hrda else 'mmcontrast.DAFormerHead'
        assert (head.type == head_type) == ('_mit-b5_' in path.name)
        if 'synthia' in path.stem:
            assert cfg.val_evaluator.type == 'mmcontrast.SubsetIoUMetric'
    # Meta tensors make building the big models free; MiT reads its drop-path rates with
    # .item(), so torch.linspace keeps making CPU tensors.
    cpu_linspace = torch.linspace
    with DefaultScope.overwrite_default_scope('mmseg'), torch.device('meta'), mock.patch.object(
            torch, 'linspace', lambda *args, **kwargs: cpu_linspace(*args, **dict(kwargs, device='cpu'))):
        model = MODELS.build(model_cfg)
    params = sum(p.numel() for p in model.student.parameters())
    expected = {'deeplabv2': (40e6, 50e6), 'mit-b5': (80e6, 90e6), 'toy': (0.5e6, 5e6)}
    low, high = next(v for k, v in expected.items() if k in path.stem)
    assert low < params < high, params
    assert ('class_pcl' in model.contrast_losses) == ('pcl' in path.stem.split('_')[0])
    assert ('fcl' in model.contrast_losses) == ('fcl' in path.stem.split('_')[0])
    assert (model.feature_dist is not None) == real
