import pytest
from mmengine.registry import DefaultScope, init_default_scope
from mmseg.registry import MODELS as MMSEG_MODELS

from mmcontrast.utils.scope import build_in_scope

_SEGMENTOR = dict(
    type='EncoderDecoder',
    backbone=dict(type='ResNetV1c', depth=18, base_channels=8, stem_channels=8, num_stages=2,
                  strides=(1, 2), dilations=(1, 1), out_indices=(1, )),
    decode_head=dict(type='FCNHead', in_channels=16, channels=8, num_convs=1, num_classes=3,
                     in_index=0))


@pytest.fixture
def mmdet_scope():
    # Another library's default scope left behind, as in a process that trained a detector
    # (tests/conftest.py restores the scope afterwards).
    init_default_scope('mmdet')


def test_nested_upstream_types_resolve_in_the_given_scope(mmdet_scope):
    with pytest.raises(KeyError, match='EncoderDecoder'):
        MMSEG_MODELS.build(_SEGMENTOR)
    model = build_in_scope(_SEGMENTOR, 'mmseg', MMSEG_MODELS)
    assert type(model.backbone).__name__ == 'ResNetV1c'
    assert DefaultScope.get_current_instance().scope_name == 'mmdet'


def test_our_types_resolve_by_default(mmdet_scope):
    loss = build_in_scope(dict(type='PCLLoss', scale=20.0))
    assert type(loss).__name__ == 'PCLLoss' and loss.scale == 20.0
    assert build_in_scope(None) is None
