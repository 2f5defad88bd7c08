"""What tools/train.py and tools/test.py share: reading the config, building the Runner, closing."""
import os.path as osp
from typing import Optional

import torch.distributed as dist
from mmengine.config import Config
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

from .distributed import setup_cpu_distributed


def load_config(config: str,
                launcher: str = 'none',
                work_dir: Optional[str] = None,
                cfg_options: Optional[dict] = None) -> Config:
    """Read ``config`` and apply the command-line flags common to training and testing.

    Args:
        config (str): Config file path.
        launcher (str): Job launcher. Defaults to 'none'.
        work_dir (str, optional): Overrides ``cfg.work_dir``; without it and without a
            ``work_dir`` in the config, ``./work_dirs/<config name>`` is used.
        cfg_options (dict, optional): ``--cfg-options`` to merge. Defaults to None.

    Returns:
        Config: The config, ready for :func:`build_runner`.
    """
    cfg = Config.fromfile(config)
    cfg.launcher = launcher
    if cfg_options is not None:
        cfg.merge_from_dict(cfg_options)
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(config))[0])
    return cfg


def build_runner(cfg: Config) -> Runner:
    """Build the Runner of ``cfg`` (``runner_type`` honoured), CPU-distributed runs included."""
    setup_cpu_distributed(cfg, cfg.launcher)
    return Runner.from_cfg(cfg) if 'runner_type' not in cfg else RUNNERS.build(cfg)


def close_distributed() -> None:
    """Wait for every rank, then destroy the default process group, once the run is over.

    mmengine leaves the group to the interpreter's exit, and the ranks reach it at different
    times (rank 0 still logs while the others have left). With gloo (CPU) that ending now and
    then aborts a finished run: SIGABRT, "terminate called without an active exception",
    and ``torchrun`` reports the job as failed.
    """
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
