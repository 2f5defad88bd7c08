"""Split a CIFAR-format dataset into in-distribution classes and withheld (OOD) classes.

    python tools/dataset_converters/withhold_classes.py data/toy_cls data/toy_cls_withheld \
        --withhold cross diamond

writes ``OUT/id/cifar-10-batches-py`` (the other classes, labels renumbered in their
original order, train and test) and ``OUT/ood/cifar-10-batches-py`` (the withheld
classes, train and test), both loadable by ``dict(type='CIFAR10', data_root=...)``.
Train on ``id``, then score OOD detection with ``tools/analysis_tools/ood_eval.py``.
"""
import argparse
import os
import os.path as osp
import pickle
from typing import List, Sequence

import numpy as np

from mmcontrast.datasets.cifar import CIFAR10, load_cifar_pickle


def _write(path: str, obj: dict) -> None:
    # The official layout: protocol-2 pickles with bytes keys.
    with open(path + '.tmp', 'wb') as f:
        pickle.dump(obj, f, protocol=2)
    os.replace(path + '.tmp', path)


def _write_split(folder: str, names: Sequence[str], train: List[tuple], test: tuple) -> None:
    os.makedirs(folder, exist_ok=True)
    _write(osp.join(folder, CIFAR10.meta_file), {b'label_names': [n.encode() for n in names]})
    for i, (data, labels) in enumerate(train, start=1):
        _write(osp.join(folder, f'data_batch_{i}'),
               {b'batch_label': f'batch {i}'.encode(), b'data': data, b'labels': labels})
    _write(osp.join(folder, 'test_batch'), {b'batch_label': b'test', b'data': test[0], b'labels': test[1]})


def withhold_classes(src: str, out: str, withhold: Sequence[str]) -> List[str]:
    """Write the ``id`` and ``ood`` copies of ``src``; return the ``id`` class names."""
    folder = osp.join(src, CIFAR10.base_folder)
    names = list(load_cifar_pickle(osp.join(folder, CIFAR10.meta_file))[CIFAR10.names_key])
    unknown = [n for n in withhold if n not in names]
    if unknown or not withhold:
        raise ValueError(f'--withhold must name classes of {folder}: unknown {unknown}; classes: {names}')
    id_names = [n for n in names if n not in withhold]
    ood_names = [n for n in names if n in withhold]
    if len(id_names) < 2:
        raise ValueError(f'withholding {list(withhold)} leaves fewer than 2 in-distribution classes')
    id_map = {names.index(n): i for i, n in enumerate(id_names)}
    ood_map = {names.index(n): i for i, n in enumerate(ood_names)}

    def split(files):
        ids, oods = [], []
        for name in files:
            batch = load_cifar_pickle(osp.join(folder, name))
            data, labels = np.asarray(batch['data'], dtype=np.uint8), np.asarray(batch['labels'])
            for mapping, dest in ((id_map, ids), (ood_map, oods)):
                keep = np.isin(labels, list(mapping))
                dest.append((data[keep], [mapping[int(lb)] for lb in labels[keep]]))
        return ids, oods

    train_id, train_ood = split(CIFAR10.train_files)
    (test_id, ), (test_ood, ) = split(CIFAR10.test_files)
    _write_split(osp.join(out, 'id', CIFAR10.base_folder), id_names, train_id, test_id)
    _write_split(osp.join(out, 'ood', CIFAR10.base_folder), ood_names, train_ood, test_ood)
    return id_names


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('src', help='data_root of the source CIFAR-format set (holds cifar-10-batches-py)')
    parser.add_argument('out', help='output root; writes OUT/id and OUT/ood')
    parser.add_argument('--withhold', nargs='+', required=True, help='class names to withhold as OOD')
    args = parser.parse_args()
    id_names = withhold_classes(args.src, args.out, args.withhold)
    print(f'in-distribution classes ({len(id_names)}): {id_names}; withheld: {args.withhold}')


if __name__ == '__main__':
    main()
