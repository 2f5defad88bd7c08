import copy

import mmdet.registry
import mmseg.registry
import pytest
from mmengine.registry import MODELS, DefaultScope, init_default_scope

import mmcontrast.models.losses as losses

BUILD_ARGS = {'RankedSupConLoss': dict(class_ranking={0: [[0], [1]]})}
MODULES = [
    'PCLLoss', 'ClassPCLLoss', 'PixelPCLLoss', 'InfoNCELoss', 'SupConLoss', 'ProtoNCELoss', 'PAUCLoss', 'ASCLLoss',
    'DimCLLoss', 'RankedSupConLoss'
]


@pytest.fixture(autouse=True)
def _restore_scope():
    # init_default_scope changes global state: restore it as
    # DefaultScope.overwrite_default_scope does, so other tests see no leftover scope.
    saved = copy.copy(DefaultScope._instance_dict)
    yield
    DefaultScope._instance_dict = saved


def test_every_loss_and_function_is_exported():
    for name in MODULES:
        assert name in losses.__all__
    for fn in ('pcl_loss', 'class_pcl_loss', 'pixel_pcl_loss', 'info_nce_loss', 'supcon_loss', 'proto_nce_loss',
               'pauc_loss', 'ascl_loss', 'ascl_byol_loss', 'dimcl_loss', 'ranked_supcon_loss'):
        assert callable(getattr(losses, fn))


@pytest.mark.parametrize('scope, registry', [('mmseg', mmseg.registry.MODELS), ('mmdet', mmdet.registry.MODELS),
                                             ('mmseg', MODELS), ('mmdet', MODELS)])
def test_build_from_upstream_scope(scope, registry):
    init_default_scope(scope)
    built = registry.build(dict(type='mmcontrast.PCLLoss', scale=20.0, loss_weight=0.3))
    assert isinstance(built, losses.PCLLoss) and built.scale == 20.0 and built.loss_weight == 0.3
    for name in MODULES:
        module = registry.build(dict(type=f'mmcontrast.{name}', **BUILD_ARGS.get(name, {})))
        assert isinstance(module, getattr(losses, name))
