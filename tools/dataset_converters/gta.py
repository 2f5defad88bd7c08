# Copyright (c) mmcontrast contributors. Licensed under the Apache License 2.0.
"""Convert GTA5 labels to Cityscapes train ids and write the RCS class statistics.

GTA5 label PNGs (``labels/*.png``) are palette ('P') images whose pixel indices are
Cityscapes label ids. Writes ``labels/*_labelTrainIds.png`` (8-bit, 255 = ignore),
``sample_class_stats.json`` and ``samples_with_class.json`` into the data root.

Usage::

    python tools/dataset_converters/gta.py data/gta --nproc 8
"""
import argparse
import os.path as osp

import numpy as np
from PIL import Image

from mmcontrast.datasets.gta import GTA_ID_TO_TRAINID
from mmcontrast.datasets.uda_dataset import convert_label_files, find_label_files, map_label_ids

OUT_SUFFIX = '_labelTrainIds.png'


def convert_gta_label(file: str) -> str:
    """Write the train-id map of one GTA5 label file; returns its path."""
    img = Image.open(file)
    if img.mode not in ('P', 'L'):
        raise ValueError(f'{file}: expected a palette (P) PNG of Cityscapes label ids, got mode {img.mode}')
    out = file[:-len('.png')] + OUT_SUFFIX
    Image.fromarray(map_label_ids(np.asarray(img), GTA_ID_TO_TRAINID)).save(out)
    return out


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Convert GTA5 labels to Cityscapes train ids')
    parser.add_argument('gta_path', help='GTA5 data root (with images/ and labels/)')
    parser.add_argument('--gt-dir', default='labels', help='label folder under the root')
    parser.add_argument('--nproc', type=int, default=4, help='worker processes')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    files = find_label_files(osp.join(args.gta_path, args.gt_dir), OUT_SUFFIX)
    convert_label_files(files, convert_gta_label, args.gta_path, args.nproc)
    print(f'converted {len(files)} labels; class statistics in {args.gta_path}')


if __name__ == '__main__':
    main()
