"""STL-10 in its official binary format."""
import os.path as osp
from typing import List

import numpy as np
from mmengine.dataset import BaseDataset

from mmcontrast.registry import DATASETS


@DATASETS.register_module()
class STL10(BaseDataset):
    """STL-10 from ``data_root/stl10_binary`` (``*_X.bin`` images, ``*_y.bin`` labels).

    Images are ``uint8`` arrays of ``N x 3 x 96 x 96`` stored column-major per
    channel; labels are ``uint8`` in 1..10 (shifted here to 0..9). The image file is
    memory-mapped and read per item, so the 100k unlabelled images cost no RAM.
    Items are ``dict(img=96x96x3 uint8 BGR, gt_label=int)`` with ``gt_label = -1``
    for the unlabelled split.

    Args:
        data_root (str): The folder that holds ``stl10_binary``.
        split (str): ``'train'``, ``'test'``, ``'unlabeled'`` or
            ``'train+unlabeled'`` (the usual pretraining set). Defaults to ``'train'``.
        **kwargs: Passed to :class:`mmengine.dataset.BaseDataset`.
    """

    METAINFO = dict(classes=('airplane', 'bird', 'car', 'cat', 'deer', 'dog', 'horse', 'monkey', 'ship', 'truck'))
    base_folder = 'stl10_binary'
    image_size = 96
    splits = ('train', 'test', 'unlabeled', 'train+unlabeled')

    def __init__(self, data_root: str, split: str = 'train', **kwargs) -> None:
        if split not in self.splits:
            raise ValueError(f'split must be one of {self.splits}, got {split!r}')
        self.split = split
        self._maps = {}
        super().__init__(data_root=data_root, serialize_data=False, **kwargs)

    def _image_file(self, part: str) -> str:
        return osp.join(self.data_root, self.base_folder, f'{part}_X.bin')

    def _images(self, part: str) -> np.ndarray:
        """Memory map of one ``*_X.bin`` file as ``[N, 3, 96, 96]`` (lazily, per process)."""
        if part not in self._maps:
            path = self._image_file(part)
            size = osp.getsize(path)
            per_image = 3 * self.image_size**2
            if size % per_image:
                raise ValueError(f'{path}: {size} bytes is not a multiple of one {per_image}-byte image')
            self._maps[part] = np.memmap(path, dtype=np.uint8, mode='r').reshape(-1, 3, self.image_size,
                                                                               self.image_size)
        return self._maps[part]

    def load_data_list(self) -> List[dict]:
        folder = osp.join(self.data_root, self.base_folder)
        parts = self.split.split('+')
        data_list = []
        for part in parts:
            if not osp.isfile(self._image_file(part)):
                raise FileNotFoundError(f'{self._image_file(part)} not found: extract the binary STL-10 '
                                        f'archive into {self.data_root}')
            num = self._images(part).shape[0]
            if part == 'unlabeled':
                labels = np.full(num, -1, dtype=np.int64)
            else:
                label_file = osp.join(folder, f'{part}_y.bin')
                if not osp.isfile(label_file):
                    raise FileNotFoundError(f'{label_file} not found')
                labels = np.fromfile(label_file, dtype=np.uint8).astype(np.int64) - 1
                if len(labels) != num:
                    raise ValueError(f'{label_file}: {len(labels)} labels for {num} images')
                if num and not (0 <= labels.min() and labels.max() < len(self.METAINFO['classes'])):
                    raise ValueError(f'{label_file}: labels must be 1..10')
            data_list.extend(dict(stl_part=part, stl_index=i, gt_label=int(lb)) for i, lb in enumerate(labels))
        self._maps.clear()  # reopened lazily in each dataloader worker
        return data_list

    def get_data_info(self, idx: int) -> dict:
        info = super().get_data_info(idx)
        chw = self._images(info['stl_part'])[info['stl_index']]
        # column-major per channel -> HxWxC, RGB -> BGR
        info['img'] = np.ascontiguousarray(chw.transpose(2, 1, 0)[..., ::-1])
        info['img_shape'] = info['ori_shape'] = (self.image_size, self.image_size)
        return info
