"""Every self-supervised config parses, builds its model and matches its OpenMMLab name."""
import glob
import os.path as osp
import re

import pytest
from mmengine.config import Config

from mmcontrast.registry import MODELS
from mmcontrast.utils.scope import build_in_scope

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
CONFIGS = sorted(glob.glob(osp.join(ROOT, 'configs/selfsup/*/*.py')))
# {algorithm}_{backbone}_{gpus}xb{batch}-{schedule}-{epochs}e_{dataset}.py
NAME = re.compile(r'^[a-z0-9-]+_resnet(18|50)(-w16)?_(\d+)xb(\d+)-coslr-(\d+)e_(cifar10|cifar100|in100|in1k|toycls)\.py$')


def _rel(path: str) -> str:
    return osp.relpath(path, osp.join(ROOT, 'configs/selfsup'))


def test_configs_found():
    assert len(CONFIGS) >= 40, CONFIGS


@pytest.mark.parametrize('path', CONFIGS, ids=_rel)
def test_config_builds_and_matches_its_name(path):
    match = NAME.match(osp.basename(path))
    assert match, f'{_rel(path)} does not follow the naming scheme'
    depth, _, _, batch, epochs, _ = match.groups()
    cfg = Config.fromfile(path)
    assert cfg.train_dataloader.batch_size == int(batch), 'batch per GPU differs from the name'
    assert cfg.train_cfg.max_epochs == int(epochs), 'epochs differ from the name'
    assert cfg.param_scheduler[-1].end == int(epochs), 'the cosine schedule ends before or after training'
    assert cfg.model.backbone.depth == int(depth)
    model = build_in_scope(cfg.model) if 'type' in cfg.model else MODELS.build(cfg.model)
    assert hasattr(model, 'backbone')


def _toy(method: str) -> Config:
    return Config.fromfile(glob.glob(osp.join(ROOT, f'configs/selfsup/{method}/*_toycls.py'))[0])


def test_toy_recipe_choices():
    # measured in configs/selfsup/README.md: a long queue or a BN-free projector kept the toy
    # MoCo loss at chance on some seeds; PAUC's correlation term is degenerate on the toy.
    for method in ('mocov2', 'protonce', 'pauc', 'ascl'):
        model = _toy(method).model
        assert model.queue_len == 128 and model.neck.with_bn, method
    assert _toy('pauc').model.head.corr_weight == 0
    real = Config.fromfile(osp.join(ROOT, 'configs/selfsup/pauc/pauc_resnet50_8xb32-coslr-200e_in1k.py'))
    assert real.model.head.get('corr_weight', 1.0) == 1.0
