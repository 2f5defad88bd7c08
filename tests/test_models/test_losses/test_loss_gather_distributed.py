"""2-process gloo test of ``gather_distributed`` (CPU, forked workers, FileStore).

Each rank computes the loss of its shard with candidates gathered from both ranks. The
mean of the per-rank losses must equal the single-process loss over the concatenated
batch, and the gradient each rank gets for its own shard must be world_size times the
single-process gradient of that shard (DDP then averages over ranks).
"""
import os
import time

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from mmcontrast.models.losses import dimcl_loss, info_nce_loss, pcl_loss, supcon_loss
from mmcontrast.utils import gather_with_grad

WORLD_SIZE = 2


def _cases():
    g = torch.Generator().manual_seed(0)

    def rand(*shape):
        return torch.randn(*shape, generator=g, dtype=torch.float64)

    valid = torch.tensor([1, 1, 1, 0, 1, 0, 0, 0], dtype=torch.bool)  # 3 valid on rank 0, 1 on rank 1
    labels = torch.tensor([0, 1, 2, 0, 1, 1])
    return {
        'pcl': (lambda x, y, v, **kw: pcl_loss(x, y, v, scale=7.0, **kw), [rand(8, 5) * 2, rand(8, 5) * 2], [valid]),
        'info_nce': (lambda x, y, **kw: info_nce_loss(x, y, temperature=0.2, **kw), [rand(6, 4), rand(6, 4)], []),
        'supcon': (lambda x, y, **kw: supcon_loss(x, y, temperature=0.2, **kw), [rand(6, 2, 4)], [labels]),
        'dimcl': (lambda x, y, **kw: dimcl_loss(x, y, temperature=0.2, **kw), [rand(8, 5), rand(8, 5)], []),
    }


def _worker(rank, init_file, out_dir):
    torch.set_num_threads(1)
    dist.init_process_group('gloo', init_method=f'file://{init_file}', rank=rank, world_size=WORLD_SIZE)
    results = {}
    for name, (fn, diff, extra) in _cases().items():
        shards = [x.chunk(WORLD_SIZE)[rank].clone().requires_grad_() for x in diff]
        extras = [x.chunk(WORLD_SIZE)[rank] for x in extra]
        loss = fn(*shards, *extras, gather_distributed=True)
        loss.backward()
        results[name] = (loss.detach(), [s.grad for s in shards])
    torch.save(results, os.path.join(out_dir, f'rank{rank}.pt'))
    dist.barrier()
    dist.destroy_process_group()


@pytest.mark.dist
def test_gathered_loss_equals_single_process_loss(tmp_path):
    ctx = mp.start_processes(
        _worker, args=(str(tmp_path / 'store'), str(tmp_path)), nprocs=WORLD_SIZE, join=False, start_method='fork')
    deadline = time.time() + 120
    while not ctx.join(timeout=5):
        if time.time() > deadline:
            for p in ctx.processes:
                p.kill()
            pytest.fail('gloo workers did not finish in 120 s')
    per_rank = [torch.load(tmp_path / f'rank{r}.pt') for r in range(WORLD_SIZE)]
    for name, (fn, diff, extra) in _cases().items():
        full = [x.clone().requires_grad_() for x in diff]
        loss = fn(*full, *extra)
        grads = torch.autograd.grad(loss, full)
        mean = sum(res[name][0] for res in per_rank) / WORLD_SIZE
        torch.testing.assert_close(mean, loss.detach(), msg=f'{name}: loss')
        for i, grad in enumerate(grads):
            for rank in range(WORLD_SIZE):
                local = per_rank[rank][name][1][i]
                assert local.abs().sum() > 0, f'{name}: no gradient on rank {rank}'
                torch.testing.assert_close(
                    local, WORLD_SIZE * grad.chunk(WORLD_SIZE)[rank], msg=f'{name}: grad {i} rank {rank}')


def test_gather_with_grad_is_identity_without_process_group():
    x = torch.randn(3, 2, requires_grad=True)
    assert gather_with_grad(x) is x


def _mismatch_worker(rank, init_file, out_dir):
    torch.set_num_threads(1)
    dist.init_process_group('gloo', init_method=f'file://{init_file}', rank=rank, world_size=WORLD_SIZE)
    num = 3 if rank == 0 else 2  # a last, smaller batch on rank 1
    g = torch.Generator().manual_seed(rank)
    results = {}
    for name, call in {
            'info_nce': lambda: info_nce_loss(torch.randn(num, 4, generator=g), torch.randn(num, 4, generator=g),
                                              gather_distributed=True),
            'supcon': lambda: supcon_loss(torch.randn(num, 4, generator=g), torch.arange(num),
                                          gather_distributed=True),
    }.items():
        try:
            call()
            results[name] = 'no error'
        except ValueError as e:
            results[name] = str(e)
    torch.save(results, os.path.join(out_dir, f'mismatch{rank}.pt'))
    dist.barrier()
    dist.destroy_process_group()


@pytest.mark.dist
def test_different_batch_sizes_raise_a_clear_error_on_every_rank(tmp_path):
    ctx = mp.start_processes(
        _mismatch_worker, args=(str(tmp_path / 'store'), str(tmp_path)), nprocs=WORLD_SIZE, join=False,
        start_method='fork')
    deadline = time.time() + 120
    while not ctx.join(timeout=5):
        if time.time() > deadline:
            for p in ctx.processes:
                p.kill()
            pytest.fail('gloo workers did not finish in 120 s')
    for rank in range(WORLD_SIZE):
        for name, message in torch.load(tmp_path / f'mismatch{rank}.pt').items():
            assert 'the shapes differ (rank 0: (3,' in message and 'rank 1: (2,' in message, (rank, name, message)
            assert f'this is rank {rank}' in message and 'drop_last=True' in message
