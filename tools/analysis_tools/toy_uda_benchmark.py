# Copyright (c) mmcontrast contributors. Licensed under the Apache License 2.0.
"""The embedded toy UDA benchmark, end to end: every table of the README's toy section.

Chain: self-supervised pretraining on the toy world (the benchmark's ImageNet) -> export the
backbone -> source-only / target oracle / self-training (+ PCL, + FCL) for segmentation and
detection on source -> foggy target. Each run is one ``tools/train.py`` process on its own config
(written to its work dir), ``OMP_NUM_THREADS=1``, ``--jobs`` at a time; finished runs are reused
(``result.json``), so an interrupted benchmark resumes where it stopped.

Groups (``--groups``, run in this order):

* ``seg``: source-only and DACS from random init and from the shipped MoCo v2 toy-world
  backbone, the target oracle; the required properties (no decay, gap closed, init).
* ``det``: source-only and target oracle from the MoCo v2 backbone, the mean teacher from each
  seed's source-only model (and its eval-mode-teacher variant); the gap closed.
* ``contrast``: DACS + PCL (EHTDI views, the reproduction), DACS + PCL (target views),
  DACS + FCL; mean teacher + PCL, + FCL. Run once, at the configs' weights.
* ``demo``: what ``bash tools/demo.sh`` runs (DACS + PCL from the shipped backbone, the schedule
  shortened to 1000 iterations), for the expected range the demo prints.
* ``chain``: MoCo v2 (shipped), ASCL, PAUC and DimCL pretraining on the toy world, each backbone
  -> DACS + PCL (EHTDI), and random init -> DACS + PCL.

Target metrics are the last validation of each run (segmentation: student mIoU, DAFormer's
convention; detection: teacher AP50, Adaptive Teacher's). ``gap closed`` is
``(method - source-only) / (oracle - source-only)`` of the means.

Example (the README's tables; about 2 hours with 2 jobs on 2 cores)::

    python tools/analysis_tools/toy_uda_benchmark.py --jobs 2
    python tools/analysis_tools/toy_uda_benchmark.py --groups seg --seeds 0   # a quick look
"""
import argparse
import hashlib
import json
import os
import os.path as osp
import statistics
import subprocess
import sys
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from glob import glob
from typing import Callable, Dict, List, Optional, Sequence

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SHIPPED_BACKBONE = 'checkpoints/toy/resnetv1c18-w16_mocov2-toyworld.pth'
SEG = dict(
    source='configs/toy_uda/deeplabv3_r18-narrow_2k_toy-source.py',
    oracle='configs/toy_uda/deeplabv3_r18-narrow_2k_toy-target-oracle.py',
    dacs='configs/uda_seg/dacs_deeplabv3-r18-narrow_2k_toy-src2tgt.py',
    pcl='configs/uda_seg/dacs-pcl_deeplabv3-r18-narrow_2k_toy-src2tgt.py',
    fcl='configs/uda_seg/dacs-fcl_deeplabv3-r18-narrow_2k_toy-src2tgt.py')
DET = dict(
    source='configs/toy_uda/faster-rcnn_r18-narrow-fpn_2k_toy-source.py',
    oracle='configs/toy_uda/faster-rcnn_r18-narrow-fpn_2k_toy-target-oracle.py',
    mt='configs/uda_det/mean-teacher_faster-rcnn_r18-narrow-fpn_1k_toy-src2tgt.py',
    mt_mixed_bn='configs/uda_det/mean-teacher-mixed-bn_faster-rcnn_r18-narrow-fpn_1k_toy-src2tgt.py',
    pcl='configs/uda_det/mean-teacher-pcl_faster-rcnn_r18-narrow-fpn_1k_toy-src2tgt.py',
    fcl='configs/uda_det/mean-teacher-fcl_faster-rcnn_r18-narrow-fpn_1k_toy-src2tgt.py')
SSL = {  # chain order: PAUC last, its clustering pass every epoch makes it the slowest
    'ASCL': 'configs/selfsup/ascl/ascl_resnetv1c18-w16_1xb64-coslr-100e_toyworld.py',
    'DimCL': 'configs/selfsup/dimcl/dimcl-simsiam_resnetv1c18-w16_1xb64-coslr-100e_toyworld.py',
    'PAUC': 'configs/selfsup/pauc/pauc_resnetv1c18-w16_1xb64-coslr-100e_toyworld.py',
    'MoCo v2': 'configs/selfsup/mocov2/mocov2_resnetv1c18-w16_1xb64-coslr-100e_toyworld.py',
}
# run names of the chain; the shipped MoCo v2 backbone's DACS + PCL runs are seg/pcl/mocov2/s*
CHAIN_KEYS = {'ASCL': 'ascl', 'DimCL': 'dimcl', 'PAUC': 'pauc', 'MoCo v2': 'mocov2-again'}
CHAIN_ROWS = (('random', 'random'), ('MoCo v2 (shipped)', 'mocov2'), ('MoCo v2 (pretrained again)', 'mocov2-again'),
              ('ASCL', 'ascl'), ('PAUC', 'pauc'), ('DimCL (SimSiam)', 'dimcl'))
GROUPS = ('seg', 'det', 'contrast', 'demo', 'chain')
DEMO_ITERS = 1000  # tools/demo.sh: the toy DACS + PCL config shortened to fit 5 minutes on 2 cores


@dataclass
class Run:
    """One training run: a config, a seed and edits of the loaded config."""
    name: str
    config: str
    seed: int
    edits: List[Callable] = field(default_factory=list)
    after: Optional[str] = None  # a run whose final checkpoint this one loads (load_from)
    kind: str = 'train'  # 'train' or 'pretrain' (self-supervised, exports a backbone)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--groups', nargs='+', choices=GROUPS, default=list(GROUPS))
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    parser.add_argument('--seg-iters', type=int, default=2000, help='segmentation schedule (val every quarter)')
    parser.add_argument('--det-source-iters', type=int, default=600, help='det source-only / oracle schedule')
    parser.add_argument('--det-adapt-iters', type=int, default=200, help='mean-teacher iterations')
    parser.add_argument('--pretrain-mocov2', action='store_true',
                        help='chain: pretrain MoCo v2 again instead of using the shipped backbone')
    parser.add_argument('--jobs', type=int, default=2, help='runs trained at the same time')
    parser.add_argument('--work-dir', default='work_dirs/toy_uda_benchmark')
    parser.add_argument('--dry-run', action='store_true', help='write the configs, train nothing')
    return parser.parse_args()


# ---- config edits ------------------------------------------------------------------------------------
def _model(cfg):
    model = cfg.model
    return model.get('segmentor') or model.get('detector') or model


def random_init(cfg) -> None:
    """The from-scratch recipe: no backbone weights, every layer at the toy base lr 2e-3."""
    _model(cfg).backbone.init_cfg = None
    cfg.optim_wrapper.optimizer.lr = 2e-3
    cfg.optim_wrapper.pop('paramwise_cfg', None)


def init_from(path: str) -> Callable:
    def edit(cfg) -> None:
        _model(cfg).backbone.init_cfg = dict(type='mmcontrast.StrictPretrained', checkpoint=path)
    return edit


def pcl_target_views(cfg) -> None:
    cfg.model.contrast.views = dict(type='mmcontrast.TargetViews')


def weak_view_without_grad(cfg) -> None:
    """``weak_grad=False``: the contrast's weak view forwarded without gradient (seg and det views)."""
    cfg.model.contrast.setdefault('views', {})['weak_grad'] = False


def schedule(iters: int, val_every: int) -> Callable:
    """``iters`` iterations, the config's warm-up, poly decay to ``iters``, validation and a checkpoint."""
    def edit(cfg) -> None:
        cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=iters, val_interval=val_every)
        for sched in cfg.param_scheduler:
            if sched.get('type') == 'PolyLR':
                sched['end'] = iters
        cfg.default_hooks.checkpoint = dict(type='mmcontrast.AtomicCheckpointHook', by_epoch=False,
                                            interval=iters, max_keep_ckpts=1)
        cfg.default_hooks.logger.interval = 10
        in_process_loading(cfg, ('train_dataloader', 'val_dataloader', 'test_dataloader'))
    return edit


def in_process_loading(cfg, loaders: Sequence[str] = ('train_dataloader', )) -> None:
    """Load data in the training process: a run is one thread, ``--jobs`` runs share the cores."""
    for loader in loaders:
        cfg[loader].num_workers = 0
        cfg[loader].persistent_workers = False


# ---- the runs --------------------------------------------------------------------------------------------
def build_runs(args) -> List[Run]:
    seg = schedule(args.seg_iters, max(args.seg_iters // 4, 1))
    det_src = schedule(args.det_source_iters, args.det_source_iters)
    det_mt = schedule(args.det_adapt_iters, args.det_adapt_iters)
    runs: List[Run] = []
    seeds = args.seeds
    if 'seg' in args.groups:
        for s in seeds:
            runs += [Run(f'seg/source/mocov2/s{s}', SEG['source'], s, [seg]),
                     Run(f'seg/oracle/mocov2/s{s}', SEG['oracle'], s, [seg]),
                     Run(f'seg/dacs/mocov2/s{s}', SEG['dacs'], s, [seg]),
                     Run(f'seg/source/random/s{s}', SEG['source'], s, [seg, random_init]),
                     Run(f'seg/dacs/random/s{s}', SEG['dacs'], s, [seg, random_init])]
    if 'det' in args.groups:
        for s in seeds:
            runs += [Run(f'det/source/mocov2/s{s}', DET['source'], s, [det_src]),
                     Run(f'det/oracle/mocov2/s{s}', DET['oracle'], s, [det_src])]
        for s in seeds:
            runs.append(Run(f'det/mt/mocov2/s{s}', DET['mt'], s, [det_mt], after=f'det/source/mocov2/s{s}'))
            runs.append(Run(f'det/mt-mixed-bn/mocov2/s{s}', DET['mt_mixed_bn'], s, [det_mt],
                            after=f'det/source/mocov2/s{s}'))
    if 'contrast' in args.groups:
        for s in seeds:
            runs += [Run(f'seg/pcl/mocov2/s{s}', SEG['pcl'], s, [seg]),
                     Run(f'seg/pcl-target/mocov2/s{s}', SEG['pcl'], s, [seg, pcl_target_views]),
                     Run(f'seg/pcl-weak-nograd/mocov2/s{s}', SEG['pcl'], s, [seg, weak_view_without_grad]),
                     Run(f'seg/fcl/mocov2/s{s}', SEG['fcl'], s, [seg])]
        for s in seeds:
            source = f'det/source/mocov2/s{s}'
            runs += [Run(f'det/mt-pcl/mocov2/s{s}', DET['pcl'], s, [det_mt], after=source),
                     Run(f'det/mt-pcl-weak-nograd/mocov2/s{s}', DET['pcl'], s, [det_mt, weak_view_without_grad],
                         after=source),
                     Run(f'det/mt-fcl/mocov2/s{s}', DET['fcl'], s, [det_mt], after=source)]
    if 'demo' in args.groups:
        runs += [Run(f'seg/demo-pcl/mocov2/s{s}', SEG['pcl'], s, [schedule(DEMO_ITERS, DEMO_ITERS)]) for s in seeds]
    if 'chain' in args.groups:
        s = seeds[0]
        runs.append(Run(f'seg/pcl/random/s{s}', SEG['pcl'], s, [seg, random_init]))
        for method, config in SSL.items():
            if method == 'MoCo v2' and not args.pretrain_mocov2:
                continue
            key = CHAIN_KEYS[method]
            runs.append(Run(f'pretrain/{key}', config, s, [in_process_loading], kind='pretrain'))
            runs.append(Run(f'seg/pcl/{key}/s{s}', SEG['pcl'], s,
                            [seg, init_from(backbone_path(args, key))], after=f'pretrain/{key}'))
    return runs


def backbone_path(args, key: str) -> str:
    return osp.join(args.work_dir, 'pretrain', key, 'backbone.pth')


# ---- running ---------------------------------------------------------------------------------------------
def final_checkpoint(work_dir: str) -> str:
    found = sorted(glob(osp.join(work_dir, 'iter_*.pth')) + glob(osp.join(work_dir, 'epoch_*.pth')),
                   key=lambda p: int(p.rsplit('_', 1)[1][:-4]))
    if not found:
        raise FileNotFoundError(f'no final checkpoint in {work_dir}')
    return found[-1]


def read_scalars(work_dir: str) -> dict:
    """Validation records (with their step) and the logged step times of a finished run."""
    vals, times = [], []
    for path in sorted(glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json'))):
        with open(path) as f:
            for line in f:
                rec = json.loads(line)
                if 'loss' in rec and 'time' in rec:
                    times.append(rec['time'])
                elif any(k.endswith('mIoU') or k.endswith('bbox_mAP_50') for k in rec):
                    vals.append(rec)
    return dict(vals=vals, step_times=times)


def train(run: Run, args, deps: Dict[str, Future]) -> dict:
    from mmengine.config import Config
    work_dir = osp.join(args.work_dir, run.name)
    done = osp.join(work_dir, 'result.json')
    if osp.exists(done):
        with open(done) as f:
            return json.load(f)
    if run.after:
        deps[run.after].result()  # raises if the dependency failed
    cfg = Config.fromfile(run.config)
    cfg.randomness = dict(seed=run.seed)
    for edit in run.edits:
        edit(cfg)
    if run.after and not run.after.startswith('pretrain/') and not args.dry_run:
        cfg.load_from = final_checkpoint(osp.join(args.work_dir, run.after))
    os.makedirs(work_dir, exist_ok=True)
    cfg_path = osp.join(work_dir, 'benchmark_config.py')
    cfg.dump(cfg_path)
    if args.dry_run:
        return {}
    start = time.time()
    log = osp.join(work_dir, 'train.log')
    last = 'epoch_{}.pth'.format(cfg.train_cfg.get('max_epochs')) if run.kind == 'pretrain' else \
        'iter_{}.pth'.format(cfg.train_cfg.get('max_iters'))
    if osp.exists(osp.join(work_dir, last)):  # trained to the end by an interrupted driver: keep it
        print(f'{run.name}: reusing the finished training in {work_dir}', flush=True)
    else:
        env = dict(os.environ, OMP_NUM_THREADS='1')
        with open(log, 'w') as f:
            proc = subprocess.run([sys.executable, 'tools/train.py', cfg_path, '--work-dir', work_dir], cwd=REPO,
                                  env=env, stdout=f, stderr=subprocess.STDOUT)
        if proc.returncode != 0:
            raise RuntimeError(f'{run.name} failed (exit {proc.returncode}); see {log}')
    result = dict(read_scalars(work_dir), wall_s=time.time() - start)
    if run.kind == 'pretrain':
        dst = osp.join(work_dir, 'backbone.pth')
        subprocess.run([sys.executable, 'tools/model_converters/extract_backbone.py', final_checkpoint(work_dir),
                        dst], cwd=REPO, check=True, stdout=subprocess.DEVNULL)
        with open(dst, 'rb') as f:
            result['sha256'] = hashlib.sha256(f.read()).hexdigest()
    with open(done, 'w') as f:
        json.dump(result, f)
    print(f'[{time.strftime("%H:%M:%S")}] {run.name} done in {result["wall_s"]:.0f} s', flush=True)
    return result


# ---- tables ----------------------------------------------------------------------------------------------
def _percent(key: str) -> float:
    return 1.0 if key.endswith('mIoU') else 100.0  # mmseg's IoUMetric logs %, CocoMetric fractions


def _final(result: dict, key: str) -> float:
    return _percent(key) * result['vals'][-1][key]


def _best(result: dict, key: str) -> float:
    return _percent(key) * max(v[key] for v in result['vals'] if key in v)


def _ms(values: Sequence[float]) -> str:
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return f'{statistics.mean(values):.1f} +/- {std:.1f}'


def _step(results: Sequence[dict]) -> float:
    return statistics.median(t for r in results for t in r['step_times'][1:] or r['step_times'])


def _gap(value: float, source: float, oracle: float) -> str:
    return f'{100.0 * (value - source) / (oracle - source):.0f}%' if oracle != source else '-'


def seed_results(results: Dict[str, dict], prefix: str, seeds: Sequence[int]) -> Optional[List[dict]]:
    """The results of ``prefix/s<seed>`` for every seed, or None while one is missing."""
    found = [results.get(f'{prefix}/s{s}') for s in seeds]
    return None if any(r is None for r in found) else found


def report(args, results: Dict[str, dict]) -> str:
    seeds = args.seeds
    lines: List[str] = []

    def group(prefix: str) -> Optional[List[dict]]:
        return seed_results(results, prefix, seeds)

    def metric_key(name: str, task: str) -> str:
        if task == 'seg':
            return 'mIoU' if name in ('source', 'oracle') else 'student/mIoU'
        return 'coco/bbox_mAP_50' if name in ('source', 'oracle') else 'teacher/coco/bbox_mAP_50'

    for task, title, rows in (
            ('seg', f'Segmentation, target val mIoU, {args.seg_iters} iterations', [
                ('source', 'random', 'source-only'), ('dacs', 'random', 'DACS'),
                ('source', 'mocov2', 'source-only'), ('dacs', 'mocov2', 'DACS'),
                ('pcl', 'mocov2', 'DACS + PCL (EHTDI views)'),
                ('pcl-weak-nograd', 'mocov2', 'DACS + PCL (EHTDI views, weak_grad=False)'),
                ('pcl-target', 'mocov2', 'DACS + PCL (target views)'),
                ('fcl', 'mocov2', 'DACS + FCL'), ('oracle', 'mocov2', 'target oracle')]),
            ('det', f'Detection, target val AP50, source/oracle {args.det_source_iters} + mean teacher '
             f'{args.det_adapt_iters} iterations', [
                 ('source', 'mocov2', 'source-only'), ('mt', 'mocov2', 'mean teacher'),
                 ('mt-mixed-bn', 'mocov2', 'mean teacher, eval-mode teacher (mixed BN statistics)'),
                 ('mt-pcl', 'mocov2', 'mean teacher + PCL'),
                 ('mt-pcl-weak-nograd', 'mocov2', 'mean teacher + PCL (weak_grad=False)'),
                 ('mt-fcl', 'mocov2', 'mean teacher + FCL'),
                 ('oracle', 'mocov2', 'target oracle')])):
        table = {(n, i): group(f'{task}/{n}/{i}') for n, i, _ in rows}
        if not any(table.values()):
            continue
        # the other network of a teacher-student run: the EMA teacher (seg) / the student (det)
        other = 'teacher' if task == 'seg' else 'student'
        lines += ['', f'### {title}, seeds {seeds} (mean +/- std)', '',
                  f'| method | init | final | best | final / best | gap closed | {other} (final) | step s |',
                  '|---|---|---:|---:|---:|---:|---:|---:|']
        for n, i, label in rows:
            res = table[(n, i)]
            if res is None:
                continue
            key = metric_key(n, task)
            finals = [_final(r, key) for r in res]
            ratio = statistics.mean(_final(r, key) / max(_best(r, key), 1e-9) for r in res)
            src, orc = table[('source', i)], table.get(('oracle', 'mocov2'))
            gap = '-'
            if src and orc and n not in ('source', 'oracle'):
                gap = _gap(statistics.mean(finals), statistics.mean(_final(r, metric_key('source', task)) for r in src),
                           statistics.mean(_final(r, metric_key('oracle', task)) for r in orc))
            init = 'random' if i == 'random' else 'MoCo v2 (toy world)'
            other_key = key.replace('student/', 'teacher/') if task == 'seg' else key.replace('teacher/', 'student/')
            second = _ms([_final(r, other_key) for r in res]) if other_key != key and all(
                other_key in r['vals'][-1] for r in res) else '-'
            lines.append(f'| {label} | {init} | {_ms(finals)} | {_ms([_best(r, key) for r in res])} | '
                         f'{ratio:.2f} | {gap} | {second} | {_step(res):.3f} |')
        if task == 'seg':
            lines += ['', 'per seed (final): ' + '; '.join(
                f'{n}/{i} ' + ', '.join(f'{_final(r, metric_key(n, task)):.1f}' for r in table[(n, i)])
                for n, i, _ in rows if table[(n, i)])]
    demo = group('seg/demo-pcl/mocov2')
    if demo:
        finals = [_final(r, 'student/mIoU') for r in demo]
        mean = statistics.mean(finals)
        std = statistics.stdev(finals) if len(finals) > 1 else 0.0
        lines += ['', f'### Demo (tools/demo.sh: DACS + PCL from the shipped backbone, {DEMO_ITERS} iterations)', '',
                  f'student mIoU per seed {", ".join(f"{v:.1f}" for v in finals)}: {_ms(finals)}; '
                  f'expected range (mean +/- 3 std, at least +/- 2): '
                  f'{mean - max(3 * std, 2.0):.1f} - {mean + max(3 * std, 2.0):.1f}; '
                  f'wall {statistics.mean(r["wall_s"] for r in demo):.0f} s on one thread']
    chain = [(label, key, results.get(f'seg/pcl/{key}/s{seeds[0]}')) for label, key in CHAIN_ROWS]
    if any(res for _, key, res in chain if results.get(f'pretrain/{key}')):
        lines += ['', f'### Chain: toy-world pretraining -> DACS + PCL (EHTDI views), seed {seeds[0]}', '',
                  '| backbone init | target mIoU (student, final) | pretraining wall s |', '|---|---:|---:|']
        for label, key, res in chain:
            if res is None:
                continue
            pre = results.get(f'pretrain/{key}')
            wall = f'{pre["wall_s"]:.0f}' if pre else '-'
            lines.append(f'| {label} | {_final(res, "student/mIoU"):.1f} | {wall} |')
    return '\n'.join(lines)


def properties(args, results: Dict[str, dict]) -> str:
    """The issue's required properties, checked on the measured numbers."""
    def finals(name: str, key: str) -> Optional[List[float]]:
        res = seed_results(results, name, args.seeds)
        return None if res is None else [_final(r, key) for r in res]

    out = ['', '### Required properties', '']
    src = seed_results(results, 'seg/source/mocov2', args.seeds)
    if src:
        ratios = [_final(r, 'mIoU') / _best(r, 'mIoU') for r in src]
        out.append(f'- source-only final / best validation >= 0.95: min {min(ratios):.2f} -> '
                   f'{"PASS" if min(ratios) >= 0.95 else "FAIL"}')
    s, d, o = finals('seg/source/mocov2', 'mIoU'), finals('seg/dacs/mocov2', 'student/mIoU'), \
        finals('seg/oracle/mocov2', 'mIoU')
    if s and d and o:
        closed = (statistics.mean(d) - statistics.mean(s)) / (statistics.mean(o) - statistics.mean(s))
        sd = statistics.stdev if len(args.seeds) > 1 else (lambda _: 0.0)
        apart = statistics.mean(d) - sd(d) > statistics.mean(s) + sd(s)
        out.append(f'- DACS closes >= 40% of the gap: {100 * closed:.0f}%, mean +/- std apart: {apart} -> '
                   f'{"PASS" if closed >= 0.4 and apart else "FAIL"}')
        out.append(f'- source-only <= 60% of the oracle (seg): {100 * statistics.mean(s) / statistics.mean(o):.0f}%')
    ds, dm, do = finals('det/source/mocov2', 'coco/bbox_mAP_50'), finals('det/mt/mocov2', 'teacher/coco/bbox_mAP_50'), \
        finals('det/oracle/mocov2', 'coco/bbox_mAP_50')
    if ds and dm and do:
        closed = (statistics.mean(dm) - statistics.mean(ds)) / (statistics.mean(do) - statistics.mean(ds))
        out.append(f'- mean teacher closes >= 30% of the AP50 gap: {100 * closed:.0f}% -> '
                   f'{"PASS" if closed >= 0.3 else "FAIL"}')
        out.append(f'- source-only <= 60% of the oracle (det): {100 * statistics.mean(ds) / statistics.mean(do):.0f}%')
    for name, key in (('source', 'mIoU'), ('dacs', 'student/mIoU')):
        pre, rnd = finals(f'seg/{name}/mocov2', key), finals(f'seg/{name}/random', key)
        if pre and rnd:
            better = statistics.mean(pre) > statistics.mean(rnd)
            out.append(f'- pretrained init beats random init ({name}): {statistics.mean(pre):.1f} vs '
                       f'{statistics.mean(rnd):.1f} -> {"PASS" if better else "FAIL"}')
    return '\n'.join(out)


def main() -> None:
    args = parse_args()
    os.chdir(REPO)
    import mmcontrast  # noqa: F401  (registries, checkpoint allowlist)
    from mmcontrast.datasets import ensure_toy_uda, ensure_toy_world
    ensure_toy_uda(workers=args.jobs)
    ensure_toy_world(workers=args.jobs)
    if not args.dry_run and not osp.isfile(SHIPPED_BACKBONE):
        raise FileNotFoundError(f'{SHIPPED_BACKBONE} is missing (checkpoints/toy/README.md says how to make it)')
    runs = build_runs(args)
    start = time.time()
    load = os.getloadavg()
    print(f'{len(runs)} runs, {args.jobs} at a time, work dir {args.work_dir}', flush=True)
    futures: Dict[str, Future] = {}
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        for run in runs:  # dependencies come first in the list, so they start first
            futures[run.name] = pool.submit(train, run, args, futures)
        results, failed = {}, []
        for name, future in futures.items():
            try:
                results[name] = future.result()
            except Exception as exc:  # report the rest; the failure is named and the exit code says it
                failed.append(f'{name}: {exc}')
    if args.dry_run:
        print(f'configs written under {args.work_dir}' + ''.join(f'\n  failed: {f}' for f in failed))
        sys.exit(1 if failed else 0)
    text = (f'Toy UDA benchmark: {len(runs)} runs in {(time.time() - start) / 60:.1f} min with {args.jobs} jobs, '
            f'load average at start {load[0]:.1f}, at end {os.getloadavg()[0]:.1f}\n' + report(args, results) +
            '\n' + properties(args, results))
    print(text)
    with open(osp.join(args.work_dir, 'results.md'), 'w') as f:
        f.write(text + '\n')
    if failed:
        sys.exit('failed runs:\n' + '\n'.join(failed))


if __name__ == '__main__':
    main()
