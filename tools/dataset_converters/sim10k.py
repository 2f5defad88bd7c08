# Copyright (c) mmcontrast contributors. Licensed under the Apache License 2.0.
"""Sim10k (VOC XML) -> COCO JSON with the car class, and Cityscapes filtered to car.

Sim10k ("Driving in the Matrix", Johnson-Roberson et al.) ships Pascal-VOC style files::

    data/sim10k/VOC2012/Annotations/*.xml   data/sim10k/VOC2012/JPEGImages/*.jpg

This writes ``data/sim10k/annotations/sim10k_car.json`` (every XML, or those listed in
``--image-set``; boxes of class ``car`` only). It follows DA-Faster's converter
(krumo/Detectron-DA-Faster-RCNN ``tools/convert_sim10k_to_coco.py``):

* the image is ``<XML stem>.jpg`` (:128); the ``<filename>`` tag is not used, but one
  that would leave the image folder (``../``, absolute) is refused as a sign of a
  tampered file;
* a box is ``[xmin, ymin, xmax - xmin, ymax - ymin]`` straight from the corners (:169-176),
  without VOC's 1-based -1 shift; boxes reaching past the image are clipped to it;
* ``difficult`` is not read by DA-Faster: every car box trains and is evaluated (its
  annotations all have ``iscrowd=0``, :85-86). That is our default (``--difficult keep``).
  ``--difficult ignore`` writes such boxes with ``iscrowd=1`` (ignored in training and
  evaluation, VOC's own evaluation convention), ``--difficult drop`` leaves them out.

Bad input fails the run with the file named and nothing written: a non-finite, negative
(xmax < xmin), empty or out-of-image box, an object without ``<bndbox>``, a missing or
non-positive image size, an unsafe name in the XML or the image set, a missing image or one
whose size differs from the XML. With ``--cityscapes-root`` it also writes
``cityscapes_{train,val}_car.json`` there (the Sim10k -> Cityscapes target, visible boxes
through :mod:`cityscapes_foggy`), in the same all-or-nothing write.

Example::

    python tools/dataset_converters/sim10k.py data/sim10k --cityscapes-root data/cityscapes
"""
import argparse
import os.path as osp
import sys
import xml.etree.ElementTree as ET
from glob import glob
from typing import List, Optional, Sequence

# The sibling modules, also when this file is loaded by path (tests).
sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from _converter_io import (
    ConverterError,
    OutputTransaction,
    check_box,
    check_image_size,
    exit_on_error,
    image_size,
    parse_number,
    safe_relative_name,
)

SIM10K_CATEGORIES = [dict(id=1, name='car')]
DIFFICULT_MODES = ('keep', 'ignore', 'drop')


def parse_voc_xml(xml_file: str, classes: Sequence[str] = ('car', ), difficult: str = 'keep') -> dict:
    """Read and check one VOC annotation: image size and the boxes of ``classes``.

    Args:
        xml_file (str): The XML file.
        classes (Sequence[str]): Object names to keep (lower case). Defaults to ('car', ).
        difficult (str): 'keep' (DA-Faster: an ordinary box), 'ignore' (``iscrowd=1``)
            or 'drop'. Defaults to 'keep'.

    Returns:
        dict: ``file_name`` (``<stem>.jpg``), ``width``, ``height`` and ``objects``
        (``name``, ``bbox`` as COCO ``[x, y, w, h]``, ``iscrowd``).

    Raises:
        ConverterError: Naming ``xml_file`` (and the object) for any bad content.
    """
    if difficult not in DIFFICULT_MODES:
        raise ValueError(f'difficult must be one of {DIFFICULT_MODES}, got {difficult!r}')
    try:
        root = ET.parse(xml_file).getroot()
    except ET.ParseError as err:
        raise ConverterError(f'{xml_file}: not valid XML: {err}') from err
    if root.tag != 'annotation':
        raise ConverterError(f'{xml_file}: the root element is <{root.tag}>, expected <annotation>')
    size = root.find('size')
    if size is None:
        raise ConverterError(f'{xml_file}: no <size> element')
    width, height = check_image_size(size.findtext('width'), size.findtext('height'), xml_file)
    tag = root.findtext('filename')
    if tag is not None and tag.strip():
        safe_relative_name(tag.strip(), f'{xml_file} <filename>')
    file_name = safe_relative_name(osp.splitext(osp.basename(xml_file))[0] + '.jpg', xml_file)
    objects = []
    for index, obj in enumerate(root.iter('object')):
        name = (obj.findtext('name') or '').strip().lower()
        if name not in classes:
            continue
        where = f'{xml_file}: object {index} ({name})'
        box = obj.find('bndbox')
        if box is None:
            raise ConverterError(f'{where}: no <bndbox>')
        x0, y0, x1, y1 = (parse_number(box.findtext(k), where, k) for k in ('xmin', 'ymin', 'xmax', 'ymax'))
        bbox = list(check_box(x0, y0, x1, y1, width, height, where))
        flag = (obj.findtext('difficult') or '0').strip()
        if flag not in ('0', '1'):
            raise ConverterError(f'{where}: <difficult> must be 0 or 1, got {flag!r}')
        if flag == '1' and difficult == 'drop':
            continue
        objects.append(dict(name=name, bbox=bbox, iscrowd=int(flag == '1' and difficult == 'ignore')))
    return dict(file_name=file_name, width=width, height=height, objects=objects)


def list_xml_files(ann_dir: str, image_set: Optional[str] = None) -> List[str]:
    """The annotation files to convert: those of ``image_set`` or every ``*.xml``.

    Raises:
        ConverterError: For an image-set line that is not a plain name (``../``,
            absolute, a sub-folder) or a duplicate.
    """
    if image_set is None:
        xml_files = sorted(glob(osp.join(ann_dir, '*.xml')))
    else:
        xml_files, seen = [], set()
        with open(image_set) as f:
            for line_no, line in enumerate(f, start=1):
                stem = line.strip()
                if not stem:
                    continue
                safe_relative_name(stem, f'{image_set}:{line_no}')
                if '/' in stem:
                    raise ConverterError(f'{image_set}:{line_no}: {stem!r} is not a plain image id')
                if stem in seen:
                    raise ConverterError(f'{image_set}:{line_no}: duplicate image id {stem!r}')
                seen.add(stem)
                xml_files.append(osp.join(ann_dir, stem + '.xml'))
    if not xml_files:
        raise FileNotFoundError(f'no VOC XML files under {ann_dir}')
    return xml_files


def convert_sim10k(root: str,
                   image_set: Optional[str] = None,
                   difficult: str = 'keep',
                   check_images: bool = True) -> dict:
    """COCO dict (car only) of the Sim10k annotations under ``root/VOC2012``.

    Args:
        root (str): Sim10k root holding ``VOC2012/Annotations`` and ``VOC2012/JPEGImages``.
        image_set (str, optional): A file with one image id per line (VOC
            ``ImageSets/Main/*.txt``). Defaults to every XML file.
        difficult (str): See :func:`parse_voc_xml`. Defaults to 'keep'.
        check_images (bool): Raise if an image is missing or its size differs from the
            XML. Defaults to True.

    Returns:
        dict: COCO ``images``, ``annotations``, ``categories``.
    """
    ann_dir = osp.join(root, 'VOC2012', 'Annotations')
    img_dir = osp.join(root, 'VOC2012', 'JPEGImages')
    coco = dict(images=[], annotations=[], categories=SIM10K_CATEGORIES)
    for img_id, xml_file in enumerate(list_xml_files(ann_dir, image_set)):
        if not osp.isfile(xml_file):
            raise FileNotFoundError(f'annotation not found: {xml_file}')
        record = parse_voc_xml(xml_file, difficult=difficult)
        if check_images:
            img_path = osp.join(img_dir, record['file_name'])
            if not osp.isfile(img_path):
                raise FileNotFoundError(f'image of {xml_file} not found: {img_path}')
            img_w, img_h = image_size(img_path)
            if (img_w, img_h) != (record['width'], record['height']):
                raise ConverterError(f'{img_path} is {img_w}x{img_h} but {xml_file} says '
                                     f'{record["width"]}x{record["height"]}')
        coco['images'].append(
            dict(id=img_id, file_name=record['file_name'], width=record['width'], height=record['height']))
        for obj in record['objects']:
            x, y, w, h = obj['bbox']
            coco['annotations'].append(
                dict(
                    id=len(coco['annotations']),
                    image_id=img_id,
                    category_id=1,
                    bbox=[x, y, w, h],
                    area=w * h,
                    iscrowd=obj['iscrowd']))
    return coco


def _inputs(root: str, coco: dict, image_set: Optional[str]) -> List[str]:
    ann_dir = osp.join(root, 'VOC2012', 'Annotations')
    stems = [osp.splitext(i['file_name'])[0] for i in coco['images']]
    files = [osp.join(ann_dir, s + '.xml') for s in stems]
    files += [osp.join(root, 'VOC2012', 'JPEGImages', i['file_name']) for i in coco['images']]
    return files + ([image_set] if image_set else [])


@exit_on_error
def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(description='Sim10k VOC XML to COCO JSON (car), Cityscapes to car only')
    parser.add_argument('root', help='Sim10k root (VOC2012/Annotations, VOC2012/JPEGImages)')
    parser.add_argument('--image-set', help='optional list of image ids (default: all XML files)')
    parser.add_argument('-o', '--out', help='output JSON (default: <root>/annotations/sim10k_car.json)')
    parser.add_argument(
        '--difficult',
        choices=DIFFICULT_MODES,
        default='keep',
        help='difficult boxes: ordinary boxes as DA-Faster (keep), iscrowd=1 (ignore), or drop')
    parser.add_argument('--cityscapes-root', help='also write Cityscapes {train,val} car-only JSON files')
    args = parser.parse_args(argv)

    out = args.out or osp.join(args.root, 'annotations', 'sim10k_car.json')
    coco = convert_sim10k(args.root, args.image_set, args.difficult)
    with OutputTransaction(inputs=_inputs(args.root, coco, args.image_set)) as transaction:
        transaction.write_json(out, coco)
        if args.cityscapes_root:
            from cityscapes_foggy import convert  # sibling script
            convert(args.cityscapes_root, classes=('car', ), foggy_betas=(), transaction=transaction)
    print(f'{out}: {len(coco["images"])} images, {len(coco["annotations"])} car boxes')


if __name__ == '__main__':
    main()
