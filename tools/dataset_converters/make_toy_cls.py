# Copyright (c) mmcontrast contributors. Licensed under the Apache License 2.0.
"""Generate the toy 10-class 32x32 classification set in the CIFAR-10 python format.

    python tools/dataset_converters/make_toy_cls.py --out data/toy_cls

Then use ``dict(type='CIFAR10', data_root='data/toy_cls')`` (see
``configs/_base_/datasets/toy_cls_ssl.py``).
"""
import argparse

from mmcontrast.datasets.toy_cls import make_toy_cls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--out', default='data/toy_cls', help='output root (data_root of CIFAR10)')
    parser.add_argument('--train-per-class', type=int, default=500)
    parser.add_argument('--test-per-class', type=int, default=100)
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args()
    folder = make_toy_cls(args.out, args.train_per_class, args.test_per_class, args.seed)
    print(f'wrote {folder}')


if __name__ == '__main__':
    main()
