# Copyright (c) mmcontrast contributors. Licensed under the Apache License 2.0.
"""mmcontrast's NT-Xent and SupCon against pytorch-metric-learning: value, gradient, time.

pytorch-metric-learning is a benchmark-only extra (``pip install -r requirements/benchmark.txt``),
not a runtime dependency of mmcontrast.

Example::

    OMP_NUM_THREADS=1 python tools/analysis_tools/benchmark_loss_peers.py --sizes 256 1024 4096
    python tools/analysis_tools/benchmark_loss_peers.py --device cuda --repeats 20

Cases (N samples, two views each, so 2N embedding rows of dimension ``--dim``):

- ``NT-Xent``: :func:`mmcontrast.models.losses.info_nce_loss` on ``[N, D]`` x 2 against
  ``pytorch_metric_learning.losses.NTXentLoss`` on ``cat([a, b])`` with labels
  ``cat([arange(N), arange(N)])`` (SimCLR's layout), and against PML's ``SupConLoss`` with
  the same labels, which is the same loss (one positive per anchor, every other row in the
  denominator) through PML's matrix-based path.
- ``SupCon``: :func:`mmcontrast.models.losses.supcon_loss` on ``[N, 2, D]`` with ``--classes``
  random labels against PML's ``SupConLoss`` on the ``2N`` view rows (view-major) and the
  repeated labels. Both are Khosla's L_out, averaged over the anchors with a positive.

Method: float32 leaves; for every case our loss and the peer run alternately (ours, peer,
ours, peer, ...) on the same tensors, ``--warmup`` untimed passes each, then ``--repeats``
timed forward+backward passes each; the medians are reported (wall, and process CPU time on
CPU: on a shared machine wall time also counts other jobs). ``torch.cuda.synchronize`` around
each pass on CUDA. Before timing, the loss values and the input gradients of ours and the
peer are compared (absolute differences in the table; the issue's bar is 1e-5 on the value).
A peer whose working set (estimated from its algorithm, see ``estimate_peer_bytes``) exceeds
``--max-peer-mib`` or the machine's available memory is not run, and the table says why.
"""
import argparse
import json
import os
import platform
import re
import statistics
import sys
import time
from typing import Callable, Dict, List, Optional, Tuple

import torch

from mmcontrast.models.losses import info_nce_loss, supcon_loss

MIB = 2**20


def _meminfo_mib(key: str) -> Optional[int]:
    try:
        with open('/proc/meminfo') as f:
            match = re.search(rf'^{key}:\s+(\d+) kB', f.read(), re.M)
    except OSError:
        return None
    return int(match.group(1)) // 1024 if match else None


def cpu_model() -> str:
    try:
        with open('/proc/cpuinfo') as f:
            match = re.search(r'^model name\s*:\s*(.+)$', f.read(), re.M)
        if match:
            return match.group(1).strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_line(device: torch.device) -> str:
    load = '/'.join(f'{x:.2f}' for x in os.getloadavg())
    name = torch.cuda.get_device_name(device) if device.type == 'cuda' else 'CPU'
    return (f'{name}; host CPU {cpu_model()}, {os.cpu_count()} cores, {_meminfo_mib("MemTotal")} MiB RAM; '
            f'torch {torch.__version__}, {torch.get_num_threads()} thread(s); load average (1/5/15 min) {load}')


def estimate_peer_bytes(kind: str, peer: str, rows: int) -> int:
    """Largest working set of the PML peer, from its algorithm (float32, 4 bytes).

    ``NTXentLoss`` (pair-based) materialises, for its P = rows positive pairs and its
    Q = rows * (rows - 2) negative pairs, the ``[P, Q]`` matrix ``a2 == a1`` (bool), its
    float copy, ``neg_pairs * n_per_p`` and its exp: about 13 bytes per entry.
    ``SupConLoss`` (matrix-based) holds about a dozen ``rows x rows`` float matrices
    (similarities, positive/negative masks, masked and shifted copies, their gradients).
    """
    if peer == 'NTXentLoss':
        return 13 * rows * rows * (rows - 2)
    return 12 * 4 * rows * rows


def _pml():
    try:
        from pytorch_metric_learning import losses as pml_losses
    except ImportError:
        sys.exit('pytorch-metric-learning is not installed: pip install -r requirements/benchmark.txt '
                 '(a benchmark-only extra)')
    import pytorch_metric_learning
    return pml_losses, pytorch_metric_learning.__version__


def build_cases(sizes: List[int], dim: int, classes: int, temperature: float, device: torch.device, seed: int):
    """(loss, N, peer name, ours(), peer(), leaves) for every size."""
    pml_losses, _ = _pml()
    cases = []
    for n in sizes:
        gen = torch.Generator().manual_seed(seed + n)
        a = torch.randn(n, dim, generator=gen).to(device).requires_grad_()
        b = torch.randn(n, dim, generator=gen).to(device).requires_grad_()
        ids = torch.arange(n, device=device).repeat(2)

        def ours_ntxent(a=a, b=b):
            return info_nce_loss(a, b, temperature=temperature)

        for peer_name, peer_cls in (('NTXentLoss', pml_losses.NTXentLoss), ('SupConLoss', pml_losses.SupConLoss)):
            peer_loss = peer_cls(temperature=temperature)

            def peer(a=a, b=b, ids=ids, peer_loss=peer_loss):
                return peer_loss(torch.cat([a, b]), ids)

            label = 'NTXentLoss' if peer_name == 'NTXentLoss' else 'SupConLoss, SimCLR labels'
            cases.append(('NT-Xent', n, label, peer_name, ours_ntxent, peer, [a, b]))

        feats = torch.randn(n, 2, dim, generator=gen).to(device).requires_grad_()
        labels = torch.randint(0, classes, (n, ), generator=gen).to(device)
        peer_loss = pml_losses.SupConLoss(temperature=temperature)

        def ours_supcon(feats=feats, labels=labels):
            return supcon_loss(feats, labels, temperature=temperature)

        def peer_supcon(feats=feats, labels=labels, peer_loss=peer_loss):
            # view-major rows, as supcon_loss lays them out (the loss does not depend on the order)
            return peer_loss(feats.transpose(0, 1).reshape(-1, feats.shape[-1]), labels.repeat(2))

        cases.append(('SupCon', n, f'SupConLoss, {classes} classes', 'SupConLoss', ours_supcon, peer_supcon, [feats]))
    return cases


def _sync(device: torch.device) -> None:
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def _pass(fn: Callable, leaves: List[torch.Tensor]) -> Tuple[float, List[torch.Tensor]]:
    for x in leaves:
        x.grad = None
    loss = fn()
    loss.backward()
    return float(loss.detach()), [x.grad for x in leaves]


def compare(ours: Callable, peer: Callable, leaves: List[torch.Tensor]) -> Tuple[float, float, float]:
    """Our value, |value difference| and the largest |gradient difference|."""
    value, grads = _pass(ours, leaves)
    grads = [g.clone() for g in grads]
    peer_value, peer_grads = _pass(peer, leaves)
    grad_diff = max(float((g - h).abs().max()) for g, h in zip(grads, peer_grads))
    return value, abs(value - peer_value), grad_diff


def time_alternating(fns: Dict[str, Callable], leaves: List[torch.Tensor], device: torch.device, repeats: int,
                     warmup: int) -> Dict[str, Tuple[float, float]]:
    """Median wall and CPU seconds of a forward+backward pass of each fn, the fns alternating."""
    wall: Dict[str, List[float]] = {k: [] for k in fns}
    cpu: Dict[str, List[float]] = {k: [] for k in fns}
    for i in range(warmup + repeats):
        for name, fn in fns.items():
            _sync(device)
            start, start_cpu = time.perf_counter(), time.process_time()
            _pass(fn, leaves)
            _sync(device)
            if i >= warmup:
                wall[name].append(time.perf_counter() - start)
                cpu[name].append(time.process_time() - start_cpu)
    return {k: (statistics.median(wall[k]), statistics.median(cpu[k])) for k in fns}


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--sizes', type=int, nargs='+', default=[256, 1024, 4096], help='N (samples; 2N rows)')
    parser.add_argument('--dim', type=int, default=128)
    parser.add_argument('--classes', type=int, default=100, help='SupCon: number of label values')
    parser.add_argument('--temperature', type=float, default=0.1)
    parser.add_argument('--device', choices=['cpu', 'cuda'], default='cpu')
    parser.add_argument('--repeats', type=int, default=5)
    parser.add_argument('--warmup', type=int, default=1)
    parser.add_argument('--threads', type=int, default=None, help='torch.set_num_threads (CPU)')
    parser.add_argument('--max-peer-mib', type=int, default=None,
                        help='skip a peer whose estimated working set exceeds this (default: MemAvailable / 2 on CPU, '
                        'free memory on CUDA)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--out-json', default=None)
    args = parser.parse_args(argv)
    if args.device == 'cuda' and not torch.cuda.is_available():
        parser.error('--device cuda: CUDA is not available')
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    _, pml_version = _pml()
    if args.max_peer_mib is not None:
        budget = args.max_peer_mib * MIB
    elif device.type == 'cuda':
        budget = torch.cuda.mem_get_info(device)[0]
    else:
        budget = (_meminfo_mib('MemAvailable') or 0) * MIB // 2
    before = machine_line(device)
    print(f'Machine: {before}.')
    print(f'pytorch-metric-learning {pml_version}; D={args.dim}, temperature {args.temperature}, float32, '
          f'{args.repeats} timed passes after {args.warmup} warm-up, alternating ours/peer; medians.')
    cpu = device.type == 'cpu'
    print('')
    print('| loss | N (rows) | peer (pytorch-metric-learning) | ours ms | peer ms | peer / ours |'
          + (' ours CPU ms | peer CPU ms |' if cpu else '') + ' loss value | abs value diff | max abs grad diff |')
    print('| --- | ---: | --- | ---: | ---: | ---: |' + (' ---: | ---: |' if cpu else '') + ' ---: | ---: | ---: |')
    rows = []
    for loss, n, label, peer_name, ours, peer, leaves in build_cases(args.sizes, args.dim, args.classes,
                                                                       args.temperature, device, args.seed):
        need = estimate_peer_bytes(loss, peer_name, 2 * n)
        row = dict(loss=loss, n=n, rows=2 * n, peer=label, peer_estimated_mib=need / MIB)
        if need > budget:
            why = f'not run: needs ~{need / 2**30:.0f} GiB (budget {budget / 2**30:.1f} GiB)'
            value, _ = _pass(ours, leaves)
            t = time_alternating(dict(ours=ours), leaves, device, args.repeats, args.warmup)['ours']
            row.update(ours_s=t[0], ours_cpu_s=t[1], value=value, skipped=why)
            cells = f'| {loss} | {n} ({2 * n}) | {label} | {t[0] * 1e3:.1f} | {why} | n/a |'
            cells += f' {t[1] * 1e3:.1f} | n/a |' if cpu else ''
            print(cells + f' {value:.6f} | n/a | n/a |', flush=True)
            rows.append(row)
            continue
        value, value_diff, grad_diff = compare(ours, peer, leaves)
        times = time_alternating(dict(ours=ours, peer=peer), leaves, device, args.repeats, args.warmup)
        row.update(ours_s=times['ours'][0], peer_s=times['peer'][0], ours_cpu_s=times['ours'][1],
                   peer_cpu_s=times['peer'][1], value=value, value_diff=value_diff, grad_diff=grad_diff)
        rows.append(row)
        cells = (f'| {loss} | {n} ({2 * n}) | {label} | {times["ours"][0] * 1e3:.1f} | {times["peer"][0] * 1e3:.1f} | '
                 f'{times["peer"][0] / times["ours"][0]:.2f} |')
        cells += f' {times["ours"][1] * 1e3:.1f} | {times["peer"][1] * 1e3:.1f} |' if cpu else ''
        print(cells + f' {value:.6f} | {value_diff:.1e} | {grad_diff:.1e} |', flush=True)
    after = machine_line(device)
    print('')
    print(f'Load average after: {after.rsplit("load average (1/5/15 min) ", 1)[-1]}.')
    if args.out_json:
        with open(args.out_json, 'w') as f:
            json.dump(dict(machine_before=before, machine_after=after, pml=pml_version, settings=vars(args),
                           results=rows), f, indent=2)
    bad = [r for r in rows if r.get('value_diff', 0) > 1e-5]
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main())
