# Copyright (c) mmcontrast contributors. Licensed under the Apache License 2.0.
"""Cityscapes / Foggy Cityscapes instance annotations -> COCO JSON for UDA detection.

Reads, per split, ``gtFine/<split>/<city>/*_gtFine_polygons.json`` (the image list and
size) and the sibling ``*_gtFine_instanceIds.png`` (the boxes), and writes::

    annotations/cityscapes_<split>_8cls.json                        -> leftImg8bit/<split>/
    annotations/foggy_cityscapes_beta_0.02_<split>_8cls.json        -> leftImg8bit_foggy/<split>/
    annotations/foggy_cityscapes_all-densities_<split>_8cls.json    -> leftImg8bit_foggy/<split>/
                                                                       (with ``--foggy-beta all``)

**Boxes are the visible extent of each instance**, as every reference builds them: the
pixels of ``instance id = label id * 1000 + index`` in ``*_gtFine_instanceIds.png``, where
Cityscapes has already drawn later polygons over earlier ones. The raw polygon of an
occluded car also covers the part hidden behind what is in front of it, so its min/max
is not the box. References (file:line):

* mmdet 3.3 ``tools/dataset_converters/cityscapes.py:44-63``: instanceIds; ids < 1000 are
  crowd (``iscrowd=1``); box = ``pycocotools.mask.toBbox`` = ``[xmin, ymin, xmax - xmin + 1,
  ymax - ymin + 1]`` in pixel indices; area = pixel count; no size filter; classes with
  ``hasInstances and not ignoreInEval`` (the 8 below; caravan and trailer are out);
  ``file_name = <city>/<image name>`` (:75-78); category ids = Cityscapes label ids.
* DA-Faster, Detectron version (krumo/Detectron-DA-Faster-RCNN
  ``tools/convert_cityscapes_to_coco.py:127-136,165-196``): instanceIds through
  ``instances2dict_with_polygons`` (which skips ids < 1000: crowd regions are dropped),
  box = contour min/max through ``detectron/utils/boxes.py:98`` (``w = x2 - x1 + 1``),
  instances with a contour of <= 2 points dropped (:177-180), ``file_name`` without the city.
* DA-Faster, original (yuhuayc/da-faster-rcnn ``prepare_data/prepare_data.m:82-103`` and
  ``mask2box.m``): instanceIds, min/max of the mask pixels (1-based inclusive corners,
  i.e. the same +1 extent); crowd regions become ordinary boxes; Foggy Cityscapes is
  the ``*_beta_0.02.png`` images only (:38-39, :55-56).
* Adaptive Teacher (facebookresearch/adaptive_teacher
  ``adapteacher/data/datasets/cityscapes_foggy.py``): the Foggy target is read from
  instanceIds (``builtin.py:139-143``, ``from_json=False``; :237-283 here), ``iscrowd =
  id < 1000`` (:258), box ``(xmin, ymin, xmax, ymax)`` of the pixel indices without +1
  (:263-266), boxes one pixel thin dropped (:267); the Cityscapes source is detectron2's
  ``cityscapes_fine_instance_seg_train`` (``from_json=True``, the same code at :154-233):
  each polygon minus the polygons drawn after it (:174, :200-208), i.e. the visible part
  again, with +0.5 and a 0.5 buffer (:191-197) that give the +1 extent (:228).
  ``load_only_002 = False`` (:26, :37) lists every foggy image of the folder: the
  three densities beta 0.005, 0.01 and 0.02, each Cityscapes image three times, for
  training *and* validation (``builtin.py:118-119``). AT's 50.9 AP50 is on that split.

Our choices (the majority where the references differ):

* box ``[xmin, ymin, xmax - xmin + 1, ymax - ymin + 1]``: the pixel-extent convention of
  mmdet, both DA-Fasters and detectron2's polygon path (AT's instanceIds path alone drops
  the +1). In mmdet's continuous coordinates this is exactly the covered area.
* crowd (``*group``, id < 1000): ``iscrowd=1`` (mmdet, AT), which mmdet's loaders turn
  into ``ignore_flag`` and COCO evaluation into an ignore region; ``crowd='skip'`` drops
  them as Detectron's DA-Faster does.
* no minimum size: mmdet and the original DA-Faster keep every instance.
* ``segmentation``: the visible mask as COCO RLE and ``area`` its pixel count (mmdet);
  ``with_masks=False`` leaves the masks out.
* image size from the instance PNG, checked against ``imgHeight``/``imgWidth`` of the JSON
  and against the image file's header.

Foggy Cityscapes: ``--foggy-beta 0.02`` (default) is DA-Faster's split,
``--foggy-beta all`` AT's "all densities" split, and both can be written in one run.
``--classes car`` writes ``cityscapes_<split>_car.json`` (the Sim10k -> Cityscapes target).
Outputs are written all-or-nothing: on any bad input the run fails naming the file and
every earlier output keeps its content.

Example::

    python tools/dataset_converters/cityscapes_foggy.py data/cityscapes --foggy-beta 0.02 all --nproc 8
"""
import argparse
import json
import os.path as osp
import sys
from functools import partial
from glob import glob
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

# The sibling helper module, also when this file is loaded by path (tests, sim10k.py).
sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from _converter_io import ConverterError, OutputTransaction, exit_on_error, image_size, open_image, safe_relative_name

# Cityscapes label ids of the instance classes used in domain-adaptive detection.
CITYSCAPES_DET_CLASSES = {
    'person': 24,
    'rider': 25,
    'car': 26,
    'truck': 27,
    'bus': 28,
    'train': 31,
    'motorcycle': 32,
    'bicycle': 33,
}
MAX_LABEL_ID = 33  # the largest Cityscapes label id (bicycle)
FOGGY_BETAS = ('0.005', '0.01', '0.02')  # the three densities of Sakaridis et al.
ALL_DENSITIES = 'all'
CROWD_MODES = ('ignore', 'skip')
_POLYGON_SUFFIX = '_gtFine_polygons.json'
_INSTANCE_SUFFIX = '_gtFine_instanceIds.png'
# PIL modes of a 16-bit (or 32-bit) single-channel PNG: the instance ids need > 8 bits.
_INSTANCE_MODES = ('I;16', 'I;16B', 'I;16L', 'I')


def read_instance_ids(path: str) -> np.ndarray:
    """Read and check a ``*_gtFine_instanceIds.png``.

    Args:
        path (str): The PNG.

    Returns:
        np.ndarray: ``(H, W)`` integer map.

    Raises:
        ConverterError: If the file cannot be decoded (e.g. truncated), is not a
            single-channel 16-bit map (an RGB ``*_color.png`` or an 8-bit ``*_labelIds.png``
            given instead), or holds ids that are no Cityscapes instance or label id.
    """
    img = open_image(path, 'Cityscapes instance-id map')
    ids = np.asarray(img)
    if img.mode not in _INSTANCE_MODES or ids.ndim != 2:
        raise ConverterError(f'{path}: expected a single-channel 16-bit instance-id map (*{_INSTANCE_SUFFIX}), '
                             f'got a PIL {img.mode!r} image of shape {ids.shape}')
    ids = ids.astype(np.int64)
    # Valid values: label ids 0..33 (stuff, and crowd regions of instance classes) and
    # label_id * 1000 + index for single instances.
    bad = (ids < 0) | ((ids > MAX_LABEL_ID) & (ids < 1000)) | (ids >= (MAX_LABEL_ID + 1) * 1000)
    if bad.any():
        raise ConverterError(f'{path}: values {np.unique(ids[bad])[:5].tolist()} are no Cityscapes label or '
                             f'instance ids (label id <= {MAX_LABEL_ID}, or label id * 1000 + index)')
    return ids


def instance_annotations(ids: np.ndarray,
                         class_ids: Dict[str, int],
                         crowd: str = 'ignore',
                         with_masks: bool = True) -> List[dict]:
    """COCO annotations (without ids) of the visible instances of one instance-id map.

    Args:
        ids (np.ndarray): ``(H, W)`` map from :func:`read_instance_ids`.
        class_ids (dict[str, int]): Kept class names and their Cityscapes label ids.
        crowd (str): 'ignore' writes crowd regions (``*group``, id < 1000) with
            ``iscrowd=1``; 'skip' leaves them out. Defaults to 'ignore'.
        with_masks (bool): Add the visible mask as COCO RLE (``segmentation``).
            Defaults to True.

    Returns:
        list[dict]: ``category_id``, ``bbox`` (x, y, w, h; ``w = xmax - xmin + 1``),
        ``area`` (pixels), ``iscrowd`` and, with masks, ``segmentation``, in id order.
    """
    if crowd not in CROWD_MODES:
        raise ValueError(f'crowd must be one of {CROWD_MODES}, got {crowd!r}')
    kept_labels = set(class_ids.values())  # category ids are the Cityscapes label ids
    annotations = []
    # Label ids below 24 are stuff classes; skipping them first keeps np.unique small.
    for inst_id in np.unique(ids[ids >= min(CITYSCAPES_DET_CLASSES.values())]):
        is_crowd = inst_id < 1000
        label = int(inst_id if is_crowd else inst_id // 1000)
        if label not in kept_labels or (is_crowd and crowd == 'skip'):
            continue
        mask = ids == inst_id
        rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
        x0, y0, x1, y1 = int(cols[0]), int(rows[0]), int(cols[-1]), int(rows[-1])
        ann = dict(
            category_id=label, bbox=[x0, y0, x1 - x0 + 1, y1 - y0 + 1], area=int(mask.sum()), iscrowd=int(is_crowd))
        if with_masks:
            import pycocotools.mask as mask_util
            rle = mask_util.encode(np.asfortranarray(mask[:, :, None], dtype=np.uint8))[0]
            ann['segmentation'] = dict(size=[int(s) for s in rle['size']], counts=rle['counts'].decode())
        annotations.append(ann)
    return annotations


def read_polygon_record_size(json_file: str) -> Tuple[int, int]:
    """``(height, width)`` of a ``*_gtFine_polygons.json``; errors name the file."""
    try:
        with open(json_file) as f:
            record = json.load(f)
    except json.JSONDecodeError as err:
        raise ConverterError(f'{json_file}: not valid JSON: {err}') from err
    if not isinstance(record, dict):
        raise ConverterError(f'{json_file}: expected a Cityscapes polygon record (a JSON object)')
    size = []
    for key in ('imgHeight', 'imgWidth'):
        if key not in record:
            raise ConverterError(f'{json_file}: no "{key}" key')
        value = record[key]
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise ConverterError(f'{json_file}: "{key}" must be a positive integer, got {value!r}')
        size.append(value)
    return size[0], size[1]


def _image_record(json_file: str, class_ids: Dict[str, int], crowd: str, with_masks: bool) -> dict:
    """Size and annotations of the image of one polygon file (a worker's job)."""
    inst_file = json_file[:-len(_POLYGON_SUFFIX)] + _INSTANCE_SUFFIX
    if not osp.isfile(inst_file):
        raise FileNotFoundError(f'instance-id map of {json_file} not found: {inst_file}')
    height, width = read_polygon_record_size(json_file)
    ids = read_instance_ids(inst_file)
    if ids.shape != (height, width):
        raise ConverterError(f'{inst_file} is {ids.shape[1]}x{ids.shape[0]} but {json_file} says '
                             f'imgWidth={width} imgHeight={height}')
    return dict(
        json_file=json_file,
        inst_file=inst_file,
        height=height,
        width=width,
        annotations=instance_annotations(ids, class_ids, crowd, with_masks))


def foggy_views(foggy_betas: Sequence[str]) -> Dict[str, Tuple[str, ...]]:
    """Output prefix -> betas of each requested Foggy Cityscapes split.

    Args:
        foggy_betas (Sequence[str]): Any of '0.005', '0.01', '0.02' and 'all'.

    Returns:
        dict: e.g. ``{'foggy_cityscapes_beta_0.02': ('0.02',),
        'foggy_cityscapes_all-densities': ('0.005', '0.01', '0.02')}``.
    """
    views = {}
    for beta in foggy_betas:
        if beta == ALL_DENSITIES:
            views['foggy_cityscapes_all-densities'] = FOGGY_BETAS
        elif beta in FOGGY_BETAS:
            views[f'foggy_cityscapes_beta_{beta}'] = (beta, )
        else:
            raise ValueError(f'unknown Foggy Cityscapes beta {beta!r}; choose from {FOGGY_BETAS + (ALL_DENSITIES, )}')
    return views


def _convert_split(root: str, split: str, classes: Sequence[str], foggy_betas: Sequence[str], check_images: bool,
                   crowd: str, with_masks: bool, nproc: int) -> Tuple[Dict[str, dict], List[str]]:
    unknown = set(classes) - set(CITYSCAPES_DET_CLASSES)
    if unknown or not classes:
        raise ValueError(f'unknown Cityscapes classes {sorted(unknown)}; choose from {list(CITYSCAPES_DET_CLASSES)}')
    class_ids = {name: CITYSCAPES_DET_CLASSES[name] for name in CITYSCAPES_DET_CLASSES if name in classes}
    polygon_files = sorted(glob(osp.join(root, 'gtFine', split, '*', '*' + _POLYGON_SUFFIX)))
    if not polygon_files:
        raise FileNotFoundError(f'no *{_POLYGON_SUFFIX} under {osp.join(root, "gtFine", split)}')
    # view -> (image folder, image suffix per image copy)
    views = {'cityscapes': ('leftImg8bit', ('_leftImg8bit.png', ))}
    for name, betas in foggy_views(foggy_betas).items():
        views[name] = ('leftImg8bit_foggy', tuple(f'_leftImg8bit_foggy_beta_{b}.png' for b in betas))
    job = partial(_image_record, class_ids=class_ids, crowd=crowd, with_masks=with_masks)
    if nproc > 1:
        from multiprocessing import Pool
        with Pool(nproc) as pool:
            records = list(pool.imap(job, polygon_files, chunksize=8))
    else:
        records = [job(f) for f in polygon_files]

    categories = [dict(id=i, name=n) for n, i in class_ids.items()]
    outputs = {view: dict(images=[], annotations=[], categories=categories) for view in views}
    inputs = [p for r in records for p in (r['json_file'], r['inst_file'])]
    for view, (img_dir, suffixes) in views.items():
        coco = outputs[view]
        for index, record in enumerate(records):
            city = osp.basename(osp.dirname(record['json_file']))
            stem = osp.basename(record['json_file'])[:-len(_POLYGON_SUFFIX)]
            for copy, suffix in enumerate(suffixes):
                file_name = safe_relative_name(f'{city}/{stem}{suffix}', record['json_file'])
                img_path = osp.join(root, img_dir, split, file_name)
                if check_images:
                    if not osp.isfile(img_path):
                        raise FileNotFoundError(f'image of {record["json_file"]} not found: {img_path}')
                    img_w, img_h = image_size(img_path)
                    if (img_w, img_h) != (record['width'], record['height']):
                        raise ConverterError(f'{img_path} is {img_w}x{img_h} but its labels {record["inst_file"]} '
                                             f'are {record["width"]}x{record["height"]}')
                    inputs.append(img_path)
                # One image per Cityscapes image and beta; a single-beta view keeps the
                # ids of the clear view, so its boxes and ids are the same.
                img_id = index * len(suffixes) + copy
                coco['images'].append(
                    dict(id=img_id, file_name=file_name, height=record['height'], width=record['width']))
                for ann in record['annotations']:
                    coco['annotations'].append(dict(ann, id=len(coco['annotations']), image_id=img_id))
    return outputs, inputs


def convert_split(root: str,
                  split: str,
                  classes: Sequence[str] = tuple(CITYSCAPES_DET_CLASSES),
                  foggy_betas: Sequence[str] = ('0.02', ),
                  check_images: bool = True,
                  crowd: str = 'ignore',
                  with_masks: bool = True,
                  nproc: int = 1) -> Dict[str, dict]:
    """Build the COCO dicts of one Cityscapes split.

    Args:
        root (str): Cityscapes root with ``gtFine/``, ``leftImg8bit/`` (and
            ``leftImg8bit_foggy/``).
        split (str): 'train', 'val' or 'test'.
        classes (Sequence[str]): Class names to keep. Defaults to the 8 classes.
        foggy_betas (Sequence[str]): Foggy Cityscapes splits to build besides the clear
            one: betas among '0.005', '0.01', '0.02', or 'all' (the three densities, each
            image three times, as Adaptive Teacher). Defaults to ('0.02', ).
        check_images (bool): Raise if an image is missing or its size differs from its
            labels. Defaults to True.
        crowd (str): 'ignore' (``iscrowd=1``) or 'skip'. Defaults to 'ignore'.
        with_masks (bool): Write the visible masks as RLE. Defaults to True.
        nproc (int): Worker processes. Defaults to 1.

    Returns:
        dict[str, dict]: ``{'cityscapes': coco, 'foggy_cityscapes_beta_0.02': coco, ...}``
        keyed by output prefix (see :func:`output_names`).
    """
    return _convert_split(root, split, classes, foggy_betas, check_images, crowd, with_masks, nproc)[0]


def output_names(split: str, classes: Sequence[str], foggy_betas: Sequence[str] = ('0.02', )) -> Dict[str, str]:
    """JSON file names (under ``annotations/``) that :func:`convert` writes for a split."""
    tag = '8cls' if set(classes) == set(CITYSCAPES_DET_CLASSES) else '-'.join(n for n in CITYSCAPES_DET_CLASSES
                                                                              if n in classes)
    return {view: f'{view}_{split}_{tag}.json' for view in ['cityscapes', *foggy_views(foggy_betas)]}


def convert(root: str,
            out_dir: Optional[str] = None,
            splits: Sequence[str] = ('train', 'val'),
            classes: Sequence[str] = tuple(CITYSCAPES_DET_CLASSES),
            foggy_betas: Sequence[str] = ('0.02', ),
            check_images: bool = True,
            crowd: str = 'ignore',
            with_masks: bool = True,
            nproc: int = 1,
            transaction: Optional[OutputTransaction] = None) -> List[str]:
    """Convert ``splits`` and write the JSON files all-or-nothing; return their paths.

    Args:
        root (str): Cityscapes root.
        out_dir (str, optional): Output folder. Defaults to ``<root>/annotations``.
        splits (Sequence[str]): Defaults to ('train', 'val').
        classes (Sequence[str]): Defaults to the 8 classes.
        foggy_betas (Sequence[str]): See :func:`convert_split`. Defaults to ('0.02', ).
        check_images, crowd, with_masks, nproc: See :func:`convert_split`.
        transaction (OutputTransaction, optional): Stage the files into this transaction
            (the caller commits) instead of writing them now. Defaults to None.

    Returns:
        list[str]: The JSON files (written, or staged in ``transaction``).
    """
    out_dir = out_dir or osp.join(root, 'annotations')
    staged, summary = [], []
    own = transaction is None
    transaction = transaction or OutputTransaction()
    try:
        for split in splits:  # every split is built before anything is written
            cocos, inputs = _convert_split(root, split, classes, foggy_betas, check_images, crowd, with_masks, nproc)
            transaction.protect(inputs)
            for view, name in output_names(split, classes, foggy_betas).items():
                path = osp.join(out_dir, name)
                transaction.write_json(path, cocos[view])
                staged.append(path)
                summary.append(f'{path}: {len(cocos[view]["images"])} images, '
                               f'{len(cocos[view]["annotations"])} boxes')
    except BaseException:
        if own:
            transaction.abort()
        raise
    if own:
        transaction.commit()
    print('\n'.join(summary))
    return staged


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Cityscapes/Foggy Cityscapes instance annotations to COCO JSON')
    parser.add_argument('root', help='Cityscapes root (gtFine/, leftImg8bit/, leftImg8bit_foggy/)')
    parser.add_argument('-o', '--out-dir', help='output folder (default: <root>/annotations)')
    parser.add_argument('--splits', nargs='+', default=['train', 'val'])
    parser.add_argument('--classes', nargs='+', default=list(CITYSCAPES_DET_CLASSES))
    parser.add_argument(
        '--foggy-beta',
        nargs='+',
        default=['0.02'],
        choices=[*FOGGY_BETAS, ALL_DENSITIES, 'none'],
        help="Foggy Cityscapes splits: betas among 0.005 0.01 0.02, 'all' for the three densities "
        "(Adaptive Teacher's split), 'none' for no foggy file")
    parser.add_argument(
        '--crowd',
        choices=CROWD_MODES,
        default='ignore',
        help='crowd (*group) regions: iscrowd=1 (ignore) or left out (skip)')
    parser.add_argument('--no-masks', action='store_true', help='leave the RLE masks out')
    parser.add_argument('--nproc', type=int, default=1, help='worker processes')
    return parser.parse_args(argv)


@exit_on_error
def main(argv: Optional[List[str]] = None) -> None:
    args = parse_args(argv)
    betas = [b for b in args.foggy_beta if b != 'none']
    convert(
        args.root,
        args.out_dir,
        args.splits,
        args.classes,
        betas,
        crowd=args.crowd,
        with_masks=not args.no_masks,
        nproc=args.nproc)


if __name__ == '__main__':
    main()
