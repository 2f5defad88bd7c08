"""Test support for multi-process runs: every rank saves its model state when training ends.

A checkpoint holds rank 0's state only; a 2-process test compares the ranks with this
(DDP must leave identical parameters, gathered queues must agree). Load it into a run with
``custom_imports=dict(imports=['mmcontrast', 'rank_state_dump'])`` and this folder on
``PYTHONPATH``, then ``custom_hooks=[dict(type='RankStateDumpHook')]``.
"""
import os.path as osp

import torch
from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS

HERE = osp.dirname(osp.abspath(__file__))


@HOOKS.register_module(force=True)
class RankStateDumpHook(Hook):
    """Write ``<work_dir>/rank<r>_state.pth``: the model's state dict and named parameters."""

    priority = 'LOWEST'

    def after_train(self, runner) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        torch.save(
            dict(state=model.state_dict(), params=[name for name, _ in model.named_parameters()]),
            osp.join(runner.work_dir, f'rank{get_rank()}_state.pth'))


def use_in(cfg) -> None:
    """Add the hook (and its import) to an mmengine ``Config``."""
    imports = list(cfg.get('custom_imports', {}).get('imports', ['mmcontrast']))
    cfg.custom_imports = dict(imports=imports + ['rank_state_dump'], allow_failed_imports=False)
    cfg.custom_hooks = list(cfg.get('custom_hooks', [])) + [dict(type='RankStateDumpHook')]


def load_ranks(work_dir: str, world_size: int = 2) -> list:
    return [
        torch.load(osp.join(work_dir, f'rank{r}_state.pth'), map_location='cpu', weights_only=True)
        for r in range(world_size)
    ]
