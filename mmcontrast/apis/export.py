"""Turn a trained wrapper (UDA segmentor, UDA detector, injector) into a stock mmseg/mmdet model.

The wrappers of this package hold a stock network under a prefix of their state dict:

- ``mmcontrast.DACSSegmentor``: the ``segmentor`` config; weights ``student.*`` and
  ``teacher.module.*``; by default the network of ``predict_on``.
- ``mmcontrast.DomainAdaptiveTeacher`` and mmdet's ``SemiBaseDetector`` family: the
  ``detector`` config; weights ``student.*`` and ``teacher.*``; by default
  ``semi_test_cfg.predict_on``.
- ``mmcontrast.ContrastiveInjector``: the ``model`` config; weights ``model.*``.

:func:`export_uda_model` writes that network as a stock config (``model.py``) and its
weights without the prefix (``model.pth``, with the classes and palette in
``meta['dataset_meta']``), so ``mmseg.apis.init_model`` / ``mmdet.apis.init_detector`` and
``inference_model`` / ``inference_detector`` load and run it like any model of their zoo.
"""
import copy
import logging
import os
import os.path as osp
from collections import OrderedDict
from typing import Any, Dict, NamedTuple, Optional, Tuple, Union

import torch
from mmengine.config import Config
from mmengine.logging import print_log
from mmengine.registry import DefaultScope, init_default_scope
from mmengine.runner import CheckpointLoader

# wrapper class name -> (task, key of the stock network, {model choice: state-dict prefix})
_WRAPPERS = {
    'DACSSegmentor': ('seg', 'segmentor', {'student': 'student.', 'teacher': 'teacher.module.'}),
    'DomainAdaptiveTeacher': ('det', 'detector', {'student': 'student.', 'teacher': 'teacher.'}),
    # mmdet's own semi-supervised detectors keep the same layout.
    'SemiBaseDetector': ('det', 'detector', {'student': 'student.', 'teacher': 'teacher.'}),
    'SoftTeacher': ('det', 'detector', {'student': 'student.', 'teacher': 'teacher.'}),
    'ContrastiveInjector': (None, 'model', {'model': 'model.'}),
}
_SCOPES = {'seg': 'mmseg', 'det': 'mmdet'}
# Keys of the source config that a stock test/inference config needs besides the model.
_RUNTIME_KEYS = ('test_dataloader', 'test_evaluator', 'visualizer', 'vis_backends', 'tta_model', 'tta_pipeline',
                 'env_cfg', 'log_level')


class ExportedModel(NamedTuple):
    """What :func:`export_uda_model` wrote.

    Attributes:
        config (str): Path of the stock config (``OUT_DIR/model.py``).
        checkpoint (str): Path of the weights (``OUT_DIR/model.pth``).
        task (str): ``'seg'`` or ``'det'``.
        model (str): Which network was exported (``'student'``, ``'teacher'`` or ``'model'``).
        num_tensors (int): Tensors written.
    """
    config: str
    checkpoint: str
    task: str
    model: str
    num_tensors: int


def wrapper_kind(model_cfg: dict) -> Optional[str]:
    """The wrapper class name of ``model_cfg`` (e.g. ``'DACSSegmentor'``), None for a stock model."""
    name = str(model_cfg.get('type', '')).split('.')[-1]
    return name if name in _WRAPPERS else None


def is_wrapper_config(cfg: Config) -> bool:
    """Whether ``cfg.model`` is one of the wrappers :func:`export_uda_model` unwraps."""
    return wrapper_kind(cfg.get('model', {})) is not None


def _load_config(config: Union[str, Config]) -> Config:
    return Config.fromfile(config) if isinstance(config, str) else copy.deepcopy(config)


def _task(cfg: Config, kind: str) -> str:
    task = _WRAPPERS[kind][0]
    if task is not None:
        return task
    scope = cfg.get('default_scope')
    inner = str(cfg.model.model.get('type', ''))
    if scope in ('mmseg', 'mmdet'):
        return 'seg' if scope == 'mmseg' else 'det'
    if inner.startswith(('mmseg.', 'mmdet.')):
        return 'seg' if inner.startswith('mmseg.') else 'det'
    raise ValueError(f'cannot tell whether the model wrapped by ContrastiveInjector ({inner!r}) is an mmseg or an '
                     "mmdet model: set default_scope='mmseg' or 'mmdet' in the config")


def _choose(model_cfg: dict, kind: str, model: Optional[str]) -> str:
    choices = _WRAPPERS[kind][2]
    if model is None:
        if kind == 'DACSSegmentor':
            model = model_cfg.get('predict_on', 'student')
        elif 'teacher' in choices:
            model = (model_cfg.get('semi_test_cfg') or {}).get('predict_on', 'teacher')
        else:
            model = 'model'
    if kind == 'ContrastiveInjector' and model in ('student', 'teacher'):
        raise ValueError(f'--model {model}: ContrastiveInjector wraps one model and has no teacher or student')
    if model not in choices:
        raise ValueError(f'{kind} holds the networks {sorted(choices)}, got --model {model!r}')
    return model


def _data_preprocessor(inner: dict, model_cfg: dict, cfg: Config) -> Optional[dict]:
    """The per-branch preprocessor: the network's own wins (as in the wrappers), then the wrapper's."""
    for candidate in (inner.get('data_preprocessor'), model_cfg.get('data_preprocessor'),
                      cfg.get('data_preprocessor')):
        if candidate is None:
            continue
        candidate = copy.deepcopy(dict(candidate))
        if 'MultiBranch' in str(candidate.get('type')):  # training-time wrapper around the real one
            candidate = copy.deepcopy(dict(candidate['data_preprocessor']))
        return candidate
    return None


def _innermost_dataset(dataset: dict) -> dict:
    """The dataset config that holds the pipeline, through wrappers (RepeatDataset, ConcatDataset)."""
    while 'pipeline' not in dataset:
        if 'dataset' in dataset:
            dataset = dataset['dataset']
        elif dataset.get('datasets'):
            dataset = dataset['datasets'][0]
        else:
            break
    return dataset


def stock_model_config(config: Union[str, Config], model: Optional[str] = None) -> Tuple[Config, str, str, str]:
    """The stock mmseg/mmdet config of the network a wrapper config trains.

    Args:
        config (str | Config): A config whose ``model`` is a wrapper (see the module docstring).
        model (str, optional): ``'student'`` or ``'teacher'`` (``'model'`` for the injector).
            Defaults to None: the network the wrapper predicts with.

    Returns:
        tuple: ``(stock config, state-dict prefix of that network, task ('seg' | 'det'), model)``.

    Raises:
        ValueError: If the config's model is not a wrapper, or ``model`` is not one it holds.
    """
    cfg = _load_config(config)
    model_cfg = cfg.get('model')
    kind = wrapper_kind(model_cfg or {})
    if kind is None:
        name = getattr(config, 'filename', None) or config
        raise ValueError(f'{name}: model.type={model_cfg.get("type") if model_cfg else None!r} is not a wrapper '
                         f'({", ".join(sorted(_WRAPPERS))}); a stock config loads with init_model/init_detector '
                         'as it is')
    task = _task(cfg, kind)
    chosen = _choose(model_cfg, kind, model)
    inner = copy.deepcopy(dict(model_cfg[_WRAPPERS[kind][1]]))
    preprocessor = _data_preprocessor(inner, model_cfg, cfg)
    if preprocessor is not None:
        inner['data_preprocessor'] = preprocessor
    # The trained weights come from model.pth: no ImageNet download when the model is built.
    inner.pop('pretrained', None)
    if isinstance(inner.get('backbone'), dict) and 'init_cfg' in inner['backbone']:
        inner['backbone']['init_cfg'] = None
    out = dict(default_scope=_SCOPES[task], model=inner)
    for key in _RUNTIME_KEYS:
        if key in cfg:
            out[key] = copy.deepcopy(cfg[key])
    out['test_cfg'] = dict(type='TestLoop')
    if 'test_dataloader' in out:
        dataset = _innermost_dataset(out['test_dataloader']['dataset'])
        if 'pipeline' in dataset:
            # mmseg's inference_model reads cfg.test_pipeline; labels are not there at inference.
            out['test_pipeline'] = [
                t for t in copy.deepcopy(dataset['pipeline']) if 'LoadAnnotations' not in str(t.get('type'))
            ]
    if 'mmcontrast' in str(out):
        # Our heads/datasets (e.g. mmcontrast.DAFormerHead) must be registered when the file is read.
        out['custom_imports'] = dict(imports=['mmcontrast'], allow_failed_imports=False)
    return Config(out), _WRAPPERS[kind][2][chosen], task, chosen


def exported_state_dict(state_dict: Dict[str, torch.Tensor], prefix: str,
                        source: str = 'checkpoint') -> 'OrderedDict[str, torch.Tensor]':
    """The tensors under ``prefix``, with the prefix removed.

    Args:
        state_dict (dict): The wrapper's state dict.
        prefix (str): e.g. ``'teacher.module.'``.
        source (str): Name of the checkpoint, for the error message. Defaults to 'checkpoint'.

    Returns:
        OrderedDict: The stock network's state dict.

    Raises:
        KeyError: If no key starts with ``prefix``; the message lists the top-level names found.
    """
    out = OrderedDict((k[len(prefix):], v) for k, v in state_dict.items() if k.startswith(prefix))
    if not out:
        found = sorted({k.split('.')[0] for k in state_dict})
        raise KeyError(f'{source}: no key starts with {prefix!r}; its top-level names are {found}. Is it a '
                       'checkpoint of this config?')
    return out


def _plain(value: Any) -> Any:
    """Metainfo as builtins only, so that the checkpoint loads with ``weights_only=True``."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, 'tolist'):  # numpy arrays and scalars
        return value.tolist()
    return value


def _dataset_meta(stock: Config, meta: dict, task: str) -> Optional[dict]:
    """Classes and palette: from the checkpoint's meta, else from the test dataset's metainfo."""
    if meta.get('dataset_meta'):
        return _plain(dict(meta['dataset_meta']))
    if 'test_dataloader' not in stock:
        return None
    dataset_cfg = copy.deepcopy(_innermost_dataset(stock.test_dataloader.dataset))
    dataset_cfg['lazy_init'] = True  # metainfo only: no annotation file is read
    try:
        with DefaultScope.overwrite_default_scope(_SCOPES[task]):
            from mmengine.registry import DATASETS
            return _plain(dict(DATASETS.build(dataset_cfg).metainfo))
    except Exception as err:  # a dataset that needs files even lazily: classes stay unknown
        print_log(f'export: no dataset_meta in the checkpoint and the test dataset cannot be built '
                  f'({type(err).__name__}: {err}); the exported checkpoint has no class names',
                  logger='current', level=logging.WARNING)
        return None


def _check_loads(stock: Config, state_dict: Dict[str, torch.Tensor], task: str, source: str) -> None:
    """Build the stock network and load ``state_dict`` strictly; name any key that does not fit."""
    from mmengine.registry import MODELS
    if 'custom_imports' in stock:
        import mmcontrast.models  # noqa: F401  (registers the mmcontrast.* types)
    init_default_scope(_SCOPES[task])
    model_cfg = copy.deepcopy(stock.model)
    model = MODELS.build(model_cfg)
    missing, unexpected = model.load_state_dict(state_dict, strict=False)
    if missing or unexpected:
        raise KeyError(f'{source}: the exported weights do not fit the stock {model_cfg.get("type")} config: '
                       f'{len(missing)} missing keys {missing[:8]}, {len(unexpected)} unexpected keys '
                       f'{unexpected[:8]}')


def export_uda_model(config: Union[str, Config],
                     checkpoint: str,
                     out_dir: str,
                     model: Optional[str] = None,
                     check: bool = True) -> ExportedModel:
    """Write ``OUT_DIR/model.py`` (stock config) and ``OUT_DIR/model.pth`` (its weights).

    Args:
        config (str | Config): The wrapper config the checkpoint was trained with.
        checkpoint (str): The wrapper's checkpoint (path or URL).
        out_dir (str): Output folder (created).
        model (str, optional): ``'student'`` or ``'teacher'``. Defaults to None: the
            network the config predicts with (``predict_on``).
        check (bool): Build the stock network and load the weights strictly before
            writing. Defaults to True.

    Returns:
        ExportedModel: Paths, task, exported network and number of tensors.
    """
    stock, prefix, task, chosen = stock_model_config(config, model)
    ckpt = CheckpointLoader.load_checkpoint(checkpoint, map_location='cpu')
    state = ckpt.get('state_dict', ckpt) if isinstance(ckpt, dict) else ckpt
    weights = exported_state_dict(state, prefix, source=checkpoint)
    if check:
        _check_loads(stock, weights, task, checkpoint)
    meta = dict(exported_from=dict(
        config=osp.basename(getattr(config, 'filename', None) or str(config)), checkpoint=osp.basename(checkpoint),
        model=chosen, prefix=prefix))
    dataset_meta = _dataset_meta(stock, ckpt.get('meta') or {}, task) if isinstance(ckpt, dict) else None
    if dataset_meta:
        meta['dataset_meta'] = dataset_meta
    os.makedirs(out_dir, exist_ok=True)
    config_path, weights_path = osp.join(out_dir, 'model.py'), osp.join(out_dir, 'model.pth')
    stock.dump(config_path)
    torch.save(dict(state_dict=weights, meta=meta), weights_path)
    return ExportedModel(config_path, weights_path, task, chosen, len(weights))
