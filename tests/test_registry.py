"""``type='mmcontrast.X'`` resolves from mmdet/mmseg scopes with no explicit import."""
import subprocess
import sys
import textwrap

import pytest

from mmcontrast import registry


def _run(code: str) -> str:
    result = subprocess.run([sys.executable, '-c', textwrap.dedent(code)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


@pytest.mark.parametrize('scope', ['mmdet', 'mmseg'])
def test_scoped_model_lookup_needs_no_import(scope):
    out = _run(f"""
        import sys
        from mmengine.registry import init_default_scope
        from {scope}.registry import MODELS
        init_default_scope('{scope}')
        assert 'mmcontrast' not in sys.modules
        loss = MODELS.build(dict(type='mmcontrast.PCLLoss', scale=20.0))
        print(type(loss).__module__, loss.scale)
        # Unscoped names stay in the upstream registry.
        print(MODELS.get('PCLLoss'))
    """)
    assert out.split() == ['mmcontrast.models.losses.pcl', '20.0', 'None']


def test_registries_are_children_of_mmengine_roots():
    from mmengine import registry as mmengine_registry
    pairs = {
        registry.MODELS: mmengine_registry.MODELS,
        registry.DATASETS: mmengine_registry.DATASETS,
        registry.TRANSFORMS: mmengine_registry.TRANSFORMS,
        registry.HOOKS: mmengine_registry.HOOKS,
        registry.METRICS: mmengine_registry.METRICS,
        registry.DATA_SAMPLERS: mmengine_registry.DATA_SAMPLERS,
        registry.MODEL_WRAPPERS: mmengine_registry.MODEL_WRAPPERS,
        registry.LOOPS: mmengine_registry.LOOPS,
    }
    for child, parent in pairs.items():
        assert child.parent is parent
        assert child.scope == 'mmcontrast'
        assert parent._children['mmcontrast'] is child
