"""GTA5 (Richter et al., ECCV 2016) for UDA segmentation, in Cityscapes train ids."""
from mmseg.datasets import BaseSegDataset, CityscapesDataset

from mmcontrast.registry import DATASETS

# GTA5 label PNGs are palette images whose indices are Cityscapes label ids;
# tools/dataset_converters/gta.py maps them to the 19 train ids (255 elsewhere).
GTA_ID_TO_TRAINID = {
    7: 0, 8: 1, 11: 2, 12: 3, 13: 4, 17: 5, 19: 6, 20: 7, 21: 8, 22: 9, 23: 10, 24: 11, 25: 12, 26: 13, 27: 14,
    28: 15, 31: 16, 32: 17, 33: 18
}


@DATASETS.register_module()
class GTADataset(BaseSegDataset):
    """GTA5 with labels converted to the 19 Cityscapes train ids.

    Layout (after ``python tools/dataset_converters/gta.py data/gta``)::

        data/gta/images/00001.png
        data/gta/labels/00001.png               # original, Cityscapes label ids
        data/gta/labels/00001_labelTrainIds.png # converted, train ids, 255 = ignore

    Args:
        img_suffix (str): Defaults to '.png'.
        seg_map_suffix (str): Defaults to '_labelTrainIds.png'.
        **kwargs: Arguments of :class:`mmseg.datasets.BaseSegDataset`, e.g.
            ``data_root='data/gta', data_prefix=dict(img_path='images', seg_map_path='labels')``.
    """

    METAINFO = CityscapesDataset.METAINFO

    def __init__(self, img_suffix: str = '.png', seg_map_suffix: str = '_labelTrainIds.png', **kwargs) -> None:
        super().__init__(img_suffix=img_suffix, seg_map_suffix=seg_map_suffix, **kwargs)
