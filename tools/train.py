# Copyright (c) mmcontrast contributors. Licensed under the Apache License 2.0.
"""Train a model from an mmcontrast (or stock mmdet/mmseg) config."""
import argparse
import logging
import os
import sys

from mmengine.config import Config, ConfigDict, DictAction
from mmengine.logging import print_log

from mmcontrast.utils.launch import build_runner, close_distributed, load_config


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Train a model with mmcontrast')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and checkpoints')
    parser.add_argument(
        '--resume',
        nargs='?',
        type=str,
        const='auto',
        help='resume from the given checkpoint; without a path, from the latest '
        'checkpoint in the work dir')
    parser.add_argument('--amp', action='store_true', help='enable automatic mixed precision training')
    parser.add_argument(
        '--auto-scale-lr',
        action='store_true',
        help="scale the learning rate by (GPUs x batch size) / the config's auto_scale_lr.base_batch_size")
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings of the config, key=value pairs like '
        'train_cfg.max_iters=100 or "model.backbone.depth=18"')
    parser.add_argument(
        '--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none', help='job launcher')
    # torch.distributed.launch passes --local-rank; torchrun sets LOCAL_RANK instead.
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    if args.amp and not _amp_device_available():
        # mmengine's AmpOptimWrapper would assert this only after building the runner.
        sys.exit('--amp needs a CUDA, NPU, MLU or MUSA device and none is available: train without --amp on the CPU')
    return args


def _amp_device_available() -> bool:
    from mmengine.device import is_cuda_available, is_mlu_available, is_musa_available, is_npu_available
    return is_cuda_available() or is_npu_available() or is_mlu_available() or is_musa_available()


def apply_train_args(cfg: Config, args: argparse.Namespace) -> Config:
    """Apply --auto-scale-lr, --amp and --resume to the config."""
    if args.auto_scale_lr:
        # As mmdet's tools/train.py: mmengine's Runner scales the lr when auto_scale_lr.enable is set.
        auto_scale_lr = cfg.get('auto_scale_lr') or {}
        if 'base_batch_size' not in auto_scale_lr:
            raise ValueError('--auto-scale-lr needs auto_scale_lr = dict(base_batch_size=N) in the config: the '
                             'total batch size (GPUs x samples per GPU) its learning rate was set for')
        cfg.auto_scale_lr = dict(auto_scale_lr, enable=True)
    if args.amp:
        optim_wrapper = cfg.optim_wrapper.get('type', 'OptimWrapper')
        if optim_wrapper == 'AmpOptimWrapper':
            print_log('AMP is already enabled in the config.', logger='current', level=logging.WARNING)
        else:
            assert optim_wrapper == 'OptimWrapper', (
                f'--amp needs optim_wrapper.type OptimWrapper, got {optim_wrapper}')
            cfg.optim_wrapper.type = 'AmpOptimWrapper'
            cfg.optim_wrapper.loss_scale = 'dynamic'

    if args.resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif args.resume is not None:
        cfg.resume = True
        cfg.load_from = args.resume
    return cfg


_STOCK_CHECKPOINT_HOOKS = ('CheckpointHook', 'mmengine.CheckpointHook')


def apply_checkpoint_safety(cfg: Config) -> Config:
    """Give every training run atomic checkpoints and exact resume.

    The default runtimes already use ``mmcontrast.AtomicCheckpointHook`` and
    ``mmcontrast.RNGStateHook``; a config that names mmengine's stock ``CheckpointHook``
    (same arguments) gets the atomic subclass instead, and one without an RNG state hook
    gets it added. ``default_hooks.rng_state=None`` switches the latter off.

    Args:
        cfg (Config): The training config, modified in place.

    Returns:
        Config: ``cfg``.
    """
    hooks = cfg.get('default_hooks')
    if hooks is None:
        hooks = cfg.default_hooks = ConfigDict()
    checkpoint = hooks.get('checkpoint')
    if isinstance(checkpoint, dict) and checkpoint.get('type') in _STOCK_CHECKPOINT_HOOKS:
        checkpoint['type'] = 'mmcontrast.AtomicCheckpointHook'
        print_log('default_hooks.checkpoint: CheckpointHook -> mmcontrast.AtomicCheckpointHook (atomic saves)',
                  logger='current')
    custom = [h.get('type') for h in cfg.get('custom_hooks', None) or [] if isinstance(h, dict)]
    if 'rng_state' not in hooks and not any(str(t).endswith('RNGStateHook') for t in custom):
        hooks['rng_state'] = dict(type='mmcontrast.RNGStateHook')
    return cfg


def main() -> None:
    args = parse_args()
    cfg = load_config(args.config, args.launcher, args.work_dir, args.cfg_options)
    build_runner(apply_checkpoint_safety(apply_train_args(cfg, args))).train()
    close_distributed()


if __name__ == '__main__':
    main()
