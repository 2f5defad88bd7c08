# Copyright (c) mmcontrast contributors. Licensed under the Apache License 2.0.
"""Sim10k (VOC XML) -> COCO JSON with the car class, and Cityscapes filtered to car.

Sim10k ("Driving in the Matrix", Johnson-Roberson et al.) ships Pascal-VOC style files::

    data/sim10k/VOC2012/Annotations/*.xml   data/sim10k/VOC2012/JPEGImages/*.jpg

This writes ``data/sim10k/annotations/sim10k_car.json`` (all images listed in
``--image-set`` or, without it, every XML; boxes of class ``car`` only; VOC's 1-based
pixel corners become COCO ``[x, y, w, h]``; ``difficult`` boxes become ``iscrowd=1``).
With ``--cityscapes-root`` it also writes ``cityscapes_{train,val}_car.json`` there (the
Sim10k -> Cityscapes target, through :mod:`cityscapes_foggy`).

Example::

    python tools/dataset_converters/sim10k.py data/sim10k --cityscapes-root data/cityscapes
"""
import argparse
import json
import os
import os.path as osp
import sys
import xml.etree.ElementTree as ET
from glob import glob
from typing import List, Optional

SIM10K_CATEGORIES = [dict(id=1, name='car')]


def parse_voc_xml(xml_file: str, classes=('car', )) -> dict:
    """Read one VOC annotation: image size and the boxes of ``classes``.

    Returns:
        dict: ``file_name``, ``width``, ``height`` and ``objects`` (``name``, ``bbox`` as
        COCO ``[x, y, w, h]`` in 0-based pixels, ``difficult``).
    """
    root = ET.parse(xml_file).getroot()
    size = root.find('size')
    if size is None:
        raise ValueError(f'{xml_file}: no <size> element')
    width, height = int(float(size.findtext('width'))), int(float(size.findtext('height')))
    file_name = root.findtext('filename') or osp.splitext(osp.basename(xml_file))[0] + '.jpg'
    objects = []
    for obj in root.iter('object'):
        name = obj.findtext('name', '').strip().lower()
        if name not in classes:
            continue
        box = obj.find('bndbox')
        x1, y1, x2, y2 = (float(box.findtext(k)) for k in ('xmin', 'ymin', 'xmax', 'ymax'))
        # VOC corners are 1-based and inclusive
        x1, y1 = max(x1 - 1, 0.0), max(y1 - 1, 0.0)
        x2, y2 = min(x2, width), min(y2, height)
        if x2 - x1 < 1 or y2 - y1 < 1:
            continue
        objects.append(dict(name=name, bbox=[x1, y1, x2 - x1, y2 - y1],
                            difficult=int(obj.findtext('difficult', '0') or 0)))
    return dict(file_name=file_name, width=width, height=height, objects=objects)


def convert_sim10k(root: str, image_set: Optional[str] = None) -> dict:
    """COCO dict (car only) of the Sim10k annotations under ``root/VOC2012``.

    Args:
        root (str): Sim10k root holding ``VOC2012/Annotations``.
        image_set (str, optional): A file with one image id per line (VOC
            ``ImageSets/Main/*.txt``). Defaults to every XML file.

    Returns:
        dict: COCO ``images``, ``annotations``, ``categories``.
    """
    ann_dir = osp.join(root, 'VOC2012', 'Annotations')
    if image_set is not None:
        with open(image_set) as f:
            xml_files = [osp.join(ann_dir, line.strip() + '.xml') for line in f if line.strip()]
    else:
        xml_files = sorted(glob(osp.join(ann_dir, '*.xml')))
    if not xml_files:
        raise FileNotFoundError(f'no VOC XML files under {ann_dir}')
    coco = dict(images=[], annotations=[], categories=SIM10K_CATEGORIES)
    for img_id, xml_file in enumerate(xml_files):
        record = parse_voc_xml(xml_file)
        coco['images'].append(
            dict(id=img_id, file_name=record['file_name'], width=record['width'], height=record['height']))
        for obj in record['objects']:
            x, y, w, h = obj['bbox']
            coco['annotations'].append(
                dict(id=len(coco['annotations']), image_id=img_id, category_id=1, bbox=[x, y, w, h],
                     area=w * h, iscrowd=obj['difficult']))
    return coco


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(description='Sim10k VOC XML to COCO JSON (car), Cityscapes to car only')
    parser.add_argument('root', help='Sim10k root (VOC2012/Annotations, VOC2012/JPEGImages)')
    parser.add_argument('--image-set', help='optional list of image ids (default: all XML files)')
    parser.add_argument('-o', '--out', help='output JSON (default: <root>/annotations/sim10k_car.json)')
    parser.add_argument('--cityscapes-root', help='also write Cityscapes {train,val} car-only JSON files')
    args = parser.parse_args(argv)

    out = args.out or osp.join(args.root, 'annotations', 'sim10k_car.json')
    os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
    coco = convert_sim10k(args.root, args.image_set)
    with open(out, 'w') as f:
        json.dump(coco, f)
    print(f'{out}: {len(coco["images"])} images, {len(coco["annotations"])} car boxes')
    if args.cityscapes_root:
        sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
        from cityscapes_foggy import convert  # noqa: E402  (sibling script)
        convert(args.cityscapes_root, classes=('car', ), foggy_beta=None)


if __name__ == '__main__':
    main()
