"""CIFAR-10 / CIFAR-100 in their official python pickle format."""
import os.path as osp
import pickle
from typing import Any, Dict, List

import numpy as np
from mmengine.dataset import BaseDataset

from mmcontrast.registry import DATASETS

# The official files are python-2 pickles of dicts with numpy arrays: these are the
# only globals they reference. Anything else in a downloaded "CIFAR" file is refused.
_CIFAR_PICKLE_GLOBALS = {
    ('numpy.core.multiarray', '_reconstruct'),
    ('numpy._core.multiarray', '_reconstruct'),
    ('numpy.core.multiarray', 'scalar'),
    ('numpy._core.multiarray', 'scalar'),
    ('numpy', 'ndarray'),
    ('numpy', 'dtype'),
    ('_codecs', 'encode'),
}


class _CIFARUnpickler(pickle.Unpickler):

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in _CIFAR_PICKLE_GLOBALS:
            raise pickle.UnpicklingError(
                f'{module}.{name} is not allowed in a CIFAR pickle (only numpy arrays are)')
        return super().find_class(module, name)


def load_cifar_pickle(path: str) -> Dict[str, Any]:
    """Load one CIFAR batch/meta file with str keys (the files use bytes keys).

    Args:
        path (str): A file such as ``cifar-10-batches-py/data_batch_1``.

    Returns:
        dict: The unpickled dict, keys and string values decoded as latin-1.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'CIFAR file not found: {path}')
    with open(path, 'rb') as f:
        raw = _CIFARUnpickler(f, encoding='bytes').load()
    if not isinstance(raw, dict):
        raise ValueError(f'{path} is not a CIFAR pickle (a dict), got {type(raw).__name__}')

    def _str(x):
        return x.decode('latin1') if isinstance(x, bytes) else x

    return {_str(k): ([_str(i) for i in v] if isinstance(v, list) else v) for k, v in raw.items()}


@DATASETS.register_module()
class CIFAR10(BaseDataset):
    """CIFAR-10 from ``data_root/cifar-10-batches-py`` (the official python version).

    Each item is ``dict(img=HxWx3 uint8 BGR, gt_label=int, sample_idx=int)``; BGR like
    every image that ``mmcv.imread`` loads, so pipelines and data preprocessors
    (``bgr_to_rgb=True``) are the same for every dataset here. Class names come from
    ``batches.meta`` when it exists.

    Args:
        data_root (str): The folder that holds ``cifar-10-batches-py``.
        split (str): ``'train'`` (the five data batches) or ``'test'``.
        **kwargs: Passed to :class:`mmengine.dataset.BaseDataset` (``pipeline``,
            ``test_mode``, ``indices``, ``metainfo`` ...).
    """

    METAINFO = dict(classes=('airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse',
                             'ship', 'truck'))
    base_folder = 'cifar-10-batches-py'
    train_files = tuple(f'data_batch_{i}' for i in range(1, 6))
    test_files = ('test_batch', )
    meta_file = 'batches.meta'
    label_key = 'labels'
    names_key = 'label_names'

    def __init__(self, data_root: str, split: str = 'train', **kwargs) -> None:
        if split not in ('train', 'test'):
            raise ValueError(f"split must be 'train' or 'test', got {split!r}")
        self.split = split
        # Class names given in the config win over those in the meta file.
        self._classes_from_cfg = 'classes' in (kwargs.get('metainfo') or {})
        super().__init__(data_root=data_root, **kwargs)

    def load_data_list(self) -> List[dict]:
        folder = osp.join(self.data_root, self.base_folder)
        if not osp.isdir(folder):
            raise FileNotFoundError(
                f'{folder} does not exist: download the python version of {type(self).__name__} and '
                f'extract it into {self.data_root}')
        meta_path = osp.join(folder, self.meta_file)
        if osp.isfile(meta_path) and not self._classes_from_cfg:
            self._metainfo['classes'] = tuple(load_cifar_pickle(meta_path)[self.names_key])
        images, labels = [], []
        for name in self.train_files if self.split == 'train' else self.test_files:
            batch = load_cifar_pickle(osp.join(folder, name))
            data = np.asarray(batch['data'], dtype=np.uint8)
            if data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
                raise ValueError(f'{name}: expected data of shape (N, 3072), got {data.shape}')
            images.append(data.reshape(-1, 3, 32, 32))
            labels.extend(int(x) for x in batch[self.label_key])
        images = np.concatenate(images)
        if len(labels) != len(images):
            raise ValueError(f'{folder}: {len(images)} images but {len(labels)} labels')
        num_classes = len(self._metainfo['classes'])
        if labels and not 0 <= min(labels) <= max(labels) < num_classes:
            raise ValueError(f'{folder}: labels outside [0, {num_classes})')
        # CHW RGB -> HWC BGR, contiguous so that transforms can write into it.
        images = np.ascontiguousarray(images.transpose(0, 2, 3, 1)[..., ::-1])
        return [dict(img=img, gt_label=label) for img, label in zip(images, labels)]

    def get_data_info(self, idx: int) -> dict:
        info = super().get_data_info(idx)
        info['img_shape'] = info['ori_shape'] = info['img'].shape[:2]
        return info

    def get_gt_labels(self) -> np.ndarray:
        """All labels in dataset order, for kNN monitors and clustering hooks."""
        return np.array([self.get_data_info(i)['gt_label'] for i in range(len(self))])


@DATASETS.register_module()
class CIFAR100(CIFAR10):
    """CIFAR-100 (fine labels) from ``data_root/cifar-100-python``.

    Args: as :class:`CIFAR10`.
    """

    METAINFO = dict(classes=tuple(f'class_{i}' for i in range(100)))  # replaced by the meta file
    base_folder = 'cifar-100-python'
    train_files = ('train', )
    test_files = ('test', )
    meta_file = 'meta'
    label_key = 'fine_labels'
    names_key = 'fine_label_names'
