"""Datasets reading the embedded toy UDA benchmark (see :mod:`mmcontrast.datasets.toy_uda`)."""
import os.path as osp
from typing import Optional, Union

from mmdet.datasets import CocoDataset
from mmseg.datasets import BaseSegDataset, CityscapesDataset

from mmcontrast.registry import DATASETS
from .toy_uda import TOY_DET_CLASSES, TOY_SEG_CLASSES, ensure_toy_uda


def _maybe_generate(data_root: Optional[str], auto_generate: Union[bool, dict]) -> None:
    """Generates the toy benchmark at ``data_root`` if it has none.

    ``auto_generate`` is False (never), True (default generator parameters) or a dict of
    :func:`~mmcontrast.datasets.toy_uda.generate_toy_uda` arguments.
    """
    if not auto_generate or not data_root or osp.isfile(osp.join(data_root, 'meta.json')):
        return
    ensure_toy_uda(data_root, **(auto_generate if isinstance(auto_generate, dict) else {}))


@DATASETS.register_module()
class ToyUDASegDataset(BaseSegDataset):
    """Semantic segmentation on the toy UDA benchmark.

    Label PNGs hold Cityscapes train ids. By default the dataset exposes the 8 toy classes
    (road, sidewalk, building, pole, vegetation, sky, person, car), and mmseg's ``label_map``
    mechanism remaps their train ids to 0..7 (any other id becomes 255) when
    ``LoadAnnotations`` reads a label. Pass ``metainfo=dict(classes=...)`` with all 19
    Cityscapes classes to keep raw train ids (e.g. to evaluate a Cityscapes-trained model).

    Args:
        auto_generate (bool | dict): Generate the benchmark when ``data_root`` has no
            ``meta.json``, with default parameters (True) or with these arguments of
            :func:`~mmcontrast.datasets.toy_uda.generate_toy_uda` (dict). Defaults to True.
        img_suffix (str): Defaults to '.png'.
        seg_map_suffix (str): Defaults to '.png'.
        metainfo (dict, optional): Defaults to None (the 8 toy classes).
        **kwargs: Arguments of :class:`mmseg.datasets.BaseSegDataset`. Leave ``seg_map_path``
            out of ``data_prefix`` for unlabelled use (no label path is then recorded).
    """

    # The label PNGs store Cityscapes train ids.
    METAINFO = CityscapesDataset.METAINFO

    def __init__(self,
                 auto_generate: Union[bool, dict] = True,
                 img_suffix: str = '.png',
                 seg_map_suffix: str = '.png',
                 metainfo: Optional[dict] = None,
                 **kwargs) -> None:
        _maybe_generate(kwargs.get('data_root'), auto_generate)
        if metainfo is None:
            metainfo = dict(classes=TOY_SEG_CLASSES)
        super().__init__(
            img_suffix=img_suffix, seg_map_suffix=seg_map_suffix, metainfo=metainfo, **kwargs)


@DATASETS.register_module()
class ToyUDACocoDataset(CocoDataset):
    """Detection (person, car) on the toy UDA benchmark, from its COCO JSON files.

    A :class:`mmdet.datasets.CocoDataset` with the two toy classes as default metainfo that
    generates the benchmark when ``data_root`` has none.

    Args:
        auto_generate (bool | dict): Generate the benchmark when ``data_root`` has no
            ``meta.json``, with default parameters (True) or with these arguments of
            :func:`~mmcontrast.datasets.toy_uda.generate_toy_uda` (dict). Defaults to True.
        **kwargs: Arguments of :class:`mmdet.datasets.CocoDataset`.
    """

    METAINFO = dict(classes=TOY_DET_CLASSES, palette=[(220, 20, 60), (0, 0, 142)])

    def __init__(self, auto_generate: Union[bool, dict] = True, **kwargs) -> None:
        _maybe_generate(kwargs.get('data_root'), auto_generate)
        super().__init__(**kwargs)
