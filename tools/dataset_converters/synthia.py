# Copyright (c) mmcontrast contributors. Licensed under the Apache License 2.0.
"""Convert SYNTHIA-RAND-CITYSCAPES labels to Cityscapes train ids + RCS class statistics.

SYNTHIA's ``GT/LABELS/*.png`` are 16-bit multi-channel PNGs: the first (R) channel holds
the class id (0..22), the second (G) the instance id (see the dataset's README). OpenCV
reads them in BGR order, so the class id is channel 2. The 16 classes shared with
Cityscapes map to their train ids, the rest to 255. Writes ``GT/LABELS/*_labelTrainIds.png``,
``sample_class_stats.json`` and ``samples_with_class.json`` into the data root.

Every label is checked before anything is written: an 8-bit RGB image given as a label
(its colours would pass for class ids), a truncated PNG or class ids above 22 fail the run
naming the file, and the outputs of an earlier run (converted maps and class statistics)
are replaced only when every file has converted.

Usage::

    python tools/dataset_converters/synthia.py data/synthia --nproc 8
"""
import argparse
import os.path as osp
import sys
from typing import List, Optional

import cv2
import numpy as np

from mmcontrast.datasets.synthia import SYNTHIA_ID_TO_TRAINID
from mmcontrast.datasets.uda_dataset import find_label_files, map_label_ids

# The sibling helper module, also when this file is loaded by path (tests).
sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from _converter_io import ConverterError, convert_label_maps, exit_on_error

OUT_SUFFIX = '_labelTrainIds.png'
MAX_CLASS_ID = 22  # void(0) .. lanemarking(22) in SYNTHIA-RAND-CITYSCAPES' README


def read_synthia_class_ids(file: str) -> np.ndarray:
    """Class-id channel of a SYNTHIA label PNG, checked.

    Raises:
        FileNotFoundError: If ``file`` does not exist.
        ConverterError: Naming ``file`` if it cannot be decoded (e.g. truncated), is not
            a 16-bit multi-channel PNG, or holds class ids above 22.
    """
    if not osp.isfile(file):
        raise FileNotFoundError(f'SYNTHIA label not found: {file}')
    label = cv2.imread(file, cv2.IMREAD_UNCHANGED)
    if label is None:
        raise ConverterError(f'{file}: cannot decode the PNG (truncated or not an image)')
    if label.ndim != 3 or label.shape[2] < 3:
        raise ConverterError(f'{file}: expected a multi-channel SYNTHIA label PNG (class id in R), got shape '
                             f'{label.shape}')
    if label.dtype != np.uint16:
        raise ConverterError(f'{file}: SYNTHIA labels are 16-bit PNGs, got {label.dtype}: '
                             'an RGB image given as a label map?')
    class_ids = label[:, :, 2]
    if class_ids.max() > MAX_CLASS_ID:
        bad = np.unique(class_ids[class_ids > MAX_CLASS_ID])[:5].tolist()
        raise ConverterError(f'{file}: class ids {bad} are above {MAX_CLASS_ID}: not a SYNTHIA label map')
    return class_ids


def synthia_train_ids(file: str) -> np.ndarray:
    """``uint8`` train-id map of one SYNTHIA label file."""
    return map_label_ids(read_synthia_class_ids(file), SYNTHIA_ID_TO_TRAINID)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Convert SYNTHIA labels to Cityscapes train ids')
    parser.add_argument('synthia_path', help='SYNTHIA-RAND-CITYSCAPES root (with RGB/ and GT/LABELS/)')
    parser.add_argument('--gt-dir', default='GT/LABELS', help='label folder under the root')
    parser.add_argument('--nproc', type=int, default=4, help='worker processes')
    return parser.parse_args(argv)


@exit_on_error
def main(argv: Optional[List[str]] = None) -> None:
    args = parse_args(argv)
    files = find_label_files(osp.join(args.synthia_path, args.gt_dir), OUT_SUFFIX)
    convert_label_maps(files, synthia_train_ids, args.synthia_path, OUT_SUFFIX, args.nproc)
    print(f'converted {len(files)} labels; class statistics in {args.synthia_path}')


if __name__ == '__main__':
    main()
