import math

import pytest
import torch
import torch.nn.functional as F

from mmcontrast.models.losses import ASCLLoss, ascl_byol_loss, ascl_loss


def _inputs(n=5, d=4, size=8, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(n, d, generator=g, dtype=dtype)
    k = torch.randn(n, d, generator=g, dtype=dtype)
    queue = F.normalize(torch.randn(size, d, generator=g, dtype=dtype), dim=1)
    return q, k, queue


def _ref_weights(sims, t2, n, mode):
    """Loops: neighbour weights of one row of candidate similarities."""
    if mode == 'moco' or not sims:
        return [0.0] * len(sims)
    e = [math.exp(s / t2) for s in sims]
    p = [x / sum(e) for x in e]
    entropy = -sum(x * math.log(x) for x in p if x > 0)
    c = 1 - entropy / (math.log(len(p)) if len(p) > 1 else 1.0)
    top = sorted(range(len(sims)), key=lambda j: -sims[j])[:n]
    if mode == 'ascl':
        return [min(n * c * x, 1.0) for x in p]
    if mode == 'ahcl':
        return [c if j in top else 0.0 for j in range(len(p))]
    return [1.0 if j in top else 0.0 for j in range(len(p))]


def _ref_ascl(q, k, queue, t1, t2, n, mode):
    losses = []
    for i in range(q.shape[0]):
        qi, ki = q[i] / q[i].norm(), k[i] / k[i].norm()
        sims = [float(ki @ c) for c in queue]
        y = [1.0] + _ref_weights(sims, t2, n, mode)
        y = [v / sum(y) for v in y]
        logits = [float(qi @ ki) / t1] + [float(qi @ c) / t1 for c in queue]
        lse = math.log(sum(math.exp(v) for v in logits))
        losses.append(-sum(yj * (lj - lse) for yj, lj in zip(y, logits)))
    return sum(losses) / len(losses)


def _ref_byol(pred, target, t2, n, mode):
    p = [x / x.norm() for x in pred]
    k = [x / x.norm() for x in target]
    losses = []
    for i in range(len(p)):
        others = [j for j in range(len(k)) if j != i]
        w = _ref_weights([float(k[i] @ k[j]) for j in others], t2, n, mode)
        y = {i: 1.0}
        y.update(zip(others, w))
        total = sum(y.values())
        losses.append(2 - 2 * sum(y[j] / total * float(p[i] @ k[j]) for j in y))
    return sum(losses) / len(losses)


@pytest.mark.parametrize('mode', ['ascl', 'ahcl', 'hard', 'moco'])
@pytest.mark.parametrize('num_neighbors', [1, 3])
def test_ascl_matches_reference(mode, num_neighbors):
    q, k, queue = _inputs()
    expected = _ref_ascl(q, k, queue, 0.1, 0.05, num_neighbors, mode)
    assert ascl_loss(q, k, queue, num_neighbors=num_neighbors, mode=mode).item() == pytest.approx(expected, rel=1e-9)
    module = ASCLLoss(num_neighbors=num_neighbors, mode=mode, loss_weight=0.5)
    assert module(q, k, queue).item() == pytest.approx(0.5 * expected, rel=1e-9)
    expected_byol = _ref_byol(q, k, 0.05, num_neighbors, mode)
    assert module.byol(q, k).item() == pytest.approx(0.5 * expected_byol, rel=1e-9)


def test_ascl_moco_mode_is_plain_infonce():
    q, k, queue = _inputs()
    qn, kn = F.normalize(q, dim=1), F.normalize(k, dim=1)
    logits = torch.cat([(qn * kn).sum(1, keepdim=True), qn @ queue.t()], 1) / 0.1
    expected = F.cross_entropy(logits, torch.zeros(5, dtype=torch.long))
    torch.testing.assert_close(ascl_loss(q, k, queue, mode='moco'), expected)


def test_ascl_gradcheck_and_permutation():
    q, k, queue = _inputs(n=3, d=3, size=4)
    q.requires_grad_()
    # the soft targets are computed without gradient: check the gradient w.r.t. q
    assert torch.autograd.gradcheck(lambda x: ascl_loss(x, k, queue, num_neighbors=2), (q, ))
    assert torch.autograd.gradcheck(lambda x: ascl_byol_loss(x, k, num_neighbors=2), (q, ))
    perm = torch.tensor([2, 0, 1])
    torch.testing.assert_close(ascl_loss(q[perm], k[perm], queue), ascl_loss(q, k, queue))
    torch.testing.assert_close(ascl_loss(q, k, queue[torch.tensor([3, 1, 0, 2])]), ascl_loss(q, k, queue))
    torch.testing.assert_close(ascl_byol_loss(q[perm], k[perm]), ascl_byol_loss(q, k))


def test_ascl_byol_target_gets_no_gradient():
    q, k, _ = _inputs()
    k.requires_grad_()
    q.requires_grad_()
    ascl_byol_loss(q, k).backward()
    assert k.grad is None and q.grad.abs().sum() > 0


def test_ascl_edge_cases_and_errors():
    q, k, queue = _inputs()
    q.requires_grad_()
    assert ascl_loss(q, k, queue[:0]).item() == pytest.approx(0.0, abs=1e-12)  # only the positive left
    assert torch.isfinite(ascl_loss(q, k, queue[:1]))
    empty = ascl_loss(q[:0], k[:0], queue)
    assert empty.item() == 0.0 and empty.grad_fn is not None
    single = ascl_byol_loss(q[:1], k[:1])  # no neighbour: plain BYOL
    assert single.item() == pytest.approx(float(2 - 2 * F.cosine_similarity(q[:1], k[:1])), rel=1e-9)
    with pytest.raises(ValueError, match='mode'):
        ASCLLoss(mode='soft')
    with pytest.raises(ValueError, match='num_neighbors'):
        ascl_loss(q, k, queue, num_neighbors=0)
    with pytest.raises(ValueError, match=r'\(5, 4\).*\(5, 3\)'):
        ascl_loss(q, k[:, :3], queue)
    with pytest.raises(ValueError, match=r'queue \(8, 3\)'):
        ascl_loss(q, k, queue[:, :3])


def test_ascl_autocast():
    q, k, queue = _inputs(dtype=torch.float32)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        out = ascl_loss(q.bfloat16(), k.bfloat16(), queue)
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, ascl_loss(q.bfloat16().float(), k.bfloat16().float(), queue))
