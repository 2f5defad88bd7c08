"""Source/target pairing for UDA segmentation training, with optional rare class sampling."""
import copy
import glob
import json
import logging
import os.path as osp
from collections import defaultdict
from functools import partial
from typing import Callable, Dict, List, Mapping, Optional, Tuple, Union

import mmcv
import numpy as np
from mmengine.dataset import BaseDataset
from mmengine.logging import print_log
from mmengine.utils import track_parallel_progress, track_progress
from mmseg.registry import DATASETS as MMSEG_DATASETS
from PIL import Image

from mmcontrast.registry import DATASETS

# Files written by tools/dataset_converters/{gta,synthia}.py (DAFormer's format).
CLASS_STATS_FILE = 'sample_class_stats.json'


def label_class_stats(label: np.ndarray, ignore_index: int = 255) -> Dict[int, int]:
    """Pixel count per class of one label map, ignoring ``ignore_index``.

    Args:
        label (np.ndarray): Integer label map.
        ignore_index (int): Ignored label. Defaults to 255.

    Returns:
        dict: ``{class_id: pixels}`` for the classes present.
    """
    ids, counts = np.unique(label, return_counts=True)
    return {int(i): int(n) for i, n in zip(ids, counts) if i != ignore_index}


def rcs_class_probs(class_pixels: Mapping[int, int], temperature: float = 0.01) -> Tuple[List[int], np.ndarray]:
    """Rare class sampling distribution (DAFormer): ``p_c = softmax((1 - f_c) / T)``.

    ``f_c`` is the fraction of labelled pixels that belong to class ``c`` over the dataset.

    Args:
        class_pixels (Mapping[int, int]): Total pixels per class.
        temperature (float): Temperature ``T`` (> 0). Defaults to 0.01.

    Returns:
        tuple: The class ids (sorted) and their sampling probabilities.
    """
    if temperature <= 0:
        raise ValueError(f'RCS temperature must be > 0, got {temperature}')
    classes = sorted(c for c, n in class_pixels.items() if n > 0)
    if not classes:
        raise ValueError('RCS needs at least one class with labelled pixels')
    freq = np.array([class_pixels[c] for c in classes], dtype=np.float64)
    freq = freq / freq.sum()
    logits = (1 - freq) / temperature
    probs = np.exp(logits - logits.max())
    return classes, probs / probs.sum()


def _build(dataset: Union[dict, BaseDataset]) -> BaseDataset:
    if isinstance(dataset, dict):
        return MMSEG_DATASETS.build(dataset)
    return dataset


def unlabelled_pipeline(pipeline: List[dict]) -> Tuple[List[dict], List[str]]:
    """A (stock) training pipeline made fit for images without labels.

    ``LoadAnnotations`` is dropped, and ``RandomCrop``'s ``cat_max_ratio`` (which measures
    the classes of the labels in the crop) is set to 1, i.e. off.

    Args:
        pipeline (list[dict]): Transform configs.

    Returns:
        tuple: The new pipeline and a description of each change.
    """
    out, changes = [], []
    for transform in pipeline:
        name = str(transform.get('type', '')).split('.')[-1]
        if name == 'LoadAnnotations':
            changes.append('LoadAnnotations dropped')
            continue
        if name == 'RandomCrop' and transform.get('cat_max_ratio', 1.) < 1.:
            transform = dict(transform, cat_max_ratio=1.)
            changes.append('RandomCrop cat_max_ratio -> 1 (it reads labels)')
        out.append(transform)
    return out, changes


def _dataset_config(cfg: Union[dict, BaseDataset], defaults: dict, role: str) -> Union[dict, BaseDataset]:
    """``cfg`` over the shared ``defaults``; a target without labels gets an unlabelled pipeline."""
    if not isinstance(cfg, dict):
        return cfg
    cfg = {**copy.deepcopy(defaults), **dict(cfg)}
    if 'type' not in cfg:
        raise ValueError(f'UDADataset: the {role} dataset has no type; name the dataset class that reads its '
                         f"folders, e.g. {role}=dict(type='BaseSegDataset', ...) or type='CityscapesDataset' "
                         'with your img_suffix/seg_map_suffix (docs/byo_data.md)')
    labelled = bool((cfg.get('data_prefix') or {}).get('seg_map_path'))
    if role == 'target' and not labelled and cfg.get('pipeline'):
        cfg['pipeline'], changes = unlabelled_pipeline(list(cfg['pipeline']))
        if changes:
            print_log(f'UDADataset: the target has no seg_map_path, so its pipeline reads no labels: '
                      f'{"; ".join(changes)}', logger='current', level=logging.INFO)
    return cfg


@DATASETS.register_module()
class UDADataset:
    """Pairs a labelled source and an unlabelled target segmentation dataset.

    Item ``i`` is a multi-branch sample ``dict(inputs=dict(source=..., target=...),
    data_samples=dict(source=..., target=...))`` for mmdet's
    ``MultiBranchDataPreprocessor``. The source item is ``i`` (or drawn by RCS), the
    target item is drawn uniformly at random, so every source crop meets varied targets.
    The length is that of the source dataset (use an ``InfiniteSampler``).

    Rare class sampling (``rare_class_sampling=dict(...)``, DAFormer): draw a class ``c``
    with :func:`rcs_class_probs`, then a source image holding more than ``min_pixels``
    pixels of ``c``; its random crop is redrawn (up to 10 times) until the crop keeps more
    than ``min_crop_ratio * min_pixels`` pixels of ``c``. Class statistics come from
    ``stats_file`` (``sample_class_stats.json`` of the converters, in the source
    ``data_root`` by default) or, when missing, are computed once from the source labels.

    Bring your own data (docs/byo_data.md): dataset keys given besides ``source`` and
    ``target`` are defaults of both. So, over a stock mmseg config,
    ``train_dataloader = dict(dataset=dict(type='mmcontrast.UDADataset', source=..., target=...))``
    keeps the stock dataset's ``pipeline`` (and anything ``source``/``target`` do not set).
    A target config without ``data_prefix.seg_map_path`` (no labels) gets that pipeline
    without ``LoadAnnotations`` and without ``RandomCrop``'s ``cat_max_ratio``.

    Args:
        source (dict | BaseDataset): Labelled source dataset (config).
        target (dict | BaseDataset): Target dataset (config); labels are not needed.
        rare_class_sampling (dict, optional): ``class_temp`` (0.01), ``min_pixels`` (3000),
            ``min_crop_ratio`` (0.5), ``stats_file`` (None). Defaults to None (off).
        **dataset_defaults: Dataset config keys shared by ``source`` and ``target``
            (``pipeline``, ``data_root``, ``img_suffix``, ...); theirs win.
    """

    def __init__(self,
                 source: Union[dict, BaseDataset],
                 target: Union[dict, BaseDataset],
                 rare_class_sampling: Optional[dict] = None,
                 **dataset_defaults) -> None:
        self.source = _build(_dataset_config(source, dataset_defaults, 'source'))
        self.target = _build(_dataset_config(target, dataset_defaults, 'target'))
        src_classes = self.source.metainfo.get('classes')
        tgt_classes = self.target.metainfo.get('classes')
        if src_classes is not None and tgt_classes is not None and tuple(src_classes) != tuple(tgt_classes):
            raise ValueError(f'source and target classes differ: {src_classes} vs {tgt_classes}')
        self.rcs = None
        if rare_class_sampling is not None:
            cfg = dict(class_temp=0.01, min_pixels=3000, min_crop_ratio=0.5, stats_file=None)
            unknown = set(rare_class_sampling) - set(cfg)
            if unknown:
                raise ValueError(f'unknown rare_class_sampling keys {sorted(unknown)}; expected {sorted(cfg)}')
            cfg.update(rare_class_sampling)
            self.rcs = cfg
            self._init_rcs()

    @property
    def metainfo(self) -> dict:
        """Meta information of the target dataset (classes, palette)."""
        return self.target.metainfo

    def full_init(self) -> None:
        """Fully initialise both datasets (mmengine lazy init)."""
        for dataset in (self.source, self.target):
            if hasattr(dataset, 'full_init'):
                dataset.full_init()

    def __len__(self) -> int:
        return len(self.source)

    # ------------------------------------------------------------------ RCS
    def _source_stats(self) -> List[Dict[int, int]]:
        """Per source sample ``{class: pixels}`` in the dataset's class ids."""
        self.source.full_init()
        infos = [self.source.get_data_info(i) for i in range(len(self.source))]
        if any(info.get('seg_map_path') is None for info in infos):
            raise ValueError('rare class sampling needs source labels (seg_map_path in data_prefix)')
        ignore = getattr(self.source, 'ignore_index', 255)
        stats_file = self.rcs['stats_file']
        if stats_file is None and self.source.data_root:
            stats_file = osp.join(self.source.data_root, CLASS_STATS_FILE)
        by_name = {}
        if stats_file is not None and osp.isfile(stats_file):
            with open(stats_file) as f:
                by_name = {osp.basename(entry['file']): entry for entry in json.load(f)}
        stats = []
        missing = 0
        for info in infos:
            entry = by_name.get(osp.basename(info['seg_map_path']))
            if entry is None:
                missing += 1
                raw = label_class_stats(mmcv.imread(info['seg_map_path'], flag='unchanged', backend='pillow'),
                                        ignore)
            else:
                raw = {int(k): int(v) for k, v in entry.items() if k != 'file'}
            stats.append(self._apply_label_map(raw, info.get('label_map'), ignore))
        if missing:
            print_log(f'RCS: {missing}/{len(infos)} source labels had no entry in {stats_file}; their class '
                      'statistics were computed from the label files (run the dataset converter to cache them).',
                      logger='current', level=logging.INFO)
        return stats

    @staticmethod
    def _apply_label_map(stats: Dict[int, int], label_map: Optional[dict], ignore: int) -> Dict[int, int]:
        if not label_map:
            return stats
        out: Dict[int, int] = defaultdict(int)
        for c, n in stats.items():
            mapped = label_map.get(c, ignore)
            if mapped != ignore:
                out[mapped] += n
        return dict(out)

    def _init_rcs(self) -> None:
        stats = self._source_stats()
        totals: Dict[int, int] = defaultdict(int)
        for s in stats:
            for c, n in s.items():
                totals[c] += n
        classes, probs = rcs_class_probs(totals, self.rcs['class_temp'])
        samples_with_class = {c: [i for i, s in enumerate(stats) if s.get(c, 0) > self.rcs['min_pixels']]
                              for c in classes}
        keep = [k for k, c in enumerate(classes) if samples_with_class[c]]
        if not keep:
            raise ValueError(f"RCS: no source image has more than min_pixels={self.rcs['min_pixels']} pixels "
                             'of any class; lower min_pixels')
        self.rcs_classes = [classes[k] for k in keep]
        self.rcs_probs = probs[keep] / probs[keep].sum()
        self.rcs_samples = samples_with_class
        print_log('RCS class probabilities: ' +
                  ', '.join(f'{c}: {p:.3f}' for c, p in zip(self.rcs_classes, self.rcs_probs)),
                  logger='current', level=logging.INFO)

    def _rcs_source_item(self) -> dict:
        cls = int(np.random.choice(self.rcs_classes, p=self.rcs_probs))
        index = int(np.random.choice(self.rcs_samples[cls]))
        need = self.rcs['min_crop_ratio'] * self.rcs['min_pixels']
        for _ in range(10):
            item = self.source[index]
            if int((item['data_samples'].gt_sem_seg.data == cls).sum()) > need:
                break
        return item

    def __getitem__(self, idx: int) -> dict:
        src = self._rcs_source_item() if self.rcs is not None else self.source[idx]
        tgt = self.target[np.random.randint(len(self.target))]
        return dict(
            inputs=dict(source=src['inputs'], target=tgt['inputs']),
            data_samples=dict(source=src['data_samples'], target=tgt['data_samples']))

    def class_sampling_probs(self) -> Dict[int, float]:
        """RCS ``{class: probability}`` (empty when RCS is off)."""
        if self.rcs is None:
            return {}
        return {int(c): float(p) for c, p in zip(self.rcs_classes, self.rcs_probs)}



def map_label_ids(label: np.ndarray, id_to_trainid: Mapping[int, int], ignore_index: int = 255) -> np.ndarray:
    """Map dataset label ids to train ids with a lookup table; unmapped ids -> ignore.

    Args:
        label (np.ndarray): Non-negative integer label map (any integer dtype).
        id_to_trainid (Mapping[int, int]): Id -> train id.
        ignore_index (int): Value of unmapped ids. Defaults to 255.

    Returns:
        np.ndarray: ``uint8`` train-id map.
    """
    if not np.issubdtype(label.dtype, np.integer) or (label.size and label.min() < 0):
        raise ValueError(f'label must hold non-negative integers, got dtype {label.dtype}')
    size = max(int(label.max(initial=0)), max(id_to_trainid)) + 1
    lut = np.full(size, ignore_index, np.uint8)
    for src, dst in id_to_trainid.items():
        lut[src] = dst
    return lut[label]


def find_label_files(folder: str, converted_suffix: str = '_labelTrainIds.png') -> List[str]:
    """Sorted original label PNGs of ``folder`` (converted outputs excluded).

    Raises:
        FileNotFoundError: If there is none.
    """
    files = sorted(f for f in glob.glob(osp.join(folder, '*.png')) if not f.endswith(converted_suffix))
    if not files:
        raise FileNotFoundError(f'no label PNG in {folder}')
    return files


def convert_label_files(files: List[str],
                        convert: Callable[[str], str],
                        data_root: str,
                        nproc: int = 1,
                        ignore_index: int = 255) -> List[dict]:
    """Convert label files and write the RCS class statistics of the results.

    Args:
        files (list[str]): Original label files.
        convert (Callable): ``convert(file) -> converted file``; it writes the train-id map.
        data_root (str): Where ``sample_class_stats.json`` and ``samples_with_class.json``
            are written; ``file`` entries are relative to it.
        nproc (int): Worker processes. Defaults to 1.
        ignore_index (int): Ignored train id. Defaults to 255.

    Returns:
        list[dict]: One ``{'file': ..., '<class>': pixels, ...}`` entry per file.
    """
    job = partial(_convert_and_count, convert=convert, data_root=data_root, ignore_index=ignore_index)
    if nproc > 1:
        stats = track_parallel_progress(job, files, nproc)
    else:
        stats = track_progress(job, files)
    samples_with_class: Dict[str, list] = defaultdict(list)
    for entry in stats:
        for key, pixels in entry.items():
            if key != 'file':
                samples_with_class[key].append([entry['file'], pixels])
    with open(osp.join(data_root, CLASS_STATS_FILE), 'w') as f:
        json.dump(stats, f, indent=2)
    with open(osp.join(data_root, 'samples_with_class.json'), 'w') as f:
        json.dump(dict(sorted(samples_with_class.items(), key=lambda kv: int(kv[0]))), f, indent=2)
    return stats


def _convert_and_count(file: str, convert: Callable[[str], str], data_root: str, ignore_index: int) -> dict:
    out = convert(file)
    label = np.asarray(Image.open(out))
    stats = label_class_stats(label, ignore_index)
    return dict(file=osp.relpath(out, data_root), **{str(c): n for c, n in stats.items()})
