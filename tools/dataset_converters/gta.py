# Copyright (c) mmcontrast contributors. Licensed under the Apache License 2.0.
"""Convert GTA5 labels to Cityscapes train ids and write the RCS class statistics.

GTA5 label PNGs (``labels/*.png``) are palette ('P') images whose pixel indices are
Cityscapes label ids. Writes ``labels/*_labelTrainIds.png`` (8-bit, 255 = ignore),
``sample_class_stats.json`` and ``samples_with_class.json`` into the data root.

Every label is checked before anything is written (an RGB or grey photo given as a label,
a truncated PNG, values that are no Cityscapes label id fail the run naming the file),
and the outputs replace those of an earlier run only when every file has converted.

Usage::

    python tools/dataset_converters/gta.py data/gta --nproc 8
"""
import argparse
import os.path as osp
import sys
from typing import List, Optional

import numpy as np

from mmcontrast.datasets.gta import GTA_ID_TO_TRAINID
from mmcontrast.datasets.uda_dataset import find_label_files, map_label_ids

# The sibling helper module, also when this file is loaded by path (tests).
sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from _converter_io import ConverterError, convert_label_maps, exit_on_error, open_image

OUT_SUFFIX = '_labelTrainIds.png'
# Cityscapes label ids are 0..33; 34 and 255 occur as void in some GTA5 label files and,
# like every id without a train id, become 255. Anything else means the file is no label map.
VALID_IDS = frozenset(range(35)) | {255}


def gta_train_ids(file: str) -> np.ndarray:
    """Read and check one GTA5 label file; return its ``uint8`` train-id map.

    Raises:
        ConverterError: Naming ``file`` if it cannot be decoded, is not a single-channel
            (palette or grey) image, or holds values that are no Cityscapes label ids.
    """
    img = open_image(file, 'GTA5 label map')
    if img.mode not in ('P', 'L'):
        raise ConverterError(f'{file}: expected a palette (P) PNG of Cityscapes label ids, got mode {img.mode}')
    ids = np.asarray(img)
    values = np.unique(ids)
    bad = [int(v) for v in values if int(v) not in VALID_IDS]
    if bad:
        raise ConverterError(f'{file}: values {bad[:5]} are no Cityscapes label ids (0..34, 255): '
                             'an image given as a label map?')
    return map_label_ids(ids, GTA_ID_TO_TRAINID)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Convert GTA5 labels to Cityscapes train ids')
    parser.add_argument('gta_path', help='GTA5 data root (with images/ and labels/)')
    parser.add_argument('--gt-dir', default='labels', help='label folder under the root')
    parser.add_argument('--nproc', type=int, default=4, help='worker processes')
    return parser.parse_args(argv)


@exit_on_error
def main(argv: Optional[List[str]] = None) -> None:
    args = parse_args(argv)
    files = find_label_files(osp.join(args.gta_path, args.gt_dir), OUT_SUFFIX)
    convert_label_maps(files, gta_train_ids, args.gta_path, OUT_SUFFIX, args.nproc)
    print(f'converted {len(files)} labels; class statistics in {args.gta_path}')


if __name__ == '__main__':
    main()
