# Copyright (c) mmcontrast contributors. Licensed under the Apache License 2.0.
"""Generate the toy 10-class 32x32 classification set in the CIFAR-10 python format.

    python tools/dataset_converters/make_toy_cls.py --out data/toy_cls

Then use ``dict(type='CIFAR10', data_root='data/toy_cls')`` (see
``configs/_base_/datasets/toy_cls_ssl.py``).

Safe to run concurrently: generation holds the exclusive lock ``<out>.lock`` (the lock of
``make_toy_uda.py``), writes into a temporary folder and renames it into place, so a
reader never sees a half-written set and two runs never mix their files. A set that
exists with other parameters is refused (``--force`` replaces it).
"""
import argparse
import os
import os.path as osp
import shutil
import sys
import tempfile
from typing import Optional

from mmcontrast.datasets.toy_cls import TOY_CLS_VERSION, make_toy_cls, read_toy_cls_info
from mmcontrast.utils.file_lock import exclusive_lock

FOLDER = 'cifar-10-batches-py'


def _requested(train_per_class: int, test_per_class: int, seed: int) -> dict:
    return dict(
        version=TOY_CLS_VERSION, num_train_per_class=train_per_class, num_test_per_class=test_per_class, seed=seed)


def _existing(out: str) -> Optional[dict]:
    """The recorded parameters of a complete set under ``out``, else None."""
    info = read_toy_cls_info(out)
    needed = [f'data_batch_{i}' for i in range(1, 6)] + ['test_batch', 'batches.meta']
    if info is None or not all(osp.isfile(osp.join(out, FOLDER, n)) for n in needed):
        return None
    return info


def generate(out: str,
             train_per_class: int = 500,
             test_per_class: int = 100,
             seed: int = 0,
             force: bool = False) -> bool:
    """Generate the set under ``out`` unless it is there with these parameters.

    Args:
        out (str): Output root (``data_root`` of ``CIFAR10``).
        train_per_class (int): Training images per class. Defaults to 500.
        test_per_class (int): Test images per class. Defaults to 100.
        seed (int): Generation seed. Defaults to 0.
        force (bool): Replace a set generated with other parameters. Defaults to False.

    Returns:
        bool: True if it was generated, False if an identical set was there already.

    Raises:
        ValueError: If a set with other parameters exists and ``force`` is False.
    """
    for name, value in (('train_per_class', train_per_class), ('test_per_class', test_per_class)):
        if value < 1:
            raise ValueError(f'{name} must be >= 1, got {value}')
    requested = _requested(train_per_class, test_per_class, seed)
    os.makedirs(out, exist_ok=True)
    with exclusive_lock(out):
        # read under the lock: a concurrent run may have just finished
        found = _existing(out)
        if found == requested and not force:
            return False
        if found is not None and not force:
            differ = {k: (found.get(k), v) for k, v in requested.items() if found.get(k) != v}
            raise ValueError(f'the toy set at {out} was generated with other parameters (found, requested): '
                             f'{differ}; pass --force to replace it')
        tmp = tempfile.mkdtemp(prefix=f'.{FOLDER}-tmp-', dir=out)
        try:
            make_toy_cls(tmp, train_per_class, test_per_class, seed)
            final = osp.join(out, FOLDER)
            if osp.lexists(final):
                # move the old set aside first: the rename into place is then atomic
                trash = tempfile.mkdtemp(prefix=f'.{FOLDER}-old-', dir=out)
                os.rename(final, osp.join(trash, FOLDER))
                os.rename(osp.join(tmp, FOLDER), final)
                shutil.rmtree(trash, ignore_errors=True)
            else:
                os.rename(osp.join(tmp, FOLDER), final)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--out', default='data/toy_cls', help='output root (data_root of CIFAR10)')
    parser.add_argument('--train-per-class', type=int, default=500)
    parser.add_argument('--test-per-class', type=int, default=100)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--force', action='store_true', help='replace a set generated with other parameters')
    args = parser.parse_args()
    try:
        made = generate(args.out, args.train_per_class, args.test_per_class, args.seed, args.force)
    except ValueError as e:
        sys.exit(f'make_toy_cls.py: {e}')
    folder = osp.join(args.out, FOLDER)
    print(f'wrote {folder}' if made else f'{folder} is up to date')


if __name__ == '__main__':
    main()
