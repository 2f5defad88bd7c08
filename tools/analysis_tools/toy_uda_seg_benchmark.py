# Copyright (c) mmcontrast contributors. Licensed under the Apache License 2.0.
"""Toy UDA segmentation benchmark: source-only vs self-training (+FCL, +PCL), 3 seeds.

Protocol (per seed, all runs on CPU with ``OMP_NUM_THREADS=1``):

1. *Warm-up*: the source-only config trains ``--pretrain-iters`` iterations from scratch
   (the toy models have no ImageNet weights; a self-training teacher needs a sensible
   start to produce confident pseudo-labels).
2. *Adaptation*: each of the four configs trains ``--iters`` more iterations from that
   checkpoint with the same batch size, schedule and seed: source-only (continued),
   self-training (DACS), self-training + FCL, self-training + PCL. UDA runs are evaluated
   with the EMA teacher.
3. Target-val mIoU is read from each run's ``vis_data/scalars.json``; the step time is
   the median of the logged per-iteration times after the first logging window.

Prints a table of target mIoU (mean +/- std over seeds) and step time, plus the step
time ratio of PCL over plain self-training, and writes ``results.json`` and
``results.md`` to ``--work-dir``.

Example::

    python tools/analysis_tools/toy_uda_seg_benchmark.py --seeds 0 1 2 \
        --pretrain-iters 300 --iters 200 --batch-size 2
"""
import argparse
import glob
import json
import os
import os.path as osp
import statistics
import subprocess
import sys
import time
from typing import Dict, List, Optional

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SOURCE_ONLY = 'configs/toy_uda/deeplabv3_r18-narrow_2k_toy-source.py'
CONFIGS = {
    'source-only': SOURCE_ONLY,
    'self-training': 'configs/uda_seg/dacs_deeplabv3-r18-narrow_2k_toy-src2tgt.py',
    'self-training + FCL': 'configs/uda_seg/dacs-fcl_deeplabv3-r18-narrow_2k_toy-src2tgt.py',
    'self-training + PCL': 'configs/uda_seg/dacs-pcl_deeplabv3-r18-narrow_2k_toy-src2tgt.py',
}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    parser.add_argument('--pretrain-iters', type=int, default=300, help='source-only warm-up iterations')
    parser.add_argument('--iters', type=int, default=200, help='adaptation iterations of each config')
    parser.add_argument('--batch-size', type=int, default=2, help='source (and target) images per step')
    parser.add_argument('--log-interval', type=int, default=10)
    parser.add_argument('--shared-warmup', action='store_true',
                        help='one warm-up (with the first seed) for all seeds: the spread then covers the '
                        'adaptation stage only, at a third of the warm-up cost')
    parser.add_argument('--timing-steps', type=int, default=0,
                        help='also time N training steps of self-training with and without PCL in one '
                        'process, alternating the two models step by step (robust to load drift)')
    parser.add_argument('--only', nargs='+', choices=list(CONFIGS), help='run a subset of the configs')
    parser.add_argument('--work-dir', default='work_dirs/toy_uda_seg_benchmark')
    parser.add_argument('--python', default=sys.executable)
    return parser.parse_args()


def train(args: argparse.Namespace, config: str, work_dir: str, iters: int, seed: int, extra: List[str]) -> float:
    """Run tools/train.py; returns the wall time. Reuses a finished run."""
    done = osp.join(work_dir, 'DONE')
    if osp.isfile(done):
        return float(open(done).read() or 0)
    options = [
        f'randomness.seed={seed}', f'train_cfg.max_iters={iters}', f'train_cfg.val_interval={iters}',
        f'train_dataloader.batch_size={args.batch_size}', 'train_dataloader.num_workers=1',
        'val_dataloader.num_workers=1', f'default_hooks.logger.interval={args.log_interval}',
        f'default_hooks.checkpoint.interval={iters}', 'default_hooks.checkpoint.save_best=None',
        # One short warm-up, then poly decay over the run.
        f'param_scheduler.0.end={max(1, iters // 10)}', f'param_scheduler.1.begin={max(1, iters // 10)}',
        f'param_scheduler.1.end={iters}'
    ] + extra
    cmd = [args.python, osp.join(ROOT, 'tools/train.py'), osp.join(ROOT, config), '--work-dir', work_dir,
           '--cfg-options'] + options
    env = dict(os.environ, OMP_NUM_THREADS='1', MKL_NUM_THREADS='1')
    os.makedirs(work_dir, exist_ok=True)
    start = time.time()
    with open(osp.join(work_dir, 'stdout.log'), 'w') as log:
        proc = subprocess.run(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    if proc.returncode != 0:
        raise RuntimeError(f'training failed ({proc.returncode}): see {work_dir}/stdout.log\n{" ".join(cmd)}')
    wall = time.time() - start
    with open(done, 'w') as f:
        f.write(str(wall))
    return wall


def read_scalars(work_dir: str) -> List[dict]:
    files = sorted(glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json')))
    if not files:
        raise FileNotFoundError(f'no scalars.json under {work_dir}')
    with open(files[-1]) as f:
        return [json.loads(line) for line in f if line.strip()]


def target_miou(records: List[dict]) -> float:
    for rec in reversed(records):
        for key in ('teacher/mIoU', 'mIoU'):
            if key in rec:
                return float(rec[key])
    raise KeyError('no mIoU in scalars.json')


def step_time(records: List[dict]) -> Optional[float]:
    times = [rec['time'] for rec in records if 'time' in rec and 'loss' in rec]
    times = times[1:] if len(times) > 1 else times  # first window includes start-up
    return statistics.median(times) if times else None


def interleaved_step_times(steps: int, batch_size: int) -> Dict[str, float]:
    """Median training-step time (s) of self-training with and without PCL, alternated per step.

    Both models see the same batches; a step is preprocessing + loss + backward + AdamW
    update, i.e. what ``train_step`` does on one process.
    """
    import torch
    from mmengine.config import Config
    from mmengine.dataset import pseudo_collate
    from mmengine.registry import init_default_scope

    import mmcontrast  # noqa: F401
    from mmcontrast.registry import DATASETS, MODELS

    torch.set_num_threads(1)
    init_default_scope('mmseg')
    models, optims = {}, {}
    for name in ('self-training', 'self-training + PCL'):
        cfg = Config.fromfile(osp.join(ROOT, CONFIGS[name]))
        models[name] = MODELS.build(cfg.model).train()
        optims[name] = torch.optim.AdamW(models[name].parameters(), lr=1e-4)
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    times: Dict[str, list] = {name: [] for name in models}
    for step in range(steps + 1):
        batch = pseudo_collate([dataset[(step * batch_size + i) % len(dataset)] for i in range(batch_size)])
        for name, model in models.items():
            start = time.perf_counter()
            data = model.data_preprocessor(batch, training=True)
            loss, _ = model.parse_losses(model(**data, mode='loss'))
            optims[name].zero_grad()
            loss.backward()
            optims[name].step()
            if step > 0:  # step 0 warms up the allocator
                times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def mean_std(values: List[float]) -> str:
    if len(values) == 1:
        return f'{values[0]:.2f}'
    return f'{statistics.mean(values):.2f} +/- {statistics.stdev(values):.2f}'


def main() -> None:
    args = parse_args()
    names = args.only or list(CONFIGS)
    results: Dict[str, Dict[str, list]] = {'warm-up (source-only)': dict(miou=[], step_time=[])}
    results.update({name: dict(miou=[], step_time=[]) for name in names})
    for seed in args.seeds:
        warm_seed = args.seeds[0] if args.shared_warmup else seed
        warm_dir = osp.join(args.work_dir, f'seed{warm_seed}', 'warmup-source-only')
        train(args, SOURCE_ONLY, warm_dir, args.pretrain_iters, warm_seed, [])
        ckpt = osp.abspath(osp.join(warm_dir, f'iter_{args.pretrain_iters}.pth'))
        if seed == warm_seed:
            results['warm-up (source-only)']['miou'].append(target_miou(read_scalars(warm_dir)))
        for name in names:
            config = CONFIGS[name]
            key = 'model.init_cfg' if config == SOURCE_ONLY else 'model.segmentor.init_cfg'
            extra = [f'{key}.type=Pretrained', f'{key}.checkpoint={ckpt}']
            if config != SOURCE_ONLY:  # evaluate the teacher only (the benchmark's metric)
                extra += ['val_cfg.type=ValLoop', 'model.predict_on=teacher', 'custom_hooks=[]']
            run_dir = osp.join(args.work_dir, f'seed{seed}', name.replace(' + ', '+').replace(' ', '-'))
            train(args, config, run_dir, args.iters, seed, extra)
            records = read_scalars(run_dir)
            results[name]['miou'].append(target_miou(records))
            results[name]['step_time'].append(step_time(records))
            print(f'seed {seed} {name}: target mIoU {results[name]["miou"][-1]:.2f}, '
                  f'step {results[name]["step_time"][-1]:.3f} s', flush=True)

    lines = [
        f'Toy UDA segmentation (source -> foggy target), target val mIoU (%) over seeds {args.seeds}; '
        f'warm-up {args.pretrain_iters} source-only iters{" (shared by all seeds)" if args.shared_warmup else ""}, '
        f'then {args.iters} iters per config, batch '
        f'{args.batch_size}+{args.batch_size}, CPU, 1 thread.', '',
        '| method | target mIoU (mean +/- std) | per seed | step time (s) |', '|---|---|---|---|'
    ]
    for name, res in results.items():
        times = [t for t in res['step_time'] if t is not None]
        step = f'{statistics.median(times):.3f}' if times else '-'
        per_seed = ', '.join(f'{v:.2f}' for v in res['miou'])
        lines.append(f'| {name} | {mean_std(res["miou"])} | {per_seed} | {step} |')
    if not args.timing_steps and 'self-training' in results and 'self-training + PCL' in results:
        base = [t for t in results['self-training']['step_time'] if t]
        pcl = [t for t in results['self-training + PCL']['step_time'] if t]
        if base and pcl:
            lines += ['', f'PCL step-time overhead: {statistics.median(pcl) / statistics.median(base):.2f}x '
                      '(median logged step time, self-training + PCL / self-training; runs at different times, so '
                      'sensitive to machine load: prefer --timing-steps)']
    if args.timing_steps:
        timing = interleaved_step_times(args.timing_steps, args.batch_size)
        base, pcl = timing['self-training'], timing['self-training + PCL']
        lines += ['', f'Interleaved timing ({args.timing_steps} steps each, same batches, one process): '
                  f'self-training {base:.3f} s/step, + PCL {pcl:.3f} s/step, ratio {pcl / base:.2f}x']
    text = '\n'.join(lines)
    print(text)
    os.makedirs(args.work_dir, exist_ok=True)
    with open(osp.join(args.work_dir, 'results.json'), 'w') as f:
        json.dump(dict(args=vars(args), results=results), f, indent=2)
    with open(osp.join(args.work_dir, 'results.md'), 'w') as f:
        f.write(text + '\n')


if __name__ == '__main__':
    main()
