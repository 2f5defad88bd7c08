"""CIFAR, STL-10 and image-folder datasets on tiny files written in their real formats."""
import os
import pickle

import cv2
import numpy as np
import pytest

from mmcontrast.datasets import CIFAR10, CIFAR100, STL10, ImageFolder, ToyCls, ensure_toy_cls, make_toy_cls
from mmcontrast.datasets.toy_cls import TOY_CLASSES, TOY_CLS_VERSION, read_toy_cls_info, render_toy_image


def _write_cifar_batch(path, images_rgb, labels, label_key=b'labels'):
    """A CIFAR python batch: bytes keys, (N, 3072) uint8 rows in CHW RGB order, protocol 2."""
    data = np.stack(images_rgb).transpose(0, 3, 1, 2).reshape(len(images_rgb), -1)
    with open(path, 'wb') as f:
        pickle.dump({b'batch_label': b'x', b'data': data, label_key: list(labels),
                     b'filenames': [b'a.png'] * len(labels)}, f, protocol=2)


def _rgb(seed, n):
    return [np.random.default_rng(seed + i).integers(0, 256, (32, 32, 3), dtype=np.uint8) for i in range(n)]


def test_cifar10_reads_the_python_format(tmp_path):
    folder = tmp_path / 'cifar-10-batches-py'
    folder.mkdir()
    train = {}
    for i in range(1, 6):
        imgs = _rgb(10 * i, 2)
        train[i] = imgs
        _write_cifar_batch(folder / f'data_batch_{i}', imgs, [i, (i + 3) % 10])
    test_imgs = _rgb(99, 3)
    _write_cifar_batch(folder / 'test_batch', test_imgs, [0, 1, 2])
    with open(folder / 'batches.meta', 'wb') as f:
        pickle.dump({b'label_names': [f'c{i}'.encode() for i in range(10)]}, f, protocol=2)

    ds = CIFAR10(str(tmp_path), split='train', pipeline=[])
    assert len(ds) == 10 and ds.metainfo['classes'][3] == 'c3'
    item = ds[2]  # first image of data_batch_2
    assert item['gt_label'] == 2 and item['sample_idx'] == 2
    np.testing.assert_array_equal(item['img'], train[2][0][..., ::-1])  # stored BGR
    test = CIFAR10(str(tmp_path), split='test', pipeline=[], metainfo=dict(classes=tuple('abcdefghij')))
    assert [test[i]['gt_label'] for i in range(3)] == [0, 1, 2] and test.metainfo['classes'][0] == 'a'
    assert test.get_gt_labels().tolist() == [0, 1, 2]


def test_cifar100_fine_labels(tmp_path):
    folder = tmp_path / 'cifar-100-python'
    folder.mkdir()
    _write_cifar_batch(folder / 'train', _rgb(0, 4), [5, 99, 0, 42], label_key=b'fine_labels')
    _write_cifar_batch(folder / 'test', _rgb(9, 1), [7], label_key=b'fine_labels')
    with open(folder / 'meta', 'wb') as f:
        pickle.dump({b'fine_label_names': [f'f{i}'.encode() for i in range(100)]}, f, protocol=2)
    ds = CIFAR100(str(tmp_path), split='train', pipeline=[])
    assert [ds[i]['gt_label'] for i in range(4)] == [5, 99, 0, 42]
    assert len(ds.metainfo['classes']) == 100


def test_cifar_refuses_bad_files(tmp_path):
    with pytest.raises(FileNotFoundError, match='cifar-10-batches-py'):
        CIFAR10(str(tmp_path))
    folder = tmp_path / 'cifar-10-batches-py'
    folder.mkdir()
    for i in range(1, 6):
        with open(folder / f'data_batch_{i}', 'wb') as f:  # a pickle that would run code
            pickle.dump({b'data': os.system}, f, protocol=2)
    with pytest.raises(pickle.UnpicklingError, match='not allowed'):
        CIFAR10(str(tmp_path))
    with pytest.raises(ValueError, match="'train' or 'test'"):
        CIFAR10(str(tmp_path), split='val')


def test_stl10_binary_format(tmp_path):
    folder = tmp_path / 'stl10_binary'
    folder.mkdir()
    rng = np.random.default_rng(0)
    imgs = {p: rng.integers(0, 256, (n, 96, 96, 3), dtype=np.uint8) for p, n in (('train', 3), ('unlabeled', 2))}
    for part, arr in imgs.items():
        # official layout: per image, channel planes stored column-major (W before H)
        arr.transpose(0, 3, 2, 1).tofile(folder / f'{part}_X.bin')
    np.array([1, 10, 4], dtype=np.uint8).tofile(folder / 'train_y.bin')
    ds = STL10(str(tmp_path), split='train+unlabeled', pipeline=[])
    assert len(ds) == 5
    assert [ds[i]['gt_label'] for i in range(5)] == [0, 9, 3, -1, -1]
    np.testing.assert_array_equal(ds[1]['img'], imgs['train'][1][..., ::-1])
    np.testing.assert_array_equal(ds[4]['img'], imgs['unlabeled'][1][..., ::-1])
    np.array([1, 2], dtype=np.uint8).tofile(folder / 'train_y.bin')
    with pytest.raises(ValueError, match='2 labels for 3 images'):
        STL10(str(tmp_path), split='train')
    with pytest.raises(FileNotFoundError, match='test_X.bin'):
        STL10(str(tmp_path), split='test')


def test_image_folder_scan_and_ann_file(tmp_path):
    for cls, n in (('n02', 2), ('n01', 1)):
        (tmp_path / 'train' / cls).mkdir(parents=True)
        for i in range(n):
            cv2.imwrite(str(tmp_path / 'train' / cls / f'{i}.JPEG'), np.full((8, 8, 3), i, np.uint8))
    (tmp_path / 'train' / 'n01' / 'notes.txt').write_text('not an image')
    pipeline = [dict(type='LoadImageFromFile')]
    ds = ImageFolder(str(tmp_path), data_prefix='train', pipeline=pipeline)
    assert ds.metainfo['classes'] == ('n01', 'n02') and len(ds) == 3
    assert [ds[i]['gt_label'] for i in range(3)] == [0, 1, 1] and ds[0]['img'].shape == (8, 8, 3)
    sub = ImageFolder(str(tmp_path), data_prefix='train', metainfo=dict(classes=('n02', )), pipeline=[])
    assert len(sub) == 2 and sub[0]['gt_label'] == 0
    (tmp_path / 'train.txt').write_text('n02/1.JPEG 5\nn01/0.JPEG 3\n')
    listed = ImageFolder(str(tmp_path), data_prefix='train', ann_file='train.txt', pipeline=pipeline,
                         metainfo=dict(classes=tuple(str(i) for i in range(6))))
    assert [listed[i]['gt_label'] for i in range(2)] == [5, 3]
    with pytest.raises(FileNotFoundError, match='lacks class folders'):
        ImageFolder(str(tmp_path), data_prefix='train', metainfo=dict(classes=('n03', )))


def test_toy_cls_is_real_cifar10(tmp_path):
    folder = make_toy_cls(str(tmp_path), num_train_per_class=2, num_test_per_class=1, seed=3)
    assert sorted(os.listdir(folder)) == ['batches.meta', 'data_batch_1', 'data_batch_2', 'data_batch_3',
                                          'data_batch_4', 'data_batch_5', 'test_batch', 'toy_cls.json']
    ds = CIFAR10(str(tmp_path), split='train', pipeline=[])
    assert len(ds) == 20 and ds.metainfo['classes'] == TOY_CLASSES
    assert sorted(ds.get_gt_labels().tolist()) == sorted(list(range(10)) * 2)
    again = tmp_path / 'again'
    make_toy_cls(str(again), num_train_per_class=2, num_test_per_class=1, seed=3)
    with open(os.path.join(folder, 'test_batch'), 'rb') as a, open(again / 'cifar-10-batches-py/test_batch', 'rb') as b:
        assert a.read() == b.read()  # deterministic by seed
    ensure_toy_cls(str(tmp_path / 'auto'), num_train_per_class=1, num_test_per_class=2)  # generates
    auto = ToyCls(str(tmp_path / 'auto'), split='test', pipeline=[])  # complete: not regenerated
    assert len(auto) == 20 and auto[0]['img'].shape == (32, 32, 3)


def test_ensure_toy_cls_regenerates_stale_data(tmp_path):
    root = str(tmp_path)
    folder = make_toy_cls(root, num_train_per_class=1, num_test_per_class=1, seed=1)
    assert read_toy_cls_info(root) == dict(version=TOY_CLS_VERSION, num_train_per_class=1, num_test_per_class=1,
                                           seed=1)
    info = os.path.join(folder, 'toy_cls.json')
    stamp = os.path.getmtime(os.path.join(folder, 'test_batch'))
    ensure_toy_cls(root, num_train_per_class=1, num_test_per_class=1)  # current version: kept as it is
    assert os.path.getmtime(os.path.join(folder, 'test_batch')) == stamp and read_toy_cls_info(root)['seed'] == 1
    for stale in ('{"version": 1}', None):  # an older generator, or data from before the version file
        if stale is None:
            os.remove(info)
        else:
            with open(info, 'w') as f:
                f.write(stale)
        ensure_toy_cls(root, num_train_per_class=1, num_test_per_class=2)
        assert read_toy_cls_info(root)['version'] == TOY_CLS_VERSION
        assert len(CIFAR10(root, split='test', pipeline=[])) == 20


def test_toy_cls_class_is_the_texture_not_the_colour():
    rng = np.random.default_rng(0)
    per_class = 30
    labels = np.repeat(np.arange(len(TOY_CLASSES)), per_class)
    imgs = np.stack([render_toy_image(int(lb), rng) for lb in labels]).astype(np.float64)
    with pytest.raises(ValueError, match='label'):
        render_toy_image(len(TOY_CLASSES), rng)
    # The motif covers the whole image: every quadrant (a crop a quarter of the image) holds
    # both motif and background, i.e. has contrast.
    quadrants = [imgs[:, y:y + 16, x:x + 16].reshape(len(imgs), -1, 3) for y in (0, 16) for x in (0, 16)]
    luma = [q @ np.array([0.299, 0.587, 0.114]) for q in quadrants]
    assert min(float(q.std(axis=1).min()) for q in luma) > 10
    # Colour statistics carry (almost) no class information: leave-one-out 1-NN on the
    # per-image mean and std of each channel stays near chance (10%; 16.7% with this seed,
    # since the std also reflects how much of the image the motif covers).
    stats = np.concatenate([imgs.mean(axis=(1, 2)), imgs.std(axis=(1, 2))], axis=1)
    stats = (stats - stats.mean(0)) / stats.std(0)
    dist = ((stats[:, None] - stats[None]) ** 2).sum(-1)
    np.fill_diagonal(dist, np.inf)
    colour_acc = float((labels[dist.argmin(1)] == labels).mean())
    assert colour_acc < 0.25, colour_acc
