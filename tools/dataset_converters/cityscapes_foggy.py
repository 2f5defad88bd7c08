# Copyright (c) mmcontrast contributors. Licensed under the Apache License 2.0.
"""Cityscapes / Foggy Cityscapes polygons -> COCO JSON for UDA detection.

Reads ``gtFine/<split>/<city>/*_gtFine_polygons.json`` and writes, per split::

    annotations/cityscapes_<split>_8cls.json                 -> leftImg8bit/<split>/
    annotations/foggy_cityscapes_beta_0.02_<split>_8cls.json -> leftImg8bit_foggy/<split>/

The foggy file holds exactly the same images, boxes and ids; only ``file_name`` points at
``*_leftImg8bit_foggy_beta_0.02.png`` (the standard beta = 0.02 split of Sakaridis et al.).
Classes are the 8 Cityscapes instance classes with their Cityscapes label ids as category
ids, as mmdet's ``tools/dataset_converters/cityscapes.py`` writes them, so mmdet's
``CityscapesDataset`` reads the files. Boxes are the polygons' extents, clipped to the
image; ``*group`` polygons (e.g. ``cargroup``) become ``iscrowd=1`` (ignored in training
and evaluation). ``--classes car`` writes ``cityscapes_<split>_car.json`` instead (the
target side of Sim10k -> Cityscapes).

Example::

    python tools/dataset_converters/cityscapes_foggy.py data/cityscapes
"""
import argparse
import json
import os
import os.path as osp
from glob import glob
from typing import Dict, List, Optional, Sequence

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
FOGGY_BETA = '0.02'
_POLYGON_SUFFIX = '_gtFine_polygons.json'


def _polygon_area(points: Sequence[Sequence[float]]) -> float:
    """Shoelace area of a simple polygon."""
    area = 0.0
    for (x0, y0), (x1, y1) in zip(points, list(points[1:]) + [points[0]]):
        area += x0 * y1 - x1 * y0
    return abs(area) / 2.0


def polygons_to_annotations(record: dict, classes: Dict[str, int]) -> List[dict]:
    """COCO annotations (without ids) of one ``*_gtFine_polygons.json`` record.

    Args:
        record (dict): The parsed polygon file (``imgHeight``, ``imgWidth``, ``objects``).
        classes (dict[str, int]): Kept class names and their category ids.

    Returns:
        list[dict]: ``category_id``, ``bbox`` (x, y, w, h), ``area``, ``iscrowd``,
        ``segmentation`` per kept object; empty boxes are dropped.
    """
    height, width = record['imgHeight'], record['imgWidth']
    annotations = []
    for obj in record['objects']:
        label = obj['label']
        crowd = label.endswith('group')
        name = label[:-len('group')] if crowd else label
        if name not in classes or obj.get('deleted') or len(obj['polygon']) < 3:
            continue
        xs = [min(max(float(p[0]), 0.0), width) for p in obj['polygon']]
        ys = [min(max(float(p[1]), 0.0), height) for p in obj['polygon']]
        x0, y0, x1, y1 = min(xs), min(ys), max(xs), max(ys)
        if x1 - x0 < 1 or y1 - y0 < 1:
            continue
        annotations.append(
            dict(
                category_id=classes[name],
                bbox=[x0, y0, x1 - x0, y1 - y0],
                area=_polygon_area(list(zip(xs, ys))),
                iscrowd=int(crowd),
                segmentation=[[c for p in zip(xs, ys) for c in p]]))
    return annotations


def convert_split(root: str,
                  split: str,
                  classes: Sequence[str] = tuple(CITYSCAPES_DET_CLASSES),
                  foggy_beta: Optional[str] = FOGGY_BETA,
                  check_images: bool = True) -> Dict[str, dict]:
    """Build the COCO dicts of one Cityscapes split.

    Args:
        root (str): Cityscapes root with ``gtFine/``, ``leftImg8bit/`` (and
            ``leftImg8bit_foggy/``).
        split (str): 'train', 'val' or 'test'.
        classes (Sequence[str]): Class names to keep. Defaults to the 8 classes.
        foggy_beta (str, optional): Also build the Foggy Cityscapes file of this beta.
            None skips it. Defaults to '0.02'.
        check_images (bool): Raise if an image file is missing. Defaults to True.

    Returns:
        dict[str, dict]: ``{'cityscapes': coco}`` plus ``'foggy'`` when requested.
    """
    unknown = set(classes) - set(CITYSCAPES_DET_CLASSES)
    if unknown:
        raise ValueError(f'unknown Cityscapes classes {sorted(unknown)}; choose from {list(CITYSCAPES_DET_CLASSES)}')
    class_ids = {name: CITYSCAPES_DET_CLASSES[name] for name in classes}
    polygon_files = sorted(glob(osp.join(root, 'gtFine', split, '*', '*' + _POLYGON_SUFFIX)))
    if not polygon_files:
        raise FileNotFoundError(f'no *{_POLYGON_SUFFIX} under {osp.join(root, "gtFine", split)}')
    views = {'cityscapes': ('leftImg8bit', '_leftImg8bit.png')}
    if foggy_beta is not None:
        views['foggy'] = ('leftImg8bit_foggy', f'_leftImg8bit_foggy_beta_{foggy_beta}.png')
    categories = [dict(id=i, name=n) for n, i in class_ids.items()]
    outputs = {view: dict(images=[], annotations=[], categories=categories) for view in views}
    ann_id = 0
    for img_id, polygon_file in enumerate(polygon_files):
        with open(polygon_file) as f:
            record = json.load(f)
        city = osp.basename(osp.dirname(polygon_file))
        stem = osp.basename(polygon_file)[:-len(_POLYGON_SUFFIX)]
        annotations = polygons_to_annotations(record, class_ids)
        for ann in annotations:
            ann.update(id=ann_id, image_id=img_id)
            ann_id += 1
        for view, (img_dir, suffix) in views.items():
            file_name = f'{city}/{stem}{suffix}'
            if check_images and not osp.exists(osp.join(root, img_dir, split, file_name)):
                raise FileNotFoundError(f'image of {polygon_file} not found: {osp.join(root, img_dir, split, file_name)}')
            outputs[view]['images'].append(
                dict(id=img_id, file_name=file_name, height=record['imgHeight'], width=record['imgWidth']))
            outputs[view]['annotations'].extend(annotations)
    return outputs


def output_names(split: str, classes: Sequence[str], foggy_beta: Optional[str] = FOGGY_BETA) -> Dict[str, str]:
    """JSON file names (under ``annotations/``) that :func:`main` writes for a split."""
    tag = '8cls' if tuple(classes) == tuple(CITYSCAPES_DET_CLASSES) else '-'.join(classes)
    names = {'cityscapes': f'cityscapes_{split}_{tag}.json'}
    if foggy_beta is not None:
        names['foggy'] = f'foggy_cityscapes_beta_{foggy_beta}_{split}_{tag}.json'
    return names


def convert(root: str,
            out_dir: Optional[str] = None,
            splits: Sequence[str] = ('train', 'val'),
            classes: Sequence[str] = tuple(CITYSCAPES_DET_CLASSES),
            foggy_beta: Optional[str] = FOGGY_BETA) -> List[str]:
    """Convert ``splits`` and write the JSON files; return their paths."""
    out_dir = out_dir or osp.join(root, 'annotations')
    os.makedirs(out_dir, exist_ok=True)
    written = []
    for split in splits:
        cocos = convert_split(root, split, classes, foggy_beta)
        for view, name in output_names(split, classes, foggy_beta).items():
            path = osp.join(out_dir, name)
            with open(path, 'w') as f:
                json.dump(cocos[view], f)
            written.append(path)
            print(f'{path}: {len(cocos[view]["images"])} images, {len(cocos[view]["annotations"])} boxes')
    return written


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Cityscapes/Foggy Cityscapes polygons to COCO JSON')
    parser.add_argument('root', help='Cityscapes root (gtFine/, leftImg8bit/, leftImg8bit_foggy/)')
    parser.add_argument('-o', '--out-dir', help='output folder (default: <root>/annotations)')
    parser.add_argument('--splits', nargs='+', default=['train', 'val'])
    parser.add_argument('--classes', nargs='+', default=list(CITYSCAPES_DET_CLASSES))
    parser.add_argument('--foggy-beta', default=FOGGY_BETA, help="Foggy Cityscapes beta; 'none' to skip")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    beta = None if args.foggy_beta.lower() == 'none' else args.foggy_beta
    convert(args.root, args.out_dir, args.splits, args.classes, beta)


if __name__ == '__main__':
    main()
