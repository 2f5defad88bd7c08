import pytest
from mmengine.registry import DefaultScope


@pytest.fixture(autouse=True)
def _isolate_default_scope():
    """Each test starts with the default registry scope it found, whatever the last one set.

    ``init_default_scope`` is process-global; without this a test that trains an mmdet model
    decides in which registry a later mmseg test looks its types up.
    """
    saved = dict(DefaultScope._instance_dict)
    yield
    DefaultScope._instance_dict = saved
