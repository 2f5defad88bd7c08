"""Several augmented views of one image (two-view and multi-crop pipelines)."""
import copy
from typing import List, Sequence, Union

from mmcv.transforms import BaseTransform, Compose

from mmcontrast.registry import TRANSFORMS


@TRANSFORMS.register_module()
class MultiView(BaseTransform):
    """Run view pipelines on copies of the input and collect the views in a list.

    ``results['img']`` becomes a list of views: ``num_views[0]`` of ``transforms[0]``,
    then ``num_views[1]`` of ``transforms[1]`` and so on. MoCo/SimSiam use
    ``num_views=2`` with one pipeline; BYOL and ASCL use ``num_views=[1, 1]`` with
    two (for ASCL the first is the weak key view, the second the strong query view).
    Other keys are taken from the first view.

    Args:
        transforms (list[list[dict]]): One pipeline (a list of transform configs
            or transforms) per view group.
        num_views (int | list[int]): Views per pipeline; one int repeats every
            pipeline that many times.
    """

    def __init__(self, transforms: Sequence[Sequence[Union[dict, callable]]],
                 num_views: Union[int, Sequence[int]]) -> None:
        if not transforms or not all(isinstance(t, (list, tuple)) for t in transforms):
            raise ValueError('transforms must be a non-empty list of pipelines (lists of transforms)')
        if isinstance(num_views, int):
            num_views = [num_views] * len(transforms)
        if len(num_views) != len(transforms) or min(num_views) < 1:
            raise ValueError(f'num_views {num_views} must give a positive count for each of the '
                             f'{len(transforms)} pipelines')
        self.num_views = list(num_views)
        self.pipelines: List[Compose] = [Compose(list(t)) for t in transforms]

    def transform(self, results: dict) -> dict:
        views = []
        for pipeline, n in zip(self.pipelines, self.num_views):
            for _ in range(n):
                out = pipeline(copy.deepcopy(results))
                if out is None:
                    raise RuntimeError(f'a view pipeline of MultiView returned None: {pipeline}')
                views.append(out)
        merged = views[0]
        merged['img'] = [v['img'] for v in views]
        return merged

    def __repr__(self) -> str:
        return f'{type(self).__name__}(num_views={self.num_views}, pipelines={self.pipelines})'
