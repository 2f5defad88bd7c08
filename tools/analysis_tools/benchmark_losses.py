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
"""
import argparse
import json
import os
import re
import statistics
import tempfile
import time
from typing import Callable, Dict, List, Tuple

import torch
import torch.nn.functional as F
from torch.profiler import ProfilerActivity, profile

from mmcontrast.models.losses import (ASCLLoss, ClassPCLLoss, DimCLLoss, InfoNCELoss, PAUCLoss, PCLLoss,
                                      PixelPCLLoss, ProtoNCELoss, RankedSupConLoss, SupConLoss)

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


def _fmt_bytes(num: int) -> str:
    return f'{num / 2**20:.1f} MiB'


def main() -> None:
    parser = argparse.ArgumentParser(description='Benchmark mmcontrast losses (forward + backward).')
    parser.add_argument('--device', choices=['cpu', 'cuda'], default='cpu')
    parser.add_argument('--repeats', type=int, default=5, help='timed passes (median reported)')
    parser.add_argument('--warmup', type=int, default=1, help='untimed passes first')
    parser.add_argument('--threads', type=int, default=None, help='torch.set_num_threads (CPU)')
    parser.add_argument('--only', default=None, help='regex on the loss name')
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args()
    if args.device == 'cuda' and not torch.cuda.is_available():
        parser.error('--device cuda needs a CUDA build of torch and a GPU')
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    torch.manual_seed(args.seed)
    results: Dict[str, Tuple[float, int]] = {}
    print(f'device={args.device} torch={torch.__version__} threads={torch.get_num_threads()} '
          f'repeats={args.repeats} warmup={args.warmup}')
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
        cpu_cell = f'{cpu * 1e3:.1f} ms' if device.type == 'cpu' else 'n/a'
        print(f'| {name} | {size} | {wall * 1e3:.1f} ms | {cpu_cell} | {_fmt_bytes(peak)} |', flush=True)
    naive = results.get('PixelPCL naive (N x N)')
    for chunked in ('PixelPCL chunked 4096', 'PixelPCL chunked 1024'):
        if naive and chunked in results:
            t, m = results[chunked]
            kind = 'CPU time' if device.type == 'cpu' else 'wall time'
            print(f'dense PCL naive / {chunked.split()[-1]}-chunked: {kind} x{naive[0] / t:.2f}, '
                  f'peak memory x{naive[1] / max(m, 1):.2f}')


if __name__ == '__main__':
    main()
