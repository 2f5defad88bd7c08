"""ImageNet-style folder datasets (``root/<class>/<image>``), e.g. ImageNet-1k/100."""
import os
import os.path as osp
from typing import List, Optional, Sequence

from mmengine.dataset import BaseDataset
from mmengine.fileio import list_from_file

from mmcontrast.registry import DATASETS

IMG_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.ppm', '.bmp', '.pgm', '.tif', '.tiff', '.webp')


@DATASETS.register_module()
class ImageFolder(BaseDataset):
    """Images in one sub-folder per class, or listed in an annotation file.

    Without ``ann_file``, classes are the sorted sub-folders of
    ``data_root/data_prefix['img_path']`` (restricted to ``classes`` of the metainfo
    when given, e.g. the 100 ImageNet-100 synsets) and every image with a known
    extension below them is an item. With ``ann_file``, each line is
    ``relative/path.JPEG label`` (the ImageNet ``train.txt``/``val.txt`` layout).
    Items are ``dict(img_path=..., gt_label=int)``; load them with
    ``dict(type='LoadImageFromFile')`` at the start of the pipeline.

    Args:
        data_root (str): Dataset root.
        data_prefix (str | dict): Image folder relative to ``data_root``, e.g.
            ``'train'``. Defaults to ``''``.
        ann_file (str): Optional annotation list. Defaults to ``''``.
        extensions (Sequence[str]): Image file extensions. Defaults to
            :data:`IMG_EXTENSIONS`.
        **kwargs: Passed to :class:`mmengine.dataset.BaseDataset`.
    """

    def __init__(self,
                 data_root: str,
                 data_prefix: str = '',
                 ann_file: str = '',
                 extensions: Sequence[str] = IMG_EXTENSIONS,
                 metainfo: Optional[dict] = None,
                 **kwargs) -> None:
        if isinstance(data_prefix, str):
            data_prefix = dict(img_path=data_prefix)
        self.extensions = tuple(e.lower() for e in extensions)
        super().__init__(data_root=data_root, data_prefix=data_prefix, ann_file=ann_file, metainfo=metainfo,
                         **kwargs)

    def _scan_classes(self, folder: str) -> List[str]:
        if not osp.isdir(folder):
            raise FileNotFoundError(f'image folder {folder} does not exist')
        found = sorted(d.name for d in os.scandir(folder) if d.is_dir())
        wanted = self._metainfo.get('classes')
        if wanted:
            missing = sorted(set(wanted) - set(found))
            if missing:
                more = '...' if len(missing) > 5 else ''
                raise FileNotFoundError(f'{folder} lacks class folders {missing[:5]}{more}')
            return list(wanted)
        if not found:
            raise FileNotFoundError(f'{folder} has no class sub-folders')
        return found

    def load_data_list(self) -> List[dict]:
        folder = self.data_prefix['img_path']
        if self.ann_file:
            data_list = []
            for line_no, line in enumerate(list_from_file(self.ann_file), start=1):
                if not line.strip():
                    continue
                parts = line.rsplit(maxsplit=1)
                if len(parts) != 2 or not parts[1].lstrip('-').isdigit():
                    raise ValueError(f'{self.ann_file}:{line_no}: expected "path label", got {line!r}')
                data_list.append(dict(img_path=osp.join(folder, parts[0]), gt_label=int(parts[1])))
            return data_list
        classes = self._scan_classes(folder)
        self._metainfo['classes'] = tuple(classes)
        data_list = []
        for label, name in enumerate(classes):
            for root, _, files in sorted(os.walk(osp.join(folder, name), followlinks=True)):
                for fname in sorted(files):
                    if fname.lower().endswith(self.extensions):
                        data_list.append(dict(img_path=osp.join(root, fname), gt_label=label))
        if not data_list:
            raise FileNotFoundError(f'no images with extensions {self.extensions} under {folder}')
        return data_list
