# Copyright (c) mmcontrast contributors. Licensed under the Apache License 2.0.
"""Convert SYNTHIA-RAND-CITYSCAPES labels to Cityscapes train ids + RCS class statistics.

SYNTHIA's ``GT/LABELS/*.png`` are 16-bit multi-channel PNGs: the first (R) channel holds
the class id, the second (G) the instance id (see the dataset's README). OpenCV reads them
in BGR order, so the class id is channel 2. The 16 classes shared with Cityscapes map to
their train ids, the rest to 255. Writes ``GT/LABELS/*_labelTrainIds.png``,
``sample_class_stats.json`` and ``samples_with_class.json`` into the data root.

Usage::

    python tools/dataset_converters/synthia.py data/synthia --nproc 8
"""
import argparse
import os.path as osp

import cv2
import numpy as np
from PIL import Image

from mmcontrast.datasets.synthia import SYNTHIA_ID_TO_TRAINID
from mmcontrast.datasets.uda_dataset import convert_label_files, find_label_files, map_label_ids

OUT_SUFFIX = '_labelTrainIds.png'


def read_synthia_class_ids(file: str) -> np.ndarray:
    """Class-id channel of a SYNTHIA label PNG."""
    label = cv2.imread(file, cv2.IMREAD_UNCHANGED)
    if label is None:
        raise FileNotFoundError(f'cannot read {file}')
    if label.ndim != 3 or label.shape[2] < 3:
        raise ValueError(f'{file}: expected a multi-channel SYNTHIA label PNG (class id in R), got shape '
                         f'{label.shape}')
    return label[:, :, 2]


def convert_synthia_label(file: str) -> str:
    """Write the train-id map of one SYNTHIA label file; returns its path."""
    out = file[:-len('.png')] + OUT_SUFFIX
    Image.fromarray(map_label_ids(read_synthia_class_ids(file), SYNTHIA_ID_TO_TRAINID)).save(out)
    return out


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Convert SYNTHIA labels to Cityscapes train ids')
    parser.add_argument('synthia_path', help='SYNTHIA-RAND-CITYSCAPES root (with RGB/ and GT/LABELS/)')
    parser.add_argument('--gt-dir', default='GT/LABELS', help='label folder under the root')
    parser.add_argument('--nproc', type=int, default=4, help='worker processes')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    files = find_label_files(osp.join(args.synthia_path, args.gt_dir), OUT_SUFFIX)
    convert_label_files(files, convert_synthia_label, args.synthia_path, args.nproc)
    print(f'converted {len(files)} labels; class statistics in {args.synthia_path}')


if __name__ == '__main__':
    main()
