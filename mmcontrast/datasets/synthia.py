"""SYNTHIA-RAND-CITYSCAPES (Ros et al., CVPR 2016) for UDA segmentation."""
from mmseg.datasets import BaseSegDataset, CityscapesDataset

from mmcontrast.registry import DATASETS

# SYNTHIA class ids (first channel of the 16-bit GT/LABELS PNGs, see its README) of the 16
# classes shared with Cityscapes, mapped to Cityscapes train ids. Terrain (9), truck (14)
# and train (16) have no SYNTHIA counterpart; everything else becomes 255.
SYNTHIA_ID_TO_TRAINID = {
    3: 0, 4: 1, 2: 2, 21: 3, 5: 4, 7: 5, 15: 6, 9: 7, 6: 8, 1: 10, 10: 11, 17: 12, 8: 13, 19: 15, 12: 17, 11: 18
}
# Cityscapes train ids of the SYNTHIA -> Cityscapes protocol (mIoU16 / mIoU13).
SYNTHIA_16_TRAINIDS = tuple(sorted(SYNTHIA_ID_TO_TRAINID.values()))
SYNTHIA_13_TRAINIDS = tuple(c for c in SYNTHIA_16_TRAINIDS if c not in (3, 4, 5))  # no wall, fence, pole


@DATASETS.register_module()
class SynthiaDataset(BaseSegDataset):
    """SYNTHIA-RAND-CITYSCAPES with labels converted to Cityscapes train ids.

    The model keeps the 19 Cityscapes classes (terrain, truck and train never occur in
    the source) so that it is evaluated on Cityscapes as is; report mIoU16 and mIoU13
    with :class:`mmcontrast.SubsetIoUMetric` (``subsets='synthia'``).

    Layout (after ``python tools/dataset_converters/synthia.py data/synthia``)::

        data/synthia/RGB/0000000.png
        data/synthia/GT/LABELS/0000000.png               # original, 16-bit, class id in R
        data/synthia/GT/LABELS/0000000_labelTrainIds.png # converted, 8-bit train ids

    Args:
        img_suffix (str): Defaults to '.png'.
        seg_map_suffix (str): Defaults to '_labelTrainIds.png'.
        **kwargs: Arguments of :class:`mmseg.datasets.BaseSegDataset`, e.g.
            ``data_root='data/synthia', data_prefix=dict(img_path='RGB', seg_map_path='GT/LABELS')``.
    """

    METAINFO = CityscapesDataset.METAINFO

    def __init__(self, img_suffix: str = '.png', seg_map_suffix: str = '_labelTrainIds.png', **kwargs) -> None:
        super().__init__(img_suffix=img_suffix, seg_map_suffix=seg_map_suffix, **kwargs)
