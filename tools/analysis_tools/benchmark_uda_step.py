# Copyright (c) mmcontrast contributors. Licensed under the Apache License 2.0.
"""Step time and peak memory of one UDA training step (segmentation or detection), per model variant.

A *variant* is a name and a dict of ``model`` overrides merged into the config's model
(``Config.merge_from_dict``; ``_delete_=True`` replaces a sub-dict). Built in:

- ``summed``: ``backward=dict(type='mmcontrast.SummedBackward')``, one backward of all losses;
- ``sequential``: ``backward=dict(type='mmcontrast.SequentialBackward')``, DAFormer's schedule
  (the source losses are backpropagated before the mixed-image forward runs);
- the contrastive presets (issue 18), which replace the config's ``contrast=dict(...)`` whole:
  ``base`` (no contrastive term), ``pcl`` (segmentation: the reproduction mode of
  ``configs/_base_/uda/recipes/ehtdi.py``; detection: RoI class-probability PCL as in
  ``mean-teacher-pcl_faster-rcnn_r50_fpn_24k_city2foggy.py``), ``pcl-weak-nograd`` (the same
  with ``weak_grad=False``: the weak view forwarded without gradient), ``pcl-target`` and ``pcl-mixed``
  (segmentation: the same losses on ``TargetViews`` / ``MixedViews``) and ``fcl`` (InfoNCE on the
  classifier input, resp. on the RoI features).

More come from ``--define NAME=JSON`` (e.g. ``--define noaux='{"segmentor": {"auxiliary_head": null}}'``).
A config whose model has ``segmentor=`` is a UDA segmentor (``DACSSegmentor``), one with
``detector=`` a UDA detector (``DomainAdaptiveTeacher``: burn-in off, so every step is a full
teacher-student step; its mean-teacher EMA is a hook outside ``train_step``, not timed).

Examples::

    OMP_NUM_THREADS=2 python tools/analysis_tools/benchmark_uda_step.py \
        configs/uda_seg/daformer_deeplabv2red-r101-d8_1xb2-40k_gta2cs-512x512.py \
        --steps 3 --warmup 1 --out-json work_dirs/uda_step.json
    python tools/analysis_tools/benchmark_uda_step.py CONFIG --device cuda --steps 20 --warmup 3
    # PCL's cost, variants alternating in one process (docs/benchmark.md)
    OMP_NUM_THREADS=1 python tools/analysis_tools/benchmark_uda_step.py \
        configs/uda_seg/dacs_deeplabv3-r18-narrow_2k_toy-src2tgt.py --crop 128 --steps 30 --warmup 3 \
        --alternate --variants base pcl pcl-target pcl-mixed fcl
    OMP_NUM_THREADS=1 python tools/analysis_tools/benchmark_uda_step.py \
        configs/uda_det/mean-teacher_faster-rcnn_r50_fpn_24k_city2foggy.py --crop 600 --width 1200 \
        --alternate --variants base pcl fcl --steps 2 --warmup 1

Method:
    * The model is built from the config without any weights (``init_cfg``/``pretrained``
      set to None, random init, seeded) and ``imnet_feature_dist=None`` unless
      ``--with-fdist`` (then the frozen ImageNet backbone keeps its random weights and is
      marked available, so its forward is counted without a download). SyncBN is reverted
      to BN as mmengine's Runner does on one process. The optimiser wrapper is the config's.
    * The batch is a raw multi-branch batch as ``UDADataset`` + ``pseudo_collate`` produce
      it: ``--batch`` source and ``--batch`` target uint8 images of ``--crop`` x ``--crop``
      and source labels of random classes in square blocks (crop/16 pixels), seeded. Every
      step of every variant gets the same batch and the same random seed.
    * A step is ``model.train_step(batch, optim_wrapper)`` (preprocessing, teacher EMA and
      pseudo-labels, forward, the variant's backward schedule, AdamW update). Times are
      the median of ``--steps`` steps after ``--warmup`` untimed ones
      (``torch.cuda.synchronize`` around each step on CUDA). On CPU the median process CPU
      time is given too: on a shared machine wall time also counts other jobs.
    * Peak memory, CUDA: ``torch.cuda.max_memory_allocated`` after
      ``reset_peak_memory_stats``, minus the memory allocated before the step. All
      variants live in one process and run alternately (A, B, A, B, ...) on identical
      batches.
    * ``--alternate`` (CPU): all variants in this process, stepped alternately on identical
      batches as on CUDA; before every step ``gc.collect()``, ``malloc_trim(0)`` and a VmHWM
      reset, and the step's memory is VmHWM after it minus VmRSS before it. The table adds the
      "paired" ratio: each step over the same round's baseline step, median over rounds (wall
      and CPU time), which load that changes between rounds does not bias. The reset returns
      freed memory to the OS, so every step faults its memory in again (more for the variant
      that holds more); ``--no-memory-reset`` skips it, as a training process would, and
      then measures no memory.
    * Peak memory, CPU (without ``--alternate``): each variant runs in its own process (this script with the hidden
      ``--worker`` flag), one variant after the other (alternating is not possible across
      processes). What is reported is resident memory added by the measured steps: the
      largest VmRSS of ``/proc/self/status``, sampled every 5 ms by a background thread
      during the steps, minus VmRSS just before the first measured step; and the same from
      the kernel's exact high-water mark VmHWM, reset (``/proc/self/clear_refs``) before
      each step. Before that first step the worker runs ``gc.collect()`` and glibc's
      ``malloc_trim(0)``: freed tensors below glibc's adaptive mmap threshold (up to
      32 MiB) otherwise stay resident in the heap after the warm-up, the RSS before the
      step then already holds memory the step will reuse, and its growth is understated
      (on a toy step by 5-20x). The number includes the C allocator's fragmentation, as a
      training process has it. ``--profile-memory`` adds one untimed step under
      ``torch.profiler`` whose allocator events give the peak of live tensor bytes, the
      CPU counterpart of ``max_memory_allocated`` (no fragmentation).
      ``--malloc-mmap-threshold BYTES`` sets ``MALLOC_MMAP_THRESHOLD_`` in the workers
      (every larger tensor mapped on its own and returned when freed, so RSS follows live
      bytes) but slows steps by an order of magnitude: memory only, not for timing.
    * A worker aborts (and the table says so) when the system's MemAvailable falls below
      ``--min-available-mib``, so that a variant that does not fit does not take a shared
      machine down with it.

Prints a markdown table (config, model, variant, median step time, peak step memory and
the ratios to ``--baseline``) with the machine (CPU model, cores, load averages before and
after, torch version, device), and writes it all to ``--out-json``.
"""
import argparse
import copy
import gc
import json
import os
import os.path as osp
import platform
import random
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from typing import Dict, List, Optional

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

BUILTIN_VARIANTS: Dict[str, dict] = {
    'summed': dict(backward=dict(type='mmcontrast.SummedBackward')),
    'sequential': dict(backward=dict(type='mmcontrast.SequentialBackward')),
}
# The contrastive variants of issue 18, per model family (a UDA segmentor: DACSSegmentor, a
# UDA detector: DomainAdaptiveTeacher). ``base`` is the config without contrastive terms.
_SEG_PCL_LOSSES = dict(
    class_pcl=dict(type='mmcontrast.ClassPCLLoss', scale=7.0, loss_weight=0.01),
    pixel_pcl=dict(type='mmcontrast.PixelPCLLoss', scale=20.0, max_pixels=None, chunk_size=4096, loss_weight=0.01))
_DET_VIEWS = dict(type='mmcontrast.RoIBoxPairViews', boxes=('pseudo', 'proposals'), pseudo_thr=None,
                  num_proposals=64, min_box_wh=(4.0, 4.0))
FAMILY = '__by_family__'
# A preset's contrast=dict(...) replaces the config's whole (no merge): stored as [value].
CONTRAST_KEY = '__contrast__'


def _contrast(views: Optional[dict], losses: Optional[dict] = None) -> dict:
    return {CONTRAST_KEY: [None if views is None else dict(views=views, losses=losses)]}


CONTRAST_VARIANTS: Dict[str, dict] = {
    'base': {FAMILY: dict(seg=_contrast(None), det=_contrast(None))},
    # the reproduction mode: configs/_base_/uda/recipes/ehtdi.py
    'pcl': {FAMILY: dict(
        seg=_contrast(dict(type='mmcontrast.EHTDIViews', threshold=0.95), _SEG_PCL_LOSSES),
        det=_contrast(dict(_DET_VIEWS, target='cls_score'),
                      dict(pcl=dict(type='mmcontrast.PCLLoss', scale=20.0, loss_weight=0.5))))},
    # the same with the weak view forwarded without gradient (weak_grad=False, a named deviation)
    'pcl-weak-nograd': {FAMILY: dict(
        seg=_contrast(dict(type='mmcontrast.EHTDIViews', threshold=0.95, weak_grad=False), _SEG_PCL_LOSSES),
        det=_contrast(dict(_DET_VIEWS, target='cls_score', weak_grad=False),
                      dict(pcl=dict(type='mmcontrast.PCLLoss', scale=20.0, loss_weight=0.5))))},
    'pcl-target': {FAMILY: dict(seg=_contrast(dict(type='mmcontrast.TargetViews'), _SEG_PCL_LOSSES))},
    'pcl-mixed': {FAMILY: dict(seg=_contrast(dict(type='mmcontrast.MixedViews'), _SEG_PCL_LOSSES))},
    'fcl': {FAMILY: dict(
        seg=_contrast(dict(type='mmcontrast.EHTDIViews', feature_pixels=256),
                      dict(fcl=dict(type='mmcontrast.InfoNCELoss', temperature=0.1, loss_weight=0.01))),
        det=_contrast(dict(_DET_VIEWS, target='roi_feat'),
                      dict(fcl=dict(type='mmcontrast.InfoNCELoss', temperature=0.1, loss_weight=0.5))))},
}
MIB = 2**20


# ---------------------------------------------------------------------------- CLI
def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split('\n')[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog='Method: see the module docstring of tools/analysis_tools/benchmark_uda_step.py')
    parser.add_argument('configs', nargs='+', metavar='CONFIG',
                        help='UDA segmentation (DACSSegmentor) or detection (DomainAdaptiveTeacher) config(s)')
    parser.add_argument('--steps', type=int, default=5, help='measured steps per variant (median reported)')
    parser.add_argument('--warmup', type=int, default=1, help='untimed steps first')
    parser.add_argument('--batch', type=int, default=2, help='source images per step (and as many target)')
    parser.add_argument('--crop', type=int, default=512, help='image height (and width unless --width)')
    parser.add_argument('--width', type=int, default=None, help='image width (default: --crop)')
    parser.add_argument(
        '--alternate',
        action='store_true',
        help='CPU: all variants in this process, stepped alternately (A, B, A, B, ...) on identical batches '
        '(the CUDA path always does); memory per step from VmHWM, and the profiler with --profile-memory')
    parser.add_argument(
        '--no-memory-reset',
        action='store_true',
        help='--alternate on CPU: no gc.collect() / malloc_trim(0) / VmHWM reset before the steps, so freed '
        'memory stays mapped as in a training process (times without the page faults of the reset); '
        'memory is then not measured')
    parser.add_argument('--device', choices=['cpu', 'cuda'], default='cpu')
    parser.add_argument(
        '--variants',
        nargs='+',
        default=['summed', 'sequential'],
        help=f'variant names: built in {sorted(BUILTIN_VARIANTS)} (segmentation), {list(CONTRAST_VARIANTS)} '
        '(contrastive terms; segmentation and, for base/pcl/pcl-weak-nograd/fcl, detection) or defined with --define')
    parser.add_argument(
        '--define',
        action='append',
        default=[],
        metavar='NAME=JSON',
        help='a variant: NAME and a JSON dict of model overrides')
    parser.add_argument(
        '--baseline', default=None, help='variant the ratios divide by (default: summed if run, else the first)')
    parser.add_argument(
        '--with-fdist',
        action='store_true',
        help='keep the ImageNet feature distance (random frozen weights, nothing downloaded)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--threads', type=int, default=None, help='torch.set_num_threads (CPU)')
    parser.add_argument(
        '--malloc-mmap-threshold',
        type=int,
        default=0,
        help="CPU: MALLOC_MMAP_THRESHOLD_ of the workers in bytes (0: glibc's adaptive default); "
        'makes RSS follow live tensor bytes but slows steps ~10-50x, so times are then meaningless')
    parser.add_argument(
        '--profile-memory',
        action='store_true',
        help='CPU: one more untimed step under torch.profiler for the peak of live tensor bytes')
    parser.add_argument(
        '--min-available-mib',
        type=int,
        default=1024,
        help='CPU: abort a worker when the system MemAvailable falls below this')
    parser.add_argument('--out-json', default=None, help='write machine, settings and results here')
    parser.add_argument('--worker', default=None, help=argparse.SUPPRESS)  # result file of one CPU variant
    args = parser.parse_args(argv)
    if args.width is None:
        args.width = args.crop
    if args.steps < 1 or args.warmup < 0 or args.batch < 1 or args.crop < 32 or args.width < 32:
        parser.error('need --steps >= 1, --warmup >= 0, --batch >= 1 and --crop, --width >= 32')
    if args.no_memory_reset and (args.device != 'cpu' or not args.alternate):
        parser.error('--no-memory-reset applies to --alternate on CPU only')
    args.variant_cfgs = dict(BUILTIN_VARIANTS, **CONTRAST_VARIANTS)
    for item in args.define:
        name, sep, text = item.partition('=')
        try:
            overrides = json.loads(text) if sep else None
        except json.JSONDecodeError as err:
            parser.error(f'--define {name}: not JSON ({err})')
        if not name or not isinstance(overrides, dict):
            parser.error(f'--define expects NAME=JSON-dict, got {item!r}')
        args.variant_cfgs[name] = overrides
    unknown = [v for v in args.variants if v not in args.variant_cfgs]
    if unknown:
        parser.error(f'unknown variant(s) {unknown}; known: {sorted(args.variant_cfgs)} (add one with --define)')
    if len(set(args.variants)) != len(args.variants):
        parser.error('--variants has duplicates')
    if args.baseline is None:
        args.baseline = 'summed' if 'summed' in args.variants else args.variants[0]
    elif args.baseline not in args.variants:
        parser.error(f'--baseline {args.baseline} is not among --variants')
    for path in args.configs:
        if not osp.isfile(path):
            parser.error(f'no such config: {path}')
    return args


def fail(message: str, code: int = 2) -> None:
    """One line on stderr, then exit."""
    print(f'{osp.basename(__file__)}: error: {message}', file=sys.stderr)
    sys.exit(code)


# ------------------------------------------------------------------- /proc helpers
def _proc_kib(path: str, key: str) -> Optional[int]:
    try:
        with open(path) as f:
            match = re.search(rf'^{key}:\s+(\d+) kB', f.read(), re.M)
    except OSError:
        return None
    return int(match.group(1)) if match else None


def vm_rss() -> int:
    return (_proc_kib('/proc/self/status', 'VmRSS') or 0) * 1024


def vm_hwm() -> int:
    return (_proc_kib('/proc/self/status', 'VmHWM') or 0) * 1024


def reset_hwm() -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0); False where not possible."""
    try:
        with open('/proc/self/clear_refs', 'w') as f:
            f.write('5')
        return True
    except OSError:
        return False


def malloc_trim() -> bool:
    """Return the free pages of glibc's heap to the system; False where not glibc."""
    try:
        import ctypes
        ctypes.CDLL(None).malloc_trim(0)
        return True
    except (OSError, AttributeError):
        return False


def mem_available() -> Optional[int]:
    kib = _proc_kib('/proc/meminfo', 'MemAvailable')
    return None if kib is None else kib * 1024


class RSSSampler(threading.Thread):
    """Samples VmRSS every ``interval`` s while ``recording``; aborts the process if the
    system's MemAvailable falls below ``min_available`` bytes (checked every 50 ms)."""

    def __init__(self, interval: float = 0.005, min_available: int = 0) -> None:
        super().__init__(daemon=True)
        self.interval, self.min_available = interval, min_available
        self.recording = False
        self.peak = 0
        self.samples = 0
        self.min_seen_available: Optional[int] = None
        self._halt = threading.Event()

    def run(self) -> None:
        last_check = 0.0
        while not self._halt.is_set():
            if self.recording:
                self.peak = max(self.peak, vm_rss())
                self.samples += 1
            now = time.monotonic()
            if now - last_check > 0.05:
                last_check = now
                avail = mem_available()
                if avail is not None:
                    self.min_seen_available = avail if self.min_seen_available is None else min(
                        self.min_seen_available, avail)
                    if self.min_available and avail < self.min_available:
                        print(
                            f'{osp.basename(__file__)}: aborting this variant: system MemAvailable '
                            f'{avail / MIB:.0f} MiB < --min-available-mib {self.min_available / MIB:.0f} '
                            f'(this process holds {vm_rss() / MIB:.0f} MiB)',
                            file=sys.stderr,
                            flush=True)
                        os._exit(3)
            self._halt.wait(self.interval)

    def stop(self) -> None:
        self._halt.set()
        self.join()


# ---------------------------------------------------------------------- machine
def cpu_model() -> str:
    try:
        with open('/proc/cpuinfo') as f:
            match = re.search(r'^model name\s*:\s*(.+)$', f.read(), re.M)
        if match:
            return match.group(1).strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_info(device: str) -> dict:
    import torch
    info = dict(
        cpu=cpu_model(),
        cores=os.cpu_count(),
        usable_cores=len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else os.cpu_count(),
        mem_total_mib=round((_proc_kib('/proc/meminfo', 'MemTotal') or 0) / 1024),
        torch=torch.__version__,
        python=platform.python_version(),
        host=platform.node(),
        omp_num_threads=os.environ.get('OMP_NUM_THREADS'))
    if device == 'cuda':
        info['device_name'] = torch.cuda.get_device_name()
        info['cuda'] = torch.version.cuda
    else:
        info['device_name'] = f'CPU ({info["cpu"]})'
    return info


# ------------------------------------------------------------------- model build
def model_family(model_cfg) -> str:
    """'seg' for a UDA segmentor (``segmentor=``), 'det' for a UDA detector (``detector=``)."""
    if 'segmentor' in model_cfg:
        return 'seg'
    if 'detector' in model_cfg:
        return 'det'
    raise ValueError(f'model is {model_cfg.get("type")}, neither a UDA segmentor (segmentor=) nor a UDA detector '
                     '(detector=)')


def resolve_overrides(overrides: dict, family: str, config: str = '') -> dict:
    """A variant's model overrides for ``family`` (presets hold one dict per family)."""
    if overrides and FAMILY in overrides:
        by_family = overrides[FAMILY]
        if family not in by_family:
            raise ValueError(f'{config}: this variant has no {family} form (it has {sorted(by_family)})')
        return copy.deepcopy(by_family[family])
    return copy.deepcopy(overrides or {})


def load_config(path: str, crop: int, with_fdist: bool, overrides: dict, width: Optional[int] = None):
    from mmengine.config import Config
    cfg = Config.fromfile(path)
    try:
        family = model_family(cfg.model)
        overrides = resolve_overrides(overrides, family, path)
    except ValueError as err:
        raise ValueError(f'{path}: {err}') from None
    preset_contrast = overrides.pop(CONTRAST_KEY, None) if isinstance(overrides, dict) else None
    if overrides:
        cfg.merge_from_dict(dict(model=overrides))
    if preset_contrast is not None:  # replaces the config's contrast=dict(...) whole (None: no terms)
        cfg.model.contrast = preset_contrast[0]
    model = cfg.model
    if family == 'det':
        det = model.detector
        det.pop('pretrained', None)
        det.backbone.init_cfg = None
        # No burn-in: every measured step is a full teacher-student step.
        model.setdefault('semi_train_cfg', {})['burn_in_iters'] = 0
        return cfg
    seg = model.segmentor
    seg.pretrained = None
    seg.backbone.init_cfg = None
    if not with_fdist:
        model.imnet_feature_dist = None
    size = (crop, width or crop)
    if seg.get('data_preprocessor') is not None:
        seg.data_preprocessor.size = size
    if model.get('data_preprocessor') is not None:
        top = model.data_preprocessor
        (top.data_preprocessor if 'data_preprocessor' in top else top).size = size
    return cfg


def build_model(cfg, device: str, seed: int, with_fdist: bool):
    """The model (train mode, on ``device``) and its optimiser wrapper, seeded."""
    from mmengine.model import revert_sync_batchnorm
    from mmengine.optim import build_optim_wrapper
    from mmengine.registry import DefaultScope

    import mmcontrast.models  # noqa: F401  (registers the UDA modules)
    from mmcontrast.registry import MODELS
    seed_everything(seed)
    with DefaultScope.overwrite_default_scope('mmseg' if model_family(cfg.model) == 'seg' else 'mmdet'):
        model = MODELS.build(cfg.model)
        model = revert_sync_batchnorm(model)  # one process, as mmengine's Runner does
        if with_fdist and getattr(model, 'feature_dist', None) is not None:
            model.feature_dist.available = True  # random frozen weights: cost counted, nothing downloaded
        model = model.to(device)
        model.train()
        optim_wrapper = build_optim_wrapper(model, copy.deepcopy(cfg.optim_wrapper))
    return model, optim_wrapper


def model_summary(model) -> dict:
    student = getattr(model, 'student', model)
    backbone = student.backbone
    name = type(backbone).__name__
    depth = getattr(backbone, 'depth', None)
    if depth:
        name += f'-{depth}'
    if hasattr(student, 'decode_head'):
        heads = student.decode_head
        head_names = [type(h).__name__ for h in heads] if hasattr(heads, '__iter__') else [type(heads).__name__]
        num_classes, family = int(student.num_classes), 'seg'
    else:  # a detector
        neck = getattr(student, 'neck', None)
        head_names = [type(student).__name__] + ([type(neck).__name__] if neck is not None else [])
        head = getattr(getattr(student, 'roi_head', None), 'bbox_head', None) or getattr(student, 'bbox_head')
        num_classes, family = int(head.num_classes), 'det'
    return dict(
        model=f'{name} + {"/".join(head_names)}',
        params_m=round(sum(p.numel() for p in student.parameters()) / 1e6, 1),
        num_classes=num_classes,
        family=family)


def seed_everything(seed: int) -> None:
    import numpy as np
    import torch
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def fake_batch(batch: int, crop: int, num_classes: int, seed: int, family: str = 'seg',
               width: Optional[int] = None) -> dict:
    """A raw (uint8) multi-branch batch as the UDA datasets + pseudo_collate produce it.

    Segmentation: ``source``/``target`` images, source labels of random classes in square
    blocks. Detection: ``sup`` images with 3 random boxes each, ``unsup_teacher`` (weak) and
    ``unsup_student`` (strong: another noise image, identity homography) without boxes.
    """
    import numpy as np
    import torch
    from mmengine.structures import InstanceData, PixelData
    gen = torch.Generator().manual_seed(seed)
    height, width = crop, width or crop
    shape = (height, width)
    if family == 'det':
        from mmdet.structures import DetDataSample
        inputs, samples = dict(sup=[], unsup_teacher=[], unsup_student=[]), dict(sup=[], unsup_teacher=[],
                                                                                   unsup_student=[])
        for branch in inputs:
            for _ in range(batch):
                inputs[branch].append(torch.randint(0, 256, (3, height, width), generator=gen, dtype=torch.uint8))
                sample = DetDataSample(metainfo=dict(
                    img_shape=shape, ori_shape=shape, scale_factor=(1.0, 1.0), flip=False, flip_direction=None,
                    homography_matrix=np.eye(3, dtype=np.float32)))
                instances = InstanceData()
                if branch == 'sup':
                    xy = torch.rand(3, 2, generator=gen) * torch.tensor([width * 0.6, height * 0.6])
                    wh = (torch.rand(3, 2, generator=gen) * 0.3 + 0.1) * torch.tensor([width, height])
                    instances.bboxes = torch.cat([xy, xy + wh], dim=1)
                    instances.labels = torch.randint(0, num_classes, (3, ), generator=gen)
                else:
                    instances.bboxes = torch.zeros(0, 4)
                    instances.labels = torch.zeros(0, dtype=torch.long)
                sample.gt_instances = instances
                samples[branch].append(sample)
        return dict(inputs=inputs, data_samples=samples)
    from mmseg.structures import SegDataSample
    block = max(min(height, width) // 16, 1)
    cells_h, cells_w = -(-height // block), -(-width // block)
    inputs, samples = dict(source=[], target=[]), dict(source=[], target=[])
    for branch in ('source', 'target'):
        for _ in range(batch):
            inputs[branch].append(torch.randint(0, 256, (3, height, width), generator=gen, dtype=torch.uint8))
            sample = SegDataSample(metainfo=dict(img_shape=shape, ori_shape=shape, pad_shape=shape))
            if branch == 'source':
                label = torch.randint(0, num_classes, (1, cells_h, cells_w), generator=gen)
                label = label.repeat_interleave(block, 1).repeat_interleave(block, 2)[:, :height, :width]
                sample.gt_sem_seg = PixelData(data=label.contiguous())
            samples[branch].append(sample)
    return dict(inputs=inputs, data_samples=samples)


def run_step(model, optim_wrapper, batch: dict, seed: int, device: str) -> dict:
    """One training step on a fresh copy of ``batch``; wall and CPU seconds."""
    import torch
    data = copy.deepcopy(batch)
    seed_everything(seed)
    if device == 'cuda':
        torch.cuda.synchronize()
    start, start_cpu = time.perf_counter(), time.process_time()
    log_vars = model.train_step(data, optim_wrapper)
    if device == 'cuda':
        torch.cuda.synchronize()
    wall, cpu = time.perf_counter() - start, time.process_time() - start_cpu
    loss = log_vars.get('loss', float('nan'))
    loss = float(loss.detach() if hasattr(loss, 'detach') else loss)
    return dict(wall=wall, cpu=cpu, loss=loss)


def profile_step_memory(model, optim_wrapper, batch: dict, seed: int) -> int:
    """Peak live CPU tensor bytes during one step above the level before it (torch.profiler)."""
    from torch.profiler import ProfilerActivity, profile
    data = copy.deepcopy(batch)
    seed_everything(seed)
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        model.train_step(data, optim_wrapper)
    with tempfile.TemporaryDirectory() as tmp:
        trace = osp.join(tmp, 'trace.json')
        prof.export_chrome_trace(trace)
        with open(trace) as f:
            events = json.load(f)['traceEvents']
    memory = [e['args'] for e in events if e.get('name') == '[memory]' and e['args'].get('Device Type') == 0]
    if not memory:
        return 0
    first = min(memory, key=lambda a: a.get('Ev Idx', 0))
    base = first['Total Allocated'] - first['Bytes']
    return max(a['Total Allocated'] for a in memory) - base


# --------------------------------------------------------------------- CPU worker
def cpu_worker(args: argparse.Namespace) -> None:
    """One config, one variant, in this process; the result goes to ``args.worker``."""
    import torch
    if args.threads:
        torch.set_num_threads(args.threads)
    sampler = RSSSampler(0.005, args.min_available_mib * MIB)
    sampler.start()
    config, name = args.configs[0], args.variants[0]
    cfg = load_config(config, args.crop, args.with_fdist, args.variant_cfgs[name], args.width)
    model, optim_wrapper = build_model(cfg, 'cpu', args.seed, args.with_fdist)
    summary = model_summary(model)
    batch = fake_batch(args.batch, args.crop, summary['num_classes'], args.seed, summary['family'], args.width)
    tag = f'[{osp.basename(config)} | {name}]'
    for i in range(args.warmup):
        res = run_step(model, optim_wrapper, batch, args.seed + 1 + i, 'cpu')
        print(f'{tag} warm-up {i + 1}/{args.warmup}: {res["wall"]:.2f} s', file=sys.stderr, flush=True)
    gc.collect()
    trimmed = malloc_trim()
    baseline = vm_rss()
    hwm_ok = reset_hwm()
    sampler.peak, sampler.recording = baseline, True
    steps = []
    for i in range(args.steps):
        if hwm_ok:
            reset_hwm()
        before = vm_rss()
        res = run_step(model, optim_wrapper, batch, args.seed + 1 + args.warmup + i, 'cpu')
        res.update(rss_before=before, hwm=vm_hwm())
        steps.append(res)
        print(
            f'{tag} step {i + 1}/{args.steps}: {res["wall"]:.2f} s wall, {res["cpu"]:.2f} s CPU, VmHWM '
            f'+{(res["hwm"] - baseline) / MIB:.0f} MiB',
            file=sys.stderr,
            flush=True)
    sampler.recording = False
    peak_rss = sampler.peak
    hwm_end = vm_hwm()
    result = dict(
        config=config,
        variant=name,
        overrides=args.variant_cfgs[name],
        **summary,
        threads=torch.get_num_threads(),
        step_wall_s=[s['wall'] for s in steps],
        step_cpu_s=[s['cpu'] for s in steps],
        losses=[s['loss'] for s in steps],
        median_step_s=statistics.median(s['wall'] for s in steps),
        median_cpu_s=statistics.median(s['cpu'] for s in steps),
        rss_before_mib=baseline / MIB,
        peak_rss_mib=peak_rss / MIB,
        rss_samples=sampler.samples,
        peak_step_mib=(peak_rss - baseline) / MIB,
        hwm_reset=hwm_ok,
        vmhwm_mib=hwm_end / MIB,
        peak_step_hwm_mib=(max(s['hwm'] for s in steps) - baseline) / MIB if hwm_ok else None,
        per_step_hwm_mib=[(s['hwm'] - s['rss_before']) / MIB for s in steps] if hwm_ok else None,
        malloc_mmap_threshold=os.environ.get('MALLOC_MMAP_THRESHOLD_'),
        malloc_trimmed=trimmed,
        min_mem_available_mib=None if sampler.min_seen_available is None else sampler.min_seen_available / MIB)
    if args.profile_memory:
        peak = profile_step_memory(model, optim_wrapper, batch, args.seed + 1 + args.warmup + args.steps)
        result['profiler_peak_step_mib'] = peak / MIB
    sampler.stop()
    with open(args.worker, 'w') as f:
        json.dump(result, f)


def run_cpu_variant(args: argparse.Namespace, config: str, name: str) -> dict:
    """Re-invoke this script as a worker for one (config, variant)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = osp.join(tmp, 'result.json')
        cmd = [
            sys.executable,
            osp.abspath(__file__), config, '--variants', name, '--worker', out, '--steps',
            str(args.steps), '--warmup',
            str(args.warmup), '--batch',
            str(args.batch), '--crop',
            str(args.crop), '--width',
            str(args.width), '--seed',
            str(args.seed), '--device', 'cpu', '--min-available-mib',
            str(args.min_available_mib)
        ]
        if name not in BUILTIN_VARIANTS or args.variant_cfgs[name] != BUILTIN_VARIANTS[name]:
            cmd += ['--define', f'{name}={json.dumps(args.variant_cfgs[name])}']
        cmd += ['--with-fdist'] * args.with_fdist + ['--profile-memory'] * args.profile_memory
        if args.threads:
            cmd += ['--threads', str(args.threads)]
        env = dict(os.environ)
        env['PYTHONPATH'] = os.pathsep.join(p for p in (ROOT, env.get('PYTHONPATH')) if p)
        if args.malloc_mmap_threshold:
            env['MALLOC_MMAP_THRESHOLD_'] = str(args.malloc_mmap_threshold)
        load_before = os.getloadavg()
        start = time.time()
        proc = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=None, text=True)
        elapsed = time.time() - start
        load_after = os.getloadavg()
        if proc.returncode == 0 and osp.isfile(out):
            with open(out) as f:
                result = json.load(f)
        else:
            why = {
                3: 'aborted: system memory ran low',
                -9: 'killed (SIGKILL: out of memory?)'
            }.get(proc.returncode, 'failed')
            result = dict(
                config=config,
                variant=name,
                overrides=args.variant_cfgs[name],
                error=f'{why} (exit {proc.returncode})',
                stdout_tail=proc.stdout[-2000:])
    result.update(load_before=load_before, load_after=load_after, process_wall_s=elapsed)
    return result


# ------------------------------------------------------------- alternating path
def run_alternating(args: argparse.Namespace, config: str) -> List[dict]:
    """All variants of one config in this process, stepped alternately on identical batches.

    CUDA: synchronised wall time, ``max_memory_allocated`` above the memory allocated before
    the step. CPU (``--alternate``): wall and process CPU time; before every step
    ``gc.collect()``, glibc's ``malloc_trim(0)`` and a VmHWM reset, so the step's peak
    resident growth (VmHWM minus VmRSS before it) is its own, whichever variant ran before;
    ``--profile-memory`` adds one untimed profiled round (peak live tensor bytes).
    """
    import torch
    cuda = args.device == 'cuda'
    sampler = None
    if not cuda:
        sampler = RSSSampler(0.05, args.min_available_mib * MIB)  # only the low-memory guard
        sampler.start()
    models = {}
    for name in args.variants:
        cfg = load_config(config, args.crop, args.with_fdist, args.variant_cfgs[name], args.width)
        models[name] = build_model(cfg, args.device, args.seed, args.with_fdist)
    summary = model_summary(next(iter(models.values()))[0])
    batch = fake_batch(args.batch, args.crop, summary['num_classes'], args.seed, summary['family'], args.width)
    records: Dict[str, List[dict]] = {name: [] for name in args.variants}
    load_before = os.getloadavg()
    hwm_ok = not cuda and reset_hwm()
    for i in range(args.warmup + args.steps):
        for name, (model, optim_wrapper) in models.items():
            if cuda:
                torch.cuda.synchronize()
                torch.cuda.reset_peak_memory_stats()
                base = torch.cuda.memory_allocated()
            elif not args.no_memory_reset:
                gc.collect()
                malloc_trim()
                if hwm_ok:
                    reset_hwm()
                base = vm_rss()
            res = run_step(model, optim_wrapper, batch, args.seed + 1 + i, args.device)
            if cuda or not args.no_memory_reset:
                res['peak'] = (torch.cuda.max_memory_allocated() if cuda else
                               (vm_hwm() if hwm_ok else vm_rss())) - base
            else:
                res['peak'] = None
            res['load'] = os.getloadavg()
            if i >= args.warmup:
                records[name].append(res)
            memory = 'memory not measured' if res['peak'] is None else f'+{res["peak"] / MIB:.0f} MiB'
            print(
                f'[{osp.basename(config)} | {name}] {"warm-up" if i < args.warmup else "step"} '
                f'{i + 1}: {res["wall"]:.3f} s wall, {res["cpu"]:.3f} s CPU, {memory}, '
                f'load {res["load"][0]:.2f}',
                file=sys.stderr,
                flush=True)
    profiled = {}
    if not cuda and args.profile_memory:
        for name, (model, optim_wrapper) in models.items():
            gc.collect()
            profiled[name] = profile_step_memory(model, optim_wrapper, batch,
                                                 args.seed + 1 + args.warmup + args.steps) / MIB
    load_after = os.getloadavg()
    if sampler is not None:
        sampler.stop()
    results = []
    base_steps = records.get(args.baseline)
    for name, steps in records.items():
        result = dict(
            config=config,
            variant=name,
            overrides=args.variant_cfgs[name],
            **summary,
            threads=torch.get_num_threads(),
            alternated=True,
            step_wall_s=[s['wall'] for s in steps],
            step_cpu_s=[s['cpu'] for s in steps],
            losses=[s['loss'] for s in steps],
            median_step_s=statistics.median(s['wall'] for s in steps),
            median_cpu_s=statistics.median(s['cpu'] for s in steps),
            peak_step_mib=None if steps[0]['peak'] is None else max(s['peak'] for s in steps) / MIB,
            per_step_peak_mib=[None if s['peak'] is None else s['peak'] / MIB for s in steps],
            per_step_load=[s['load'] for s in steps],
            load_before=load_before,
            load_after=load_after)
        if base_steps:
            # The same round's baseline step ran next to this one: the ratio of each pair,
            # then the median, is robust to load that changes between rounds.
            result['paired_ratio'] = statistics.median(s['wall'] / b['wall'] for s, b in zip(steps, base_steps))
            if not cuda:
                result['paired_cpu_ratio'] = statistics.median(s['cpu'] / b['cpu'] for s, b in zip(steps, base_steps))
        if name in profiled:
            result['profiler_peak_step_mib'] = profiled[name]
        results.append(result)
    del models
    if cuda:
        torch.cuda.empty_cache()
    return results


# ----------------------------------------------------------------------- report
def _fmt(value: Optional[float], spec: str) -> str:
    return 'n/a' if value is None else format(value, spec)


def _ratio(a: Optional[float], b: Optional[float]) -> Optional[float]:
    return a / b if a is not None and b else None


def render(args: argparse.Namespace, machine: dict, results: List[dict]) -> str:
    cpu = args.device == 'cpu'
    alternated = not cpu or args.alternate
    lines = [f'## UDA training step: {" vs ".join(args.variants)} ({args.device})', '']
    load = machine['load_before'], machine['load_after']
    device = machine['device_name'] if cpu else (f'{machine["device_name"]} (CUDA {machine.get("cuda")}), host CPU '
                                                 f'{machine["cpu"]}')
    lines.append(f'Machine: {device}; {machine["cores"]} cores ({machine["usable_cores"]} usable), '
                 f'{machine["mem_total_mib"]} MiB RAM; torch {machine["torch"]}; '
                 f'threads {machine.get("threads", "n/a")} (OMP_NUM_THREADS={machine["omp_num_threads"]}); '
                 f'load average (1/5/15 min) before {"/".join(f"{x:.2f}" for x in load[0])}, '
                 f'after {"/".join(f"{x:.2f}" for x in load[1])}.')
    lines.append(f'Settings: batch {args.batch} source + {args.batch} target, image {args.crop}x{args.width}, '
                 f'{args.steps} measured step(s) after {args.warmup} warm-up, seed {args.seed}, '
                 f'ImageNet feature distance {"on (random weights)" if args.with_fdist else "off"}.')
    lines.append('')
    profiled = cpu and args.profile_memory
    if alternated:
        memory = 'peak step RSS MiB (VmHWM)' if cpu else 'peak step memory MiB (max_memory_allocated)'
        head = ('| config | model | variant | step wall s (median) |' + (' step CPU s (median) |' if cpu else '') +
                ' time / {b} | paired time / {b}' + (' (wall / CPU)' if cpu else '') + ' | ' + memory +
                ' | memory / {b} |')
    elif cpu:
        head = ('| config | model | variant | step wall s (median) | step CPU s (median) | '
                'peak step RSS MiB (5 ms VmRSS / VmHWM) | time / {b} | memory / {b} (VmRSS / VmHWM) |')
    head += ' profiler peak MiB (/ {b}) |' if profiled else ''
    lines.append(head.format(b=args.baseline))
    lines.append('| --- | --- | --- |' + ' ---: |' * (head.count('|') - 4))
    for config in args.configs:
        rows = [r for r in results if r['config'] == config]
        base = next((r for r in rows if r['variant'] == args.baseline and 'error' not in r), None)
        for r in rows:
            cfg_name = osp.splitext(osp.basename(config))[0]
            model = f'{r["model"]} ({r["params_m"]}M)' if 'model' in r else 'n/a'
            if 'error' in r:
                lines.append(f'| {cfg_name} | {model} | {r["variant"]} | {r["error"]} |' + ' |' * (head.count('|') - 5))
                continue
            t_ratio = _ratio(r['median_step_s'], base and base['median_step_s'])
            m_ratio = _ratio(r['peak_step_mib'], base and base['peak_step_mib'])
            if alternated:
                row = (f'| {cfg_name} | {model} | {r["variant"]} | {r["median_step_s"]:.3f} |' +
                       (f' {r["median_cpu_s"]:.3f} |' if cpu else '') +
                       f' {_fmt(t_ratio, ".2f")} | {_fmt(r.get("paired_ratio"), ".2f")}' +
                       (f' / {_fmt(r.get("paired_cpu_ratio"), ".2f")}' if cpu else '') +
                       f' | {_fmt(r["peak_step_mib"], ".0f")} | {_fmt(m_ratio, ".2f")} |')
            else:
                h_ratio = _ratio(r.get('peak_step_hwm_mib'), base and base.get('peak_step_hwm_mib'))
                row = (f'| {cfg_name} | {model} | {r["variant"]} | {r["median_step_s"]:.2f} | '
                       f'{r["median_cpu_s"]:.2f} | {r["peak_step_mib"]:.0f} / '
                       f'{_fmt(r.get("peak_step_hwm_mib"), ".0f")} | {_fmt(t_ratio, ".2f")} | '
                       f'{_fmt(m_ratio, ".2f")} / {_fmt(h_ratio, ".2f")} |')
            if profiled:
                p_ratio = _ratio(r.get('profiler_peak_step_mib'), base and base.get('profiler_peak_step_mib'))
                row += f' {_fmt(r.get("profiler_peak_step_mib"), ".0f")} ({_fmt(p_ratio, ".2f")}) |'
            lines.append(row)
    lines.append('')
    profiler_note = (' Profiler peak = live CPU tensor bytes during one more step, from torch.profiler allocator '
                     'events (no fragmentation; the CPU analogue of max_memory_allocated).' if profiled else '')
    if alternated and cpu:
        lines.append('Measured (CPU, alternating): all variants in one process, stepped alternately (A, B, A, B, ...) '
                     'on identical batches and seeds; "paired time" is the median over rounds of the step time over '
                     "the same round's baseline step (wall, and process CPU time, which other jobs on a shared "
                     'machine inflate less). ' +
                     ('No memory reset between the steps (--no-memory-reset): freed memory stays mapped as in a '
                      'training process; memory not measured.' if args.no_memory_reset else
                      'Before every step gc.collect(), malloc_trim(0) and a VmHWM reset (/proc/self/clear_refs); '
                      'peak step RSS = VmHWM after the step minus VmRSS before it (max over the measured steps; '
                      'includes C-allocator fragmentation).') + profiler_note)
        per = [f'{osp.splitext(osp.basename(r["config"]))[0]}: {"/".join(f"{x:.2f}" for x in r["load_before"])} -> '
               f'{"/".join(f"{x:.2f}" for x in r["load_after"])}'
               for r in results if r['variant'] == args.variants[0] and 'load_before' in r]
        lines.append('Load average per config (before -> after): ' + '; '.join(per) + '.')
    elif cpu:
        mmap = (f'MALLOC_MMAP_THRESHOLD_={args.malloc_mmap_threshold} (times not comparable)'
                if args.malloc_mmap_threshold else "glibc's default allocator settings")
        lines.append('Measured (CPU): each variant in its own process, the variants one after the other (not '
                     'alternated). Peak step RSS = the largest resident set size during the measured steps minus '
                     'VmRSS just before the first of them (after gc.collect() and malloc_trim(0)): "5 ms VmRSS" '
                     'from /proc/self/status sampled every 5 ms by a thread, "VmHWM" the kernel high-water mark '
                     f'reset (/proc/self/clear_refs) before each step. Workers ran with {mmap}. The model, teacher '
                     'and optimiser state that exist before the step are not counted; C-allocator fragmentation '
                     'is.' + profiler_note)
        per = [
            f'{osp.splitext(osp.basename(r["config"]))[0]}/{r["variant"]} '
            f'{"/".join(f"{x:.2f}" for x in r["load_before"])} -> {"/".join(f"{x:.2f}" for x in r["load_after"])}'
            for r in results if 'load_before' in r
        ]
        lines.append('Load average per variant (before -> after): ' + '; '.join(per) + '.')
    else:
        lines.append('Measured (CUDA): all variants in one process, stepped alternately on identical batches; '
                     'torch.cuda.synchronize() around each step; peak step memory = torch.cuda.max_memory_allocated() '
                     'after reset_peak_memory_stats() minus memory_allocated() before the step (max over the '
                     'measured steps).')
    if any(r.get('family') == 'det' for r in results):
        lines.append('Detection: the mean-teacher EMA is a hook (MeanTeacherHook) outside train_step, so it is not '
                     'in these times; burn-in is off, so every step is a full teacher-student step.')
    return '\n'.join(lines)


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    import torch
    if args.device == 'cuda' and not torch.cuda.is_available():
        fail(f'--device cuda: CUDA is not available (torch {torch.__version__}, '
             f'{"no GPU visible" if torch.version.cuda else "a CPU-only build"}); use --device cpu')
    if args.worker:
        cpu_worker(args)
        return 0
    if args.threads:
        torch.set_num_threads(args.threads)
    machine = machine_info(args.device)
    machine['threads'] = args.threads or (int(os.environ['OMP_NUM_THREADS']) if os.environ.get(
        'OMP_NUM_THREADS', '').isdigit() else torch.get_num_threads())
    machine['load_before'] = os.getloadavg()
    results: List[dict] = []
    for config in args.configs:
        if args.device == 'cuda' or args.alternate:
            results += run_alternating(args, config)
        else:
            for name in args.variants:
                results.append(run_cpu_variant(args, config, name))
    machine['load_after'] = os.getloadavg()
    if args.device == 'cpu':
        threads = {r['threads'] for r in results if 'threads' in r}
        if threads:
            machine['threads'] = ','.join(str(t) for t in sorted(threads))
    table = render(args, machine, results)
    print(table, flush=True)
    if args.out_json:
        os.makedirs(osp.dirname(osp.abspath(args.out_json)), exist_ok=True)
        settings = {k: v for k, v in vars(args).items() if k not in ('worker', 'define')}
        with open(args.out_json, 'w') as f:
            json.dump(dict(machine=machine, settings=settings, results=results, table=table), f, indent=2)
    return 0 if all('error' not in r for r in results) else 1


if __name__ == '__main__':
    sys.exit(main())
