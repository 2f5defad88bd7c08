"""Time and peak memory of the mmcontrast losses (forward + backward) at realistic sizes.

Example::

    OMP_NUM_THREADS=1 python tools/analysis_tools/benchmark_losses.py --device cpu
    python tools/analysis_tools/benchmark_losses.py --device cuda --repeats 20

Method:
    * Time: median wall time of ``--repeats`` forward+backward passes after
      ``--warmup`` untimed ones (``torch.cuda.synchronize`` around each pass on CUDA).
      On CPU the median process CPU time (``time.process_time``, all threads) is printed
      too: on a shared machine wall time also counts the time other jobs hold the cores,
      CPU time does not (with one thread, CPU time ~ wall time of an idle machine).
    * Peak memory: the largest amount of tensor memory allocated *during* one
      forward+backward pass on top of what existed before it (inputs excluded).
      CUDA: ``torch.cuda.max_memory_allocated`` after ``reset_peak_memory_stats``.
      CPU: one pass under ``torch.profiler`` with ``profile_memory=True``; every CPU
      allocation/free event carries the allocator's running total, whose maximum is the
      peak. Process RSS is not used: the C allocator keeps freed pages, so RSS deltas
      miss short-lived peaks and are polluted by earlier runs.
    The timed passes and the profiled pass are separate, so profiling does not slow the
    timings. The thread count (``torch.get_num_threads()``) is printed with the table.

Suites (``--suite``):
    * ``losses`` (default): every loss at one realistic size (the table above).
    * ``class-pcl``: :func:`class_pcl_loss` (vectorised over images and classes) against
      :func:`legacy_class_pcl_loss` (the former Python loop over images, kept here as the
      "before"), alternating, at ``--class-pcl-size`` (default B=8, C=19, 128x128), with
      given pseudo-labels (as the segmentor passes them) and with self-made ones; values,
      gradients, medians and the speed-up.
    * ``dense``: pixel-level PCL at HRDA-like sizes (``--dense-sizes``, default 2 x 64x64,
      2 x 128x128, 2 x 256x256 pixels per view, C=19), the naive form (``chunk_size=None``,
      the full ``2HW x 2HW`` matrix) against the chunked one (``--dense-chunks``), the forms
      alternating per round. Every pass runs under the memory profiler (its overhead is
      negligible at these sizes), so time and peak memory come from the same passes. A form
      whose estimated peak (:func:`dense_estimate_bytes`: naive, one ``2HW x 2HW`` float32
      matrix per image and one more; chunked, three ``2HW x chunk`` blocks) exceeds ``--max-mib`` (default: half
      of MemAvailable) is not run and the table says so. After a round longer than
      ``--dense-budget-s`` a size gets no further rounds. ``--dense-constant-view`` adds, per
      chunk size, the form with view a constant (``weak_grad=False``: no gradient to it).

Load averages (1/5/15 min) are printed before and after each suite, with the CPU model.
"""
import argparse
import json
import os
import re
import statistics
import sys
import tempfile
import time
from typing import Callable, Dict, List, Optional, Tuple

import torch
import torch.nn.functional as F
from torch.profiler import ProfilerActivity, profile

from mmcontrast.models.losses import (
    ASCLLoss,
    ClassPCLLoss,
    DimCLLoss,
    InfoNCELoss,
    PAUCLoss,
    PCLLoss,
    PixelPCLLoss,
    ProtoNCELoss,
    RankedSupConLoss,
    SupConLoss,
    class_pcl_loss,
    pixel_pcl_loss,
)
from mmcontrast.models.losses.utils import finite_zero, paired_nce

Case = Tuple[str, str, Callable[[torch.device], Tuple[Callable, List[torch.Tensor]]]]


def _leaf(*shape, device, scale=1.0) -> torch.Tensor:
    return (torch.randn(*shape, device=device) * scale).requires_grad_()


def _dense_pcl(chunk_size):

    def build(device):
        loss = PixelPCLLoss(scale=20.0, chunk_size=chunk_size)
        a, b = _leaf(2, 19, 64, 64, device=device, scale=3), _leaf(2, 19, 64, 64, device=device, scale=3)
        return (lambda: loss(a, b)), [a, b]

    return build


def _pcl(device):
    loss = PCLLoss(scale=20.0)
    a, b = _leaf(1024, 9, device=device, scale=3), _leaf(1024, 9, device=device, scale=3)
    return (lambda: loss(a, b)), [a, b]


def _class_pcl(device):
    loss = ClassPCLLoss(scale=7.0, threshold=0.5)
    weak, strong = _leaf(2, 19, 128, 128, device=device, scale=4), _leaf(2, 19, 128, 128, device=device, scale=4)
    return (lambda: loss(weak, strong)), [weak, strong]


def _info_nce(device):
    loss = InfoNCELoss(temperature=0.1)
    a, b = _leaf(256, 128, device=device), _leaf(256, 128, device=device)
    return (lambda: loss(a, b)), [a, b]


def _supcon(device):
    loss = SupConLoss(temperature=0.1)
    feats = _leaf(256, 2, 128, device=device)
    labels = torch.randint(0, 19, (256, ), device=device)
    return (lambda: loss(feats, labels)), [feats]


def _prototype_inputs(device):
    q, k = _leaf(256, 128, device=device), _leaf(256, 128, device=device)
    queue = F.normalize(torch.randn(16384, 128, device=device), dim=1)
    sizes = (25000, 50000, 100000)
    protos = [F.normalize(torch.randn(m, 128, device=device), dim=1) for m in sizes]
    assign = [torch.randint(0, m, (256, ), device=device) for m in sizes]
    conc = [torch.rand(m, device=device) * 0.2 + 0.1 for m in sizes]
    return q, k, queue, protos, assign, conc


def _prototype_loss(cls):

    def build(device):
        loss = cls()
        inputs = _prototype_inputs(device)
        return (lambda: loss(*inputs)), list(inputs[:2])

    return build


def _ascl(device):
    loss = ASCLLoss(num_neighbors=5)
    q, k = _leaf(256, 128, device=device), _leaf(256, 128, device=device)
    queue = F.normalize(torch.randn(16384, 128, device=device), dim=1)
    return (lambda: loss(q, k, queue)), [q, k]


def _dimcl(device):
    loss = DimCLLoss()
    z1, z2 = _leaf(256, 2048, device=device), _leaf(256, 2048, device=device)
    return (lambda: loss(z1, z2)), [z1, z2]


def _ranked_supcon(device):
    ranking = {c: [[c], [(c + 1) % 19], [(c + 2) % 19, (c + 3) % 19]] for c in range(19)}
    loss = RankedSupConLoss(ranking)
    feats = _leaf(256, 128, device=device)
    labels = torch.randint(0, 19, (256, ), device=device)
    bank = torch.randn(4096, 128, device=device)
    bank_labels = torch.randint(0, 19, (4096, ), device=device)
    return (lambda: loss(feats, labels, bank, bank_labels)), [feats]


CASES: List[Case] = [
    ('PixelPCL naive (N x N)', 'B=2 C=19 64x64, 2HW=8192 rows', _dense_pcl(None)),
    ('PixelPCL chunked 4096', 'B=2 C=19 64x64, chunk 4096', _dense_pcl(4096)),
    ('PixelPCL chunked 1024', 'B=2 C=19 64x64, chunk 1024', _dense_pcl(1024)),
    ('PCLLoss', 'N=1024 RoIs, C=9', _pcl),
    ('ClassPCLLoss', 'B=2 C=19 128x128', _class_pcl),
    ('InfoNCELoss', 'N=256 D=128', _info_nce),
    ('SupConLoss', 'N=256 V=2 D=128', _supcon),
    ('ProtoNCELoss', 'N=256 D=128 queue 16384, K=25k/50k/100k', _prototype_loss(ProtoNCELoss)),
    ('PAUCLoss', 'N=256 D=128 queue 16384, K=25k/50k/100k', _prototype_loss(PAUCLoss)),
    ('ASCLLoss', 'N=256 D=128 queue 16384, n=5', _ascl),
    ('DimCLLoss', 'N=256 D=2048', _dimcl),
    ('RankedSupConLoss', 'N=256 D=128 bank 4096, 3 ranks', _ranked_supcon),
]


def _step(fn: Callable, leaves: List[torch.Tensor]) -> None:
    for x in leaves:
        x.grad = None
    fn().backward()


def _sync(device: torch.device) -> None:
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def measure_time(fn: Callable, leaves: List[torch.Tensor], device: torch.device, repeats: int,
                 warmup: int) -> Tuple[float, float]:
    """Median wall seconds and median process CPU seconds of one forward+backward pass."""
    for _ in range(warmup):
        _step(fn, leaves)
    wall, cpu = [], []
    for _ in range(repeats):
        _sync(device)
        start, start_cpu = time.perf_counter(), time.process_time()
        _step(fn, leaves)
        _sync(device)
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return statistics.median(wall), statistics.median(cpu)


def measure_peak_memory(fn: Callable, leaves: List[torch.Tensor], device: torch.device) -> int:
    """Peak bytes allocated during one forward+backward pass, above the level before it."""
    for x in leaves:
        x.grad = None
    if device.type == 'cuda':
        _sync(device)
        torch.cuda.reset_peak_memory_stats(device)
        base = torch.cuda.memory_allocated(device)
        _step(fn, leaves)
        _sync(device)
        return torch.cuda.max_memory_allocated(device) - base
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        _step(fn, leaves)
    with tempfile.TemporaryDirectory() as tmp:
        trace = os.path.join(tmp, 'trace.json')
        prof.export_chrome_trace(trace)
        with open(trace) as f:
            events = json.load(f)['traceEvents']
    memory = [e['args'] for e in events if e.get('name') == '[memory]' and e['args'].get('Device Type') == 0]
    if not memory:
        return 0
    # The running total only counts blocks allocated while profiling; the level before
    # the first event is its total minus its own size.
    first = min(memory, key=lambda a: a.get('Ev Idx', 0))
    base = first['Total Allocated'] - first['Bytes']
    return max(a['Total Allocated'] for a in memory) - base


def legacy_class_pcl_loss(logits_weak: torch.Tensor,
                          logits_strong: torch.Tensor,
                          pseudo_label: Optional[torch.Tensor] = None,
                          scale: float = 7.0,
                          threshold: float = 0.95,
                          ignore_index: int = 255) -> torch.Tensor:
    """The former :func:`class_pcl_loss`: a Python loop over images (and ``index_add_`` over
    pixels per image), the "before" of the ``class-pcl`` suite and a reference of the tests.
    float32 inputs; no argument checks."""
    num_imgs, num_classes = logits_weak.shape[:2]
    if pseudo_label is None:
        with torch.no_grad():
            conf, pseudo_label = F.softmax(logits_weak.detach(), dim=1).max(dim=1)
            pseudo_label = pseudo_label.masked_fill(~(conf > threshold), ignore_index)
    labels = pseudo_label.long().flatten(1)
    valid = labels != ignore_index
    slots = torch.where(valid, labels, num_classes)
    keep = valid[:, None, :]
    flat_weak = torch.where(keep, logits_weak.flatten(2), 0.0)
    flat_strong = torch.where(keep, logits_strong.flatten(2), 0.0)
    losses = []
    for i in range(num_imgs):
        counts = torch.bincount(slots[i], minlength=num_classes + 1)[:num_classes]
        present = (counts > 0).nonzero().squeeze(1)
        if present.numel() == 0:
            continue
        means = []
        for flat in (flat_weak[i], flat_strong[i]):
            sums = flat.new_zeros(num_classes, num_classes + 1).index_add_(1, slots[i], flat)
            means.append((sums[:, present] / counts[present]).t())
        losses.append(paired_nce(F.softmax(means[0], dim=1), F.softmax(means[1], dim=1), scale))
    zero = finite_zero(logits_weak, logits_strong)
    if not losses:
        return zero
    return torch.stack(losses).mean() + zero


def _meminfo_mib(key: str) -> Optional[int]:
    try:
        with open('/proc/meminfo') as f:
            match = re.search(rf'^{key}:\s+(\d+) kB', f.read(), re.M)
    except OSError:
        return None
    return int(match.group(1)) // 1024 if match else None


def machine_line(device: torch.device) -> str:
    """Device, CPU model, cores, threads and the load average now."""
    cpu = 'unknown CPU'
    try:
        with open('/proc/cpuinfo') as f:
            match = re.search(r'^model name\s*:\s*(.+)$', f.read(), re.M)
        cpu = match.group(1).strip() if match else cpu
    except OSError:
        pass
    name = torch.cuda.get_device_name(device) if device.type == 'cuda' else 'CPU'
    load = '/'.join(f'{x:.2f}' for x in os.getloadavg())
    return (f'{name}; host CPU {cpu}, {os.cpu_count()} cores, {_meminfo_mib("MemTotal")} MiB RAM; '
            f'torch {torch.__version__}, {torch.get_num_threads()} thread(s); load average (1/5/15 min) {load}')


def _alternate(fns: Dict[str, Callable], leaves: List[torch.Tensor], device: torch.device, repeats: int,
               warmup: int) -> Dict[str, Tuple[float, float]]:
    """Median wall and CPU seconds of a forward+backward pass of each fn, the fns alternating."""
    wall: Dict[str, List[float]] = {k: [] for k in fns}
    cpu: Dict[str, List[float]] = {k: [] for k in fns}
    for i in range(warmup + repeats):
        for name, fn in fns.items():
            _sync(device)
            start, start_cpu = time.perf_counter(), time.process_time()
            _step(fn, leaves)
            _sync(device)
            if i >= warmup:
                wall[name].append(time.perf_counter() - start)
                cpu[name].append(time.process_time() - start_cpu)
    return {k: (statistics.median(wall[k]), statistics.median(cpu[k])) for k in fns}


def class_pcl_suite(args, device: torch.device) -> List[dict]:
    """Before (legacy loop) / after (vectorised) table of the class-level PCL."""
    b, c, h, w = args.class_pcl_size
    gen = torch.Generator().manual_seed(args.seed)
    weak = (torch.randn(b, c, h, w, generator=gen) * 4).to(device).requires_grad_()
    strong = (torch.randn(b, c, h, w, generator=gen) * 4).to(device).requires_grad_()
    # labels in blocks of 16x16 pixels (runs of one class, as real label maps), 10% ignored
    block = 16
    label = torch.randint(0, c, (b, -(-h // block), -(-w // block)), generator=gen)
    label = label.repeat_interleave(block, 1).repeat_interleave(block, 2)[:, :h, :w].contiguous()
    label[torch.rand(b, h, w, generator=gen) < 0.1] = 255
    label = label.to(device)
    print(f'class-level PCL, B={b} C={c} {h}x{w}, forward+backward, {args.repeats} timed passes after '
          f'{args.warmup} warm-up, before/after alternating; medians.')
    print('| pseudo-label | before: loop (ms) | after: vectorised (ms) | speed-up | before CPU ms | after CPU ms | '
          'speed-up (CPU) | abs value diff | max abs grad diff |')
    print('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |')
    rows = []
    for name, given in (('given (segmentor)', label), ('self-made (threshold 0.5)', None)):

        def before(given=given):
            return legacy_class_pcl_loss(weak, strong, given, threshold=0.5)

        def after(given=given):
            return class_pcl_loss(weak, strong, given, threshold=0.5)

        values, grads = [], []
        for fn in (before, after):
            weak.grad = strong.grad = None
            loss = fn()
            loss.backward()
            values.append(loss.item())
            grads.append(torch.cat([weak.grad.flatten(), strong.grad.flatten()]))
        value_diff = abs(values[0] - values[1])
        grad_diff = float((grads[0] - grads[1]).abs().max())
        t = _alternate(dict(before=before, after=after), [weak, strong], device, args.repeats, args.warmup)
        row = dict(label=name, before_s=t['before'][0], after_s=t['after'][0], before_cpu_s=t['before'][1],
                   after_cpu_s=t['after'][1], value=values[1], value_diff=value_diff, grad_diff=grad_diff)
        rows.append(row)
        print(f'| {name} | {t["before"][0] * 1e3:.1f} | {t["after"][0] * 1e3:.1f} | '
              f'{t["before"][0] / t["after"][0]:.1f}x | {t["before"][1] * 1e3:.1f} | {t["after"][1] * 1e3:.1f} | '
              f'{t["before"][1] / t["after"][1]:.1f}x | {value_diff:.1e} | {grad_diff:.1e} |', flush=True)
    return rows


def dense_estimate_bytes(rows: int, chunk: Optional[int], images: int = 1) -> int:
    """Estimated peak of pixel PCL over ``images`` images, float32: the naive form keeps every
    image's ``rows x rows`` softmax for the backward (2.0x one matrix measured at 2 x 64x64),
    one more is budgeted; the chunked one at most three ``rows x chunk`` blocks (an upper
    bound: on CPU it works on 2^20-element tiles, so its peak is far lower)."""
    if chunk is None or chunk >= rows:
        return 4 * rows * rows * (images + 1)
    return 3 * 4 * rows * chunk


def dense_suite(args, device: torch.device) -> List[dict]:
    """Pixel-level PCL: naive vs chunked, time and peak memory per size."""
    # (name, chunk size, view a constant)
    forms: List[Tuple[str, Optional[int], bool]] = [('naive', None, False)]
    forms += [(f'chunk {c}', c, False) for c in args.dense_chunks]
    if args.dense_constant_view:
        forms += [(f'chunk {c}, view a constant', c, True) for c in args.dense_chunks]
    if device.type == 'cuda':
        budget = torch.cuda.mem_get_info(device)[0]
    else:
        budget = (args.max_mib if args.max_mib else (_meminfo_mib('MemAvailable') or 0) // 2) * 2**20
    print(f'pixel-level PCL (scale 20, C=19, all pixels), forward+backward; forms alternating per round; each pass '
          f'profiled (time and peak memory of the same passes); budget per form {budget / 2**30:.1f} GiB.')
    print('| pixels per view | rows per image (2HW) | form | passes | time s (median) | CPU s (median) | '
          'time / naive | peak memory MiB | peak / (2HW x chunk x 4 B) |')
    print('| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |')
    rows_out = []
    for b, h, w in args.dense_sizes:
        gen = torch.Generator().manual_seed(args.seed)
        a = (torch.randn(b, 19, h, w, generator=gen) * 3).to(device).requires_grad_()
        c = (torch.randn(b, 19, h, w, generator=gen) * 3).to(device).requires_grad_()
        rows = 2 * h * w
        runnable, skipped = {}, {}
        for name, chunk, constant in forms:
            need = dense_estimate_bytes(rows, chunk, b)
            if need > budget:
                skipped[name] = f'not run: needs ~{need / 2**30:.0f} GiB'
            else:
                runnable[name] = (chunk, constant)
        times: Dict[str, List[Tuple[float, float]]] = {k: [] for k in runnable}
        peaks: Dict[str, int] = {k: 0 for k in runnable}

        def pass_of(chunk, constant, a=a, c=c):
            return lambda: pixel_pcl_loss(a.detach() if constant else a, c, scale=20.0, chunk_size=chunk)

        if args.warmup and rows <= 2**14:  # larger sizes: a warm-up pass would cost minutes, and change nothing
            for chunk, constant in runnable.values():
                _profiled_pass(pass_of(chunk, constant), [a, c], device)
        for round_ in range(args.repeats):
            start_round = time.perf_counter()
            for name, (chunk, constant) in runnable.items():
                peak, wall, cpu = _profiled_pass(pass_of(chunk, constant), [a, c], device)
                times[name].append((wall, cpu))
                peaks[name] = max(peaks[name], peak)
            if time.perf_counter() - start_round > args.dense_budget_s:
                break
        naive = statistics.median(t[0] for t in times['naive']) if times.get('naive') else None
        for name, chunk, _ in forms:
            size = f'{b} x {h}x{w}'
            if name in skipped:
                print(f'| {size} | {rows} | {name} | 0 | {skipped[name]} | | | | |', flush=True)
                rows_out.append(dict(size=[b, h, w], rows=rows, form=name, skipped=skipped[name]))
                continue
            wall = statistics.median(t[0] for t in times[name])
            cpu = statistics.median(t[1] for t in times[name])
            cols = rows if chunk is None or chunk >= rows else chunk
            per_block = peaks[name] / (rows * cols * 4)
            ratio = f'{wall / naive:.2f}' if naive else 'n/a'
            print(f'| {size} | {rows} | {name} | {len(times[name])} | {wall:.2f} | {cpu:.2f} | {ratio} | '
                  f'{peaks[name] / 2**20:.0f} | {per_block:.2f} |', flush=True)
            rows_out.append(dict(size=[b, h, w], rows=rows, form=name, passes=len(times[name]), wall_s=wall,
                                 cpu_s=cpu, time_over_naive=wall / naive if naive else None,
                                 peak_mib=peaks[name] / 2**20, peak_over_block=per_block))
        del a, c
    return rows_out


def _profiled_pass(fn: Callable, leaves: List[torch.Tensor], device: torch.device) -> Tuple[int, float, float]:
    """Peak bytes, wall and CPU seconds of one forward+backward pass (profiled on CPU)."""
    if device.type == 'cuda':
        for x in leaves:
            x.grad = None
        _sync(device)
        torch.cuda.reset_peak_memory_stats(device)
        base = torch.cuda.memory_allocated(device)
        start, start_cpu = time.perf_counter(), time.process_time()
        _step(fn, leaves)
        _sync(device)
        wall, cpu = time.perf_counter() - start, time.process_time() - start_cpu
        return torch.cuda.max_memory_allocated(device) - base, wall, cpu
    start, start_cpu = time.perf_counter(), time.process_time()
    peak = measure_peak_memory(fn, leaves, device)
    return peak, time.perf_counter() - start, time.process_time() - start_cpu


def _fmt_bytes(num: int) -> str:
    return f'{num / 2**20:.1f} MiB'


def losses_suite(args, device: torch.device) -> List[dict]:
    """Every loss at one realistic size."""
    results: Dict[str, Tuple[float, int]] = {}
    rows = []
    print('| loss | size | wall time fwd+bwd (median) | CPU time fwd+bwd (median) | peak memory |')
    print('|---|---|---|---|---|')
    for name, size, build in CASES:
        if args.only and not re.search(args.only, name):
            continue
        fn, leaves = build(device)
        wall, cpu = measure_time(fn, leaves, device, args.repeats, args.warmup)
        peak = measure_peak_memory(fn, leaves, device)
        # CPU time says little on CUDA (the host mostly waits); compare wall times there.
        results[name] = (cpu if device.type == 'cpu' else wall, peak)
        rows.append(dict(loss=name, size=size, wall_s=wall, cpu_s=cpu, peak_bytes=peak))
        cpu_cell = f'{cpu * 1e3:.1f} ms' if device.type == 'cpu' else 'n/a'
        print(f'| {name} | {size} | {wall * 1e3:.1f} ms | {cpu_cell} | {_fmt_bytes(peak)} |', flush=True)
    naive = results.get('PixelPCL naive (N x N)')
    for chunked in ('PixelPCL chunked 4096', 'PixelPCL chunked 1024'):
        if naive and chunked in results:
            t, m = results[chunked]
            kind = 'CPU time' if device.type == 'cpu' else 'wall time'
            print(f'dense PCL naive / {chunked.split()[-1]}-chunked: {kind} x{naive[0] / t:.2f}, '
                  f'peak memory x{naive[1] / max(m, 1):.2f}')
    return rows


SUITES = dict(losses=losses_suite, **{'class-pcl': class_pcl_suite, 'dense': dense_suite})


def _size(text: str) -> Tuple[int, ...]:
    return tuple(int(x) for x in re.split('[x,]', text))


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description='Benchmark mmcontrast losses (forward + backward).',
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument('--suite', choices=sorted(SUITES), nargs='+', default=['losses'])
    parser.add_argument('--device', choices=['cpu', 'cuda'], default='cpu')
    parser.add_argument('--repeats', type=int, default=5, help='timed passes (median reported); dense: rounds')
    parser.add_argument('--warmup', type=int, default=1, help='untimed passes first')
    parser.add_argument('--threads', type=int, default=None, help='torch.set_num_threads (CPU)')
    parser.add_argument('--only', default=None, help='losses suite: regex on the loss name')
    parser.add_argument('--class-pcl-size', type=_size, default=(8, 19, 128, 128), metavar='BxCxHxW')
    parser.add_argument('--dense-sizes', type=_size, nargs='+', default=[(2, 64, 64), (2, 128, 128), (2, 256, 256)],
                        metavar='BxHxW')
    parser.add_argument('--dense-chunks', type=int, nargs='+', default=[4096, 1024])
    parser.add_argument('--dense-constant-view', action='store_true',
                        help='dense: also the forms with view a constant (weak_grad=False)')
    parser.add_argument('--dense-budget-s', type=float, default=120.0,
                        help='dense: no further round of a size after one that took longer than this')
    parser.add_argument('--max-mib', type=int, default=None,
                        help='dense: skip forms estimated above this (default: half of MemAvailable)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--out-json', default=None)
    args = parser.parse_args(argv)
    if args.device == 'cuda' and not torch.cuda.is_available():
        parser.error('--device cuda needs a CUDA build of torch and a GPU')
    if len(args.class_pcl_size) != 4 or any(len(x) != 3 for x in args.dense_sizes):
        parser.error('--class-pcl-size is BxCxHxW, --dense-sizes are BxHxW')
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    torch.manual_seed(args.seed)
    report = dict(settings={k: v for k, v in vars(args).items()}, suites={})
    print(f'device={args.device} torch={torch.__version__} threads={torch.get_num_threads()} '
          f'repeats={args.repeats} warmup={args.warmup}')
    for suite in args.suite:
        before = machine_line(device)
        print(f'\n### {suite}\n\nMachine: {before}.\n')
        rows = SUITES[suite](args, device)
        after = machine_line(device)
        print(f'\nLoad average after: {after.rsplit("load average (1/5/15 min) ", 1)[-1]}.', flush=True)
        report['suites'][suite] = dict(machine_before=before, machine_after=after, rows=rows)
    if args.out_json:
        with open(args.out_json, 'w') as f:
            json.dump(report, f, indent=2)
    return 0


if __name__ == '__main__':
    sys.exit(main())
