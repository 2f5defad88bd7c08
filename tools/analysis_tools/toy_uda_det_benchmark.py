# Copyright (c) mmcontrast contributors. Licensed under the Apache License 2.0.
"""Toy UDA detection benchmark: source-only vs mean teacher (+FCL, +PCL), several seeds.

A source-only detector is pretrained once (``--source-iters``, seed of the first
``--seeds`` entry). From that checkpoint, for every seed, one run per method continues for
``--adapt-iters`` iterations with the same schedule (teacher = student = source model at
the start). ``--methods`` picks them: source only (plain source training), mean teacher,
mean teacher + FCL, mean teacher + PCL (the default four), and mean teacher + PCL with the
foreground-balanced box pool, mean teacher with the target-BN teacher (issue 14). Each
method's config keeps its own ``MeanTeacherHook(skip_buffer=...)``; only the momentum is
set here. Every method thus trains the same number of iterations from
the same start, and the seeds vary the data order, augmentation and sampling of the
adaptation phase. The script prints target val AP50 / AP (the teacher for the mean
teachers) as mean +/- std over the seeds, and the median training step time of each
method with the ratio of the contrastive variants over the plain mean teacher.

Finished runs are reused (``benchmark_result.json`` in their work dir), so an
interrupted benchmark resumes where it stopped.

Example (CPU; the README's table took about 80 min with 2 jobs on a busy 2-core machine)::

    OMP_NUM_THREADS=1 python tools/analysis_tools/toy_uda_det_benchmark.py \
        --seeds 0 1 2 --source-checkpoint SOURCE.pth --adapt-iters 200 --jobs 2 --eval-student
    # the box pool and teacher-BN comparisons of configs/uda_det/README.md
    OMP_NUM_THREADS=1 python tools/analysis_tools/toy_uda_det_benchmark.py \
        --seeds 0 1 2 --source-checkpoint SOURCE.pth --adapt-iters 200 --jobs 2 --eval-student \
        --methods 'mean teacher' 'mean teacher (target-BN teacher)' 'mean teacher + PCL' \
        'mean teacher + PCL (balanced pool)'
"""
import argparse
import json
import os
import os.path as osp
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from glob import glob
from typing import Dict, List, Optional

from mmengine.config import Config

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SOURCE_CONFIG = 'configs/toy_uda/faster-rcnn_r18-narrow-fpn_2k_toy-source.py'
ADAPT_CONFIGS = {
    'mean teacher':
    'configs/uda_det/mean-teacher_faster-rcnn_r18-narrow-fpn_1k_toy-src2tgt.py',
    'mean teacher + FCL':
    'configs/uda_det/mean-teacher-fcl_faster-rcnn_r18-narrow-fpn_1k_toy-src2tgt.py',
    'mean teacher + PCL':
    'configs/uda_det/mean-teacher-pcl_faster-rcnn_r18-narrow-fpn_1k_toy-src2tgt.py',
    # issue 14: the PCL box pool and the teacher's BN statistics
    'mean teacher + PCL (balanced pool)':
    'configs/uda_det/mean-teacher-pcl-balanced_faster-rcnn_r18-narrow-fpn_1k_toy-src2tgt.py',
    'mean teacher (target-BN teacher)':
    'configs/uda_det/mean-teacher-target-bn_faster-rcnn_r18-narrow-fpn_1k_toy-src2tgt.py',
}
ALL_METHODS = ['source only', *ADAPT_CONFIGS]
# The table of configs/uda_det/README.md; --methods picks others.
DEFAULT_METHODS = ['source only', 'mean teacher', 'mean teacher + FCL', 'mean teacher + PCL']


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    parser.add_argument('--source-iters', type=int, default=1000, help='source-only pretraining iterations')
    parser.add_argument('--source-checkpoint', help='start from this source-only checkpoint instead of pretraining one')
    parser.add_argument('--adapt-iters', type=int, default=500, help='adaptation iterations')
    parser.add_argument(
        '--img-scale',
        type=int,
        nargs=2,
        default=[256, 128],
        metavar=('W', 'H'),
        help='training and test scale (the configs use the generated 256 128)')
    parser.add_argument(
        '--ema-momentum',
        type=float,
        default=0.01,
        help='MeanTeacherHook momentum (short schedules need a faster teacher)')
    parser.add_argument('--adapt-lr', type=float, default=5e-4, help='AdamW learning rate of all four runs')
    parser.add_argument(
        '--methods',
        nargs='+',
        default=DEFAULT_METHODS,
        choices=ALL_METHODS,
        metavar='METHOD',
        help=f'methods to run (default: {DEFAULT_METHODS}); any of {ALL_METHODS}')
    parser.add_argument('--eval-student', action='store_true', help='also evaluate the students')
    parser.add_argument('--jobs', type=int, default=1, help='runs trained at the same time')
    parser.add_argument('--work-dir', default='work_dirs/toy_uda_det_benchmark')
    parser.add_argument('--dry-run', action='store_true', help='write the configs, train nothing')
    parser.add_argument(
        '--overhead-only',
        type=int,
        metavar='ROUNDS',
        default=0,
        help='only time ROUNDS training steps of each mean-teacher variant on the same '
        'batches (interleaved, after one warm-up round) and print the step-time ratios')
    parser.add_argument('--init', help='checkpoint to start the --overhead-only models from (optional)')
    return parser.parse_args()


def _set_scale(node, scale) -> None:
    """Set ``scale`` of every Resize/RandomResize transform in a (nested) config."""
    if isinstance(node, dict):
        if node.get('type') in ('Resize', 'RandomResize') and 'scale' in node:
            node['scale'] = tuple(scale)
        for value in node.values():
            _set_scale(value, scale)
    elif isinstance(node, (list, tuple)):
        for value in node:
            _set_scale(value, scale)


def _common(cfg: Config, args: argparse.Namespace, seed: int, max_iters: int, work_dir: str) -> Config:
    cfg.work_dir = work_dir
    cfg.randomness = dict(seed=seed)
    _set_scale(cfg._cfg_dict, args.img_scale)
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[loader].num_workers = 0
        cfg[loader].persistent_workers = False
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters)
    warmup = min(50, max_iters // 5)
    cfg.param_scheduler = [
        dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=warmup),
        dict(type='PolyLR', eta_min=1e-5, power=0.9, by_epoch=False, begin=warmup, end=max_iters),
    ]
    cfg.default_hooks.logger.interval = 10
    cfg.default_hooks.visualization = dict(type='DetVisualizationHook')
    return cfg


def _train(cfg: Config, dry_run: bool) -> Optional[Dict]:
    """Train ``cfg`` in a subprocess; return the last validation metrics and the step times."""
    os.makedirs(cfg.work_dir, exist_ok=True)
    cfg_path = osp.join(cfg.work_dir, 'benchmark_config.py')
    cfg.dump(cfg_path)
    if dry_run:
        return None
    done = osp.join(cfg.work_dir, 'benchmark_result.json')
    if osp.exists(done):  # finished earlier: reuse (delete the file to re-run)
        with open(done) as f:
            return json.load(f)
    start = time.time()
    if not osp.exists(osp.join(cfg.work_dir, f'iter_{cfg.train_cfg.max_iters}.pth')):
        env = dict(os.environ, OMP_NUM_THREADS=os.environ.get('OMP_NUM_THREADS', '1'))
        log = osp.join(cfg.work_dir, 'benchmark_train.log')
        with open(log, 'w') as f:
            proc = subprocess.run([sys.executable, 'tools/train.py', cfg_path, '--work-dir', cfg.work_dir],
                                  cwd=REPO,
                                  env=env,
                                  stdout=f,
                                  stderr=subprocess.STDOUT)
        if proc.returncode != 0:
            raise RuntimeError(f'training failed (exit {proc.returncode}); see {log}')
    metrics, step_times = _read_scalars(cfg.work_dir)
    result = dict(metrics=metrics, step_times=step_times, wall_s=time.time() - start)
    with open(done, 'w') as f:
        json.dump(result, f)
    return result


def measure_step_times(args: argparse.Namespace) -> Dict[str, List[float]]:
    """Seconds per training step of each mean-teacher variant on identical batches.

    The variants run round-robin on the same pre-loaded batches, so load changes on a shared
    machine hit all of them alike; one warm-up round is discarded.
    """
    import copy

    import torch
    from mmdet.registry import MODELS
    from mmengine.optim import build_optim_wrapper
    from mmengine.registry import init_default_scope
    from mmengine.runner import Runner, load_checkpoint
    init_default_scope('mmdet')
    torch.manual_seed(args.seeds[0])
    models, wrappers, batches = {}, {}, []
    for method in [m for m in args.methods if m != 'source only']:
        config = ADAPT_CONFIGS[method]
        cfg = _common(Config.fromfile(config), args, args.seeds[0], 1000, osp.join(args.work_dir, 'overhead'))
        models[method] = MODELS.build(cfg.model)
        if args.init:
            load_checkpoint(models[method], args.init, map_location='cpu')
        models[method].train()
        wrappers[method] = build_optim_wrapper(models[method], cfg.optim_wrapper)
        if not batches:
            loader = iter(Runner.build_dataloader(cfg.train_dataloader, seed=args.seeds[0]))
            batches = [next(loader) for _ in range(args.overhead_only + 1)]
    times: Dict[str, List[float]] = {m: [] for m in models}
    for batch in batches:
        for method, model in models.items():
            data = copy.deepcopy(batch)
            start = time.perf_counter()
            model.train_step(data, wrappers[method])
            times[method].append(time.perf_counter() - start)
    return {m: t[1:] for m, t in times.items()}


def _read_scalars(work_dir: str):
    """Last validation metrics and the logged train step times of a finished run."""
    scalars = sorted(glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json')))
    metrics, step_times = {}, []
    for path in scalars:  # a run may have been split over several launches
        with open(path) as f:
            for line in f:
                record = json.loads(line)
                if 'loss' in record and 'time' in record:
                    step_times.append(record['time'])
                elif any(k.endswith('bbox_mAP_50') for k in record):
                    metrics = record
    if not metrics:
        raise RuntimeError(f'no validation metrics in {work_dir}')
    return metrics, step_times


def _metric(result: Dict, name: str, prefix: str = '') -> float:
    return 100.0 * result['metrics'][f'{prefix}coco/{name}']


def _mean_std(values: List[float]) -> str:
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return f'{statistics.mean(values):5.1f} +/- {std:4.1f}'


def main() -> None:
    args = parse_args()
    os.chdir(REPO)
    import mmcontrast  # noqa: F401  (config checks and checkpoint allowlist)

    if args.overhead_only:
        times = measure_step_times(args)
        base = statistics.median(times.get('mean teacher', next(iter(times.values()))))
        print(f'step time on identical batches, scale {args.img_scale[0]}x{args.img_scale[1]}, '
              f'{args.overhead_only} interleaved rounds (median):')
        for method, values in times.items():
            print(f'  {method}: {statistics.median(values):.2f} s  '
                  f'(ratio to mean teacher {statistics.median(values) / base:.2f})')
        return

    if args.source_checkpoint:
        pretrain, checkpoint = None, args.source_checkpoint
    else:
        pretrain_dir = osp.join(args.work_dir, 'source-pretrain')
        cfg = _common(Config.fromfile(SOURCE_CONFIG), args, args.seeds[0], args.source_iters, pretrain_dir)
        cfg.default_hooks.checkpoint = dict(type='CheckpointHook', by_epoch=False, interval=args.source_iters)
        print(f'source-only pretraining, {args.source_iters} iterations', flush=True)
        pretrain = _train(cfg, args.dry_run)
        checkpoint = osp.join(pretrain_dir, f'iter_{args.source_iters}.pth')

    runs = {}
    methods = [m for m in ALL_METHODS if m in args.methods]  # table order
    for seed in args.seeds:
        for method in methods:
            config = SOURCE_CONFIG if method == 'source only' else ADAPT_CONFIGS[method]
            work_dir = osp.join(args.work_dir, f'seed{seed}',
                                method.replace(' + ', '-').replace(' ', '-').replace('(', '').replace(')', ''))
            cfg = _common(Config.fromfile(config), args, seed, args.adapt_iters, work_dir)
            cfg.load_from = checkpoint
            cfg.optim_wrapper.optimizer.lr = args.adapt_lr
            cfg.default_hooks.checkpoint = dict(
                type='CheckpointHook', by_epoch=False, interval=args.adapt_iters, max_keep_ckpts=1)
            if method != 'source only':
                # The config says whether the BN buffers are averaged (skip_buffer); only the speed changes.
                hooks = [h for h in cfg.custom_hooks if h['type'] == 'MeanTeacherHook']
                if len(hooks) != 1:
                    raise ValueError(f'{config}: expected one MeanTeacherHook in custom_hooks, got {cfg.custom_hooks}')
                hooks[0]['momentum'] = args.ema_momentum
                cfg.val_cfg = dict(type='mmcontrast.LabelledTeacherStudentValLoop' if args.eval_student else 'ValLoop')
            runs[(method, seed)] = cfg
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        futures = {key: pool.submit(_train, cfg, args.dry_run) for key, cfg in runs.items()}
        results: Dict[str, Dict[int, Dict]] = {m: {} for m in methods}
        for (method, seed), future in futures.items():
            results[method][seed] = future.result()
            print(f'[seed {seed}] {method} done', flush=True)
    if args.dry_run:
        print(f'configs written under {args.work_dir}')
        return

    print(f'\nToy UDA detection, target val, {len(args.seeds)} seeds {args.seeds}; '
          f'{"a given" if args.source_checkpoint else args.source_iters} source-only pretraining + '
          f'{args.adapt_iters} iterations per method, '
          f'scale {args.img_scale[0]}x{args.img_scale[1]}, EMA momentum {args.ema_momentum}, {args.jobs} job(s)')
    if pretrain is not None:
        print(f'source-only pretrained model (start of every run): '
              f'AP50 {_metric(pretrain, "bbox_mAP_50"):.1f}, AP {_metric(pretrain, "bbox_mAP"):.1f}')
    else:
        print(f'start of every run: {checkpoint}')
    print('| Method | AP50 (mean +/- std) | AP (mean +/- std) | AP50 student | step time (s, median) | wall (s) |')
    print('|---|---|---|---|---|---|')
    medians, per_seed = {}, []
    for method in methods:
        runs = [results[method][s] for s in args.seeds]
        prefix = 'teacher/' if args.eval_student and method != 'source only' else ''
        ap50 = [_metric(r, 'bbox_mAP_50', prefix) for r in runs]
        ap = [_metric(r, 'bbox_mAP', prefix) for r in runs]
        # the first logged window includes start-up work
        medians[method] = statistics.median([t for r in runs for t in r['step_times'][1:]])
        student = '-'
        if prefix:
            student = _mean_std([_metric(r, 'bbox_mAP_50', 'student/') for r in runs])
        wall = statistics.mean(r.get('wall_s', float('nan')) for r in runs)
        print(f'| {method} | {_mean_std(ap50)} | {_mean_std(ap)} | {student} | {medians[method]:.2f} | {wall:.0f} |')
        per_seed.append(f'{method}: ' + ', '.join(f'{v:.1f}' for v in ap50))
    for method in [m for m in methods if m not in ('source only', 'mean teacher')]:
        if 'mean teacher' in medians:
            print(f'step-time ratio {method} / mean teacher: {medians[method] / medians["mean teacher"]:.2f}')
    print('AP50 per seed: ' + '; '.join(per_seed))


if __name__ == '__main__':
    main()
