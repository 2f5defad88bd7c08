"""Registries of mmcontrast.

Each one is a child of the matching mmengine root registry, so that configs with
``default_scope='mmdet'`` or ``'mmseg'`` reach our classes as ``type='mmcontrast.X'``:
the scoped lookup imports this module, and ``locations`` imports the modules that
register into it.
"""
from mmengine.registry import DATA_SAMPLERS as MMENGINE_DATA_SAMPLERS
from mmengine.registry import DATASETS as MMENGINE_DATASETS
from mmengine.registry import HOOKS as MMENGINE_HOOKS
from mmengine.registry import LOG_PROCESSORS as MMENGINE_LOG_PROCESSORS
from mmengine.registry import LOOPS as MMENGINE_LOOPS
from mmengine.registry import METRICS as MMENGINE_METRICS
from mmengine.registry import MODEL_WRAPPERS as MMENGINE_MODEL_WRAPPERS
from mmengine.registry import MODELS as MMENGINE_MODELS
from mmengine.registry import OPTIM_WRAPPER_CONSTRUCTORS as MMENGINE_OPTIM_WRAPPER_CONSTRUCTORS
from mmengine.registry import TRANSFORMS as MMENGINE_TRANSFORMS
from mmengine.registry import VISUALIZERS as MMENGINE_VISUALIZERS
from mmengine.registry import Registry

_SCOPE = 'mmcontrast'

MODELS = Registry('model', parent=MMENGINE_MODELS, scope=_SCOPE, locations=['mmcontrast.models'])
MODEL_WRAPPERS = Registry(
    'model_wrapper', parent=MMENGINE_MODEL_WRAPPERS, scope=_SCOPE, locations=['mmcontrast.models'])
DATASETS = Registry('dataset', parent=MMENGINE_DATASETS, scope=_SCOPE, locations=['mmcontrast.datasets'])
DATA_SAMPLERS = Registry(
    'data sampler', parent=MMENGINE_DATA_SAMPLERS, scope=_SCOPE, locations=['mmcontrast.datasets'])
TRANSFORMS = Registry('transform', parent=MMENGINE_TRANSFORMS, scope=_SCOPE, locations=['mmcontrast.datasets'])
HOOKS = Registry('hook', parent=MMENGINE_HOOKS, scope=_SCOPE, locations=['mmcontrast.engine'])
LOOPS = Registry('loop', parent=MMENGINE_LOOPS, scope=_SCOPE, locations=['mmcontrast.engine'])
LOG_PROCESSORS = Registry(
    'log_processor', parent=MMENGINE_LOG_PROCESSORS, scope=_SCOPE, locations=['mmcontrast.engine'])
OPTIM_WRAPPER_CONSTRUCTORS = Registry(
    'optimizer wrapper constructor',
    parent=MMENGINE_OPTIM_WRAPPER_CONSTRUCTORS,
    scope=_SCOPE,
    locations=['mmcontrast.engine'])
METRICS = Registry('metric', parent=MMENGINE_METRICS, scope=_SCOPE, locations=['mmcontrast.evaluation'])
VISUALIZERS = Registry(
    'visualizer', parent=MMENGINE_VISUALIZERS, scope=_SCOPE, locations=['mmcontrast.visualization'])
