"""A TensorBoard backend whose scalar names group in TensorBoard's UI.

TensorBoard groups the scalars of its dashboard by the part of the tag before the first ``/``.
mmengine's ``TensorboardVisBackend`` writes the log processor's keys as they are: ``loss``,
``src.decode.loss_ce``, ``tgt.loss_pixel_pcl``, ``lr``, ``mIoU``... none of which has a ``/``, so
every loss lands in a group of its own. ``GroupedTensorboardVisBackend`` prefixes each name that
has no ``/`` with its group (the first pattern of ``groups`` that matches, else
``default_group``) and leaves the rest of the name as the text log prints it:

=====================================  ================================
logged key                             TensorBoard tag
=====================================  ================================
``loss``, ``src.decode.loss_ce``       ``loss/loss``, ``loss/src.decode.loss_ce``
``lr``, ``time``, ``data_time``        ``train/lr``, ``train/time``, ``train/data_time``
``mIoU``, ``decode.acc_seg``           ``metrics/mIoU``, ``metrics/decode.acc_seg``
``coco/bbox_mAP``, ``student/mIoU``    unchanged (already grouped)
=====================================  ================================

Config (docs/tensorboard.md; needs ``pip install mmcontrast[tensorboard]``)::

    custom_imports = dict(imports=['mmcontrast', 'mmcontrast.visualization.tensorboard'],
                          allow_failed_imports=False)
    visualizer = dict(vis_backends=[dict(type='LocalVisBackend'),
                                    dict(type='GroupedTensorboardVisBackend')])
"""
import re
from typing import Optional, Sequence, Tuple

from mmengine.registry import VISBACKENDS
from mmengine.visualization import TensorboardVisBackend

DEFAULT_GROUPS = (
    ('loss', r'(^|[._])loss'),
    ('train', r'^(lr|base_lr|momentum|time|data_time|memory|grad_norm|iter|epoch)$|^lr[._]'),
)


def group_scalar_name(name: str,
                      groups: Sequence[Tuple[str, str]] = DEFAULT_GROUPS,
                      default_group: Optional[str] = 'metrics') -> str:
    """The TensorBoard tag of a logged scalar ``name`` (see the module docstring).

    Args:
        name (str): The key the log processor produced.
        groups (Sequence[tuple[str, str]]): ``(group, regex)`` pairs tried in order with
            ``re.search`` on ``name``. Defaults to losses, then the train-loop statistics.
        default_group (str, optional): Group of a name no pattern matches; ``None`` leaves such
            a name as it is. Defaults to ``'metrics'``.

    Returns:
        str: ``name`` when it already has a ``/``, else ``'<group>/<name>'``.
    """
    if '/' in name:
        return name
    for group, pattern in groups:
        if re.search(pattern, name):
            return f'{group}/{name}'
    return name if default_group is None else f'{default_group}/{name}'


@VISBACKENDS.register_module()
class GroupedTensorboardVisBackend(TensorboardVisBackend):
    """``TensorboardVisBackend`` that writes scalars under ``<group>/`` tags.

    Args:
        save_dir (str): The root directory to save the files produced by the backend.
        groups (Sequence[tuple[str, str]]): ``(group, regex)`` pairs, first match wins.
            Defaults to losses (``loss/``) and loop statistics (``train/``).
        default_group (str, optional): Group of the other names (metrics, accuracies);
            ``None`` keeps them ungrouped. Defaults to ``'metrics'``.
    """

    def __init__(self,
                 save_dir: str,
                 groups: Sequence[Sequence[str]] = DEFAULT_GROUPS,
                 default_group: Optional[str] = 'metrics'):
        super().__init__(save_dir)
        self.groups = tuple((str(g), str(p)) for g, p in groups)
        for _, pattern in self.groups:
            re.compile(pattern)
        self.default_group = default_group

    def add_scalar(self, name: str, value, step: int = 0, **kwargs) -> None:
        """Record one scalar under its grouped tag."""
        super().add_scalar(group_scalar_name(name, self.groups, self.default_group), value, step, **kwargs)
