"""Labelled source + unlabelled target detection data for the mean teacher, from a stock pipeline."""
import copy
from typing import List, Optional, Sequence, Union

from mmengine.dataset import BaseDataset, ConcatDataset
from mmengine.registry import DefaultScope

from mmcontrast.registry import DATASETS

BRANCHES = ['sup', 'unsup_teacher', 'unsup_student']
# What DomainAdaptiveTeacher reads of each target view (homography_matrix moves boxes between them).
VIEW_META_KEYS = ('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor', 'flip', 'flip_direction',
                  'homography_matrix')
# mmdet's semi-supervised colour space (configs/_base_/datasets/semi_coco_detection.py).
COLOR_SPACE = [[dict(type=t)] for t in ('ColorTransform', 'AutoContrast', 'Equalize', 'Sharpness', 'Posterize',
                                         'Solarize', 'Color', 'Contrast', 'Brightness')]
DEFAULT_STRONG = [
    dict(type='RandAugment', aug_space=COLOR_SPACE, aug_num=2),
    dict(type='RandomErasing', n_patches=(1, 5), ratio=(0, 0.2)),
    dict(type='FilterAnnotations', min_gt_bbox_wh=(1e-2, 1e-2)),
]


def _name(transform: dict) -> str:
    return str(transform.get('type', '')).split('.')[-1]


def mean_teacher_pipelines(pipeline: Sequence[dict], strong: Sequence[dict] = DEFAULT_STRONG) -> tuple:
    """The source and target pipelines of mmdet's ``MultiBranch`` from one stock training pipeline.

    A stock pipeline is ``[load image, load annotations, <transforms>, pack]``:

    - source (``sup`` branch): the same pipeline, packed in the ``sup`` branch;
    - target: load image, ``LoadEmptyAnnotations``, then two views of ``<transforms>``:
      ``unsup_teacher`` (weak) and ``unsup_student`` (``<transforms>`` + ``strong``: colour
      RandAugment, random erasing, as mmdet's semi-supervised recipe), each packed with
      the meta keys the mean teacher reads.

    Args:
        pipeline (Sequence[dict]): The stock training pipeline.
        strong (Sequence[dict]): Transforms added to the strong view. Defaults to
            colour RandAugment (2 ops), RandomErasing, FilterAnnotations.

    Returns:
        tuple: ``(source pipeline, target pipeline)``.

    Raises:
        ValueError: If the pipeline does not end with a Pack transform or has no loader.
    """
    pipeline = [dict(t) for t in copy.deepcopy(list(pipeline))]
    if not pipeline or not _name(pipeline[-1]).startswith('Pack'):
        raise ValueError(f'the stock training pipeline must end with PackDetInputs, got '
                         f'{[_name(t) for t in pipeline]}')
    loads = [t for t in pipeline if _name(t).startswith('LoadImage')]
    if not loads:
        raise ValueError(f'the stock training pipeline has no LoadImageFromFile: {[_name(t) for t in pipeline]}')
    pack = pipeline[-1]
    middle = [t for t in pipeline[:-1] if not _name(t).startswith(('LoadImage', 'LoadAnnotations'))]
    annotations = [t for t in pipeline if _name(t) == 'LoadAnnotations']
    source = [*loads, *annotations, *middle, dict(type='MultiBranch', branch_field=BRANCHES, sup=pack)]
    view_pack = dict(pack, meta_keys=VIEW_META_KEYS)
    weak = [*copy.deepcopy(middle), view_pack]
    strong_view = [*copy.deepcopy(middle), *copy.deepcopy(list(strong)), copy.deepcopy(view_pack)]
    target = [*copy.deepcopy(loads), dict(type='LoadEmptyAnnotations'),
              dict(type='MultiBranch', branch_field=BRANCHES, unsup_teacher=weak, unsup_student=strong_view)]
    return source, target


@DATASETS.register_module()
class UDADetDataset(ConcatDataset):
    """``ConcatDataset([source, target])`` for :class:`mmcontrast.DomainAdaptiveTeacher`.

    Bring your own data (docs/byo_data.md): over a stock mmdet config,
    ``train_dataloader = dict(dataset=dict(type='mmcontrast.UDADetDataset', source=..., target=...))``
    keeps the stock dataset's keys (its ``pipeline``, ``filter_cfg``, ...) as defaults of both
    and turns the stock training pipeline into the mean teacher's branches
    (:func:`mean_teacher_pipelines`). The target's ``filter_cfg`` defaults to keeping images
    without boxes (its labels are not read). Batches need mmdet's
    ``GroupMultiSourceSampler`` (``source_ratio=[1, 1]``), which reads ``cumulative_sizes``.

    Args:
        source (dict | BaseDataset): Labelled source dataset (config). A config with its
            own ``pipeline`` keeps it.
        target (dict | BaseDataset): Target dataset (config); its boxes are not used.
        pipeline (list[dict], optional): The stock training pipeline. Defaults to None
            (then ``source`` and ``target`` must have their own).
        strong (list[dict], optional): Extra transforms of the strong target view.
            Defaults to None (:data:`DEFAULT_STRONG`).
        **dataset_defaults: Dataset config keys shared by both (``data_root``,
            ``metainfo``, ...); ``type`` defaults to ``'CocoDataset'``.
    """

    def __init__(self,
                 source: Union[dict, BaseDataset],
                 target: Union[dict, BaseDataset],
                 pipeline: Optional[List[dict]] = None,
                 strong: Optional[List[dict]] = None,
                 **dataset_defaults) -> None:
        dataset_defaults.pop('lazy_init', None)
        datasets = []
        branch_pipelines = mean_teacher_pipelines(pipeline, strong or DEFAULT_STRONG) if pipeline else (None, None)
        for role, cfg, branch_pipeline in zip(('source', 'target'), (source, target), branch_pipelines):
            if isinstance(cfg, dict):
                cfg = {'type': 'CocoDataset', **copy.deepcopy(dataset_defaults), **dict(cfg)}
                if 'pipeline' not in cfg:
                    if branch_pipeline is None:
                        raise ValueError(f'UDADetDataset: the {role} dataset has no pipeline and no stock pipeline '
                                         'was given (pipeline=...)')
                    cfg['pipeline'] = branch_pipeline
                if role == 'target' and 'filter_cfg' not in dict(target):
                    cfg['filter_cfg'] = dict(filter_empty_gt=False)
                from mmdet.registry import DATASETS as MMDET_DATASETS
                with DefaultScope.overwrite_default_scope('mmdet'):
                    cfg = MMDET_DATASETS.build(cfg)
            datasets.append(cfg)
        super().__init__(datasets)
