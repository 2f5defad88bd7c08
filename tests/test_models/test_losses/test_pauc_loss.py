import math
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from mmcontrast.models.losses import PAUCLoss, ProtoNCELoss, estimate_concentration, pauc_loss, proto_nce_loss


def _inputs(n=6, d=4, num_protos=(5, 7), seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(n, d, generator=g, dtype=dtype)
    k = torch.randn(n, d, generator=g, dtype=dtype)
    queue = F.normalize(torch.randn(9, d, generator=g, dtype=dtype), dim=1)
    protos = [F.normalize(torch.randn(m, d, generator=g, dtype=dtype), dim=1) for m in num_protos]
    assign = [torch.randint(0, m // 2 + 1, (n, ), generator=g) for m in num_protos]
    conc = [torch.rand(m, generator=g, dtype=dtype) * 0.3 + 0.1 for m in num_protos]
    return q, k, queue, protos, assign, conc


def _ce(logits, target):
    return -(logits[target] - math.log(sum(math.exp(float(v)) for v in logits)))


def _ref_proto_nce(q, k, queue, protos, assign, conc, temperature, negatives=None):
    """Loops; ``negatives[m]`` lists the negative prototypes (default: all non-positive)."""
    v = [q_i / q_i.norm() for q_i in q]
    kk = [k_i / k_i.norm() for k_i in k]
    n = len(v)
    inst = sum(_ce(torch.stack([v[i] @ kk[i]] + [v[i] @ c for c in queue]) / temperature, 0) for i in range(n)) / n
    proto_terms = []
    for m in range(len(protos)):
        pos = [int(a) for a in assign[m]]
        neg = negatives[m] if negatives is not None else [j for j in range(len(protos[m])) if j not in pos]
        cand = pos + neg
        proto_terms.append(
            sum(_ce(torch.stack([v[i] @ protos[m][j] / conc[m][j] for j in cand]), i) for i in range(n)) / n)
    return inst + (sum(proto_terms) / len(proto_terms) if proto_terms else 0)


def _ref_extra_terms(q, protos, assign, alpha, t):
    """Loops: alignment, uniformity and correlation for each clustering, averaged."""
    v = [q_i / q_i.norm() for q_i in q]
    align, uniform, corr = [], [], []
    for m in range(len(protos)):
        a = [int(x) for x in assign[m]]
        align.append(sum((v[i] - protos[m][a[i]]).norm()**alpha for i in range(len(v))) / len(v))
        u = []
        for p in sorted(set(a)):
            mean = sum(v[i] for i in range(len(v)) if a[i] == p) / a.count(p)
            u.append(mean / mean.norm())
        pairs = [(x, y) for x in range(len(u)) for y in range(x + 1, len(u))]
        uniform.append(math.log(sum(math.exp(-t * float(((u[x] - u[y])**2).sum())) for x, y in pairs) / len(pairs)))
        d = len(u[0])
        cols = []
        for j in range(d):
            col = [float(row[j]) for row in u]
            mu = sum(col) / len(col)
            var = sum((c - mu)**2 for c in col) / len(col)
            cols.append([(c - mu) / math.sqrt(var + 1e-5) for c in col])
        c = [[sum(cols[i][r] * cols[j][r] for r in range(len(u))) / len(u) for j in range(d)] for i in range(d)]
        corr.append(sum(c[i][j]**2 for i in range(d) for j in range(d) if i != j) / d)
    mean = lambda xs: sum(xs) / len(xs)  # noqa: E731
    return mean(align), mean(uniform), mean(corr)


def test_proto_nce_matches_reference():
    inputs = _inputs()
    expected = _ref_proto_nce(*inputs, temperature=0.2)
    torch.testing.assert_close(proto_nce_loss(*inputs), expected)
    torch.testing.assert_close(ProtoNCELoss(loss_weight=2.0)(*inputs), 2 * expected)


def test_proto_nce_samples_negative_prototypes():
    q, k, queue, protos, assign, conc = _inputs(num_protos=(8, ))
    pool = [j for j in range(8) if j not in assign[0].tolist()]
    assert len(pool) > 1
    gen = torch.Generator().manual_seed(3)
    out = proto_nce_loss(q, k, queue, protos, assign, conc, num_neg_prototypes=1, generator=gen)
    candidates = [_ref_proto_nce(q, k, queue, protos, assign, conc, 0.2, negatives=[[j]]) for j in pool]
    assert min(abs(float(out) - float(c)) for c in candidates) < 1e-10
    no_neg = proto_nce_loss(q, k, queue, protos, assign, conc, num_neg_prototypes=0)
    torch.testing.assert_close(no_neg, _ref_proto_nce(q, k, queue, protos, assign, conc, 0.2, negatives=[[]]))


def test_proto_nce_without_clusterings_is_moco_infonce():
    q, k, queue, *_ = _inputs()
    torch.testing.assert_close(proto_nce_loss(q, k, queue, [], [], []), _ref_proto_nce(q, k, queue, [], [], [], 0.2))


def test_pauc_matches_reference_and_terms_switch():
    inputs = _inputs()
    q, _, _, protos, assign, _ = inputs
    base = proto_nce_loss(*inputs)
    align, uniform, corr = _ref_extra_terms(q, protos, assign, alpha=2, t=2.0)
    torch.testing.assert_close(pauc_loss(*inputs), base + align + uniform + corr)
    torch.testing.assert_close(PAUCLoss(align_weight=0, uniform_weight=0, corr_weight=0)(*inputs), base)
    torch.testing.assert_close(pauc_loss(*inputs, uniform_weight=0, corr_weight=0), base + align)
    torch.testing.assert_close(pauc_loss(*inputs, align_weight=0, corr_weight=0), base + uniform)
    torch.testing.assert_close(pauc_loss(*inputs, align_weight=0, uniform_weight=0, corr_weight=0.5), base + 0.5 * corr)
    align3, uniform1, _ = _ref_extra_terms(q, protos, assign, alpha=3, t=1.0)
    out = pauc_loss(*inputs, align_alpha=3, uniform_t=1.0, corr_weight=0)
    torch.testing.assert_close(out, base + align3 + uniform1)


def test_pauc_gradcheck_and_permutation():
    q, k, queue, protos, assign, conc = _inputs(n=4, d=3, num_protos=(4, ))
    q.requires_grad_()
    k.requires_grad_()
    assert torch.autograd.gradcheck(lambda a, b: pauc_loss(a, b, queue, protos, assign, conc), (q, k))
    perm = torch.tensor([2, 3, 0, 1])
    permuted = pauc_loss(q[perm], k[perm], queue, protos, [assign[0][perm]], conc)
    torch.testing.assert_close(permuted, pauc_loss(q, k, queue, protos, assign, conc))


def test_pauc_single_prototype_and_empty_batch():
    q, k, queue, protos, _, conc = _inputs(num_protos=(5, ))
    q.requires_grad_()
    same = [torch.zeros(6, dtype=torch.long)]
    out = pauc_loss(q, k, queue, protos, same, conc)
    assert torch.isfinite(out)
    out.backward()
    assert torch.isfinite(q.grad).all()
    empty = pauc_loss(q[:0], k[:0], queue, protos, [same[0][:0]], conc)
    assert empty.item() == 0.0 and empty.grad_fn is not None


def test_pauc_errors():
    q, k, queue, protos, assign, conc = _inputs()
    with pytest.raises(ValueError, match='same clusterings'):
        pauc_loss(q, k, queue, protos, assign[:1], conc)
    with pytest.raises(ValueError, match=r'queue \(9, 3\)'):
        proto_nce_loss(q, k, queue[:, :3], protos, assign, conc)
    with pytest.raises(ValueError, match=r'assignments\[0\] must be in \[0, 5\)'):
        proto_nce_loss(q, k, queue, protos, [assign[0] + 5, assign[1]], conc)
    with pytest.raises(ValueError, match=r'clustering 1'):
        proto_nce_loss(q, k, queue, protos, assign, [conc[0], conc[1][:3]])
    with pytest.raises(ValueError, match=r'\(6, 4\).*\(5, 4\)'):
        proto_nce_loss(q, k[:5], queue, protos, assign, conc)


def test_pauc_autocast():
    q, k, queue, protos, assign, conc = _inputs(dtype=torch.float32)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        out = pauc_loss(q.bfloat16(), k.bfloat16(), queue, protos, assign, conc)
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, pauc_loss(q.bfloat16().float(), k.bfloat16().float(), queue, protos, assign, conc))


def test_estimate_concentration_matches_paper_recipe():
    g = torch.Generator().manual_seed(0)
    feats = torch.randn(60, 4, generator=g, dtype=torch.float64)
    assign = torch.randint(0, 10, (60, ), generator=g)
    assign[assign == 9] = 8  # cluster 9 empty
    assign[0] = 9  # ... now a singleton
    centroids = torch.randn(11, 4, generator=g, dtype=torch.float64)  # cluster 10 empty
    phi = estimate_concentration(feats, assign, centroids, temperature=0.2)
    # numpy reference, written from the paper's recipe
    f, a, c = feats.numpy(), assign.numpy(), centroids.numpy()
    dens = np.zeros(11)
    for j in range(11):
        d = [np.linalg.norm(f[i] - c[j]) for i in range(60) if a[i] == j]
        if len(d) > 1:
            dens[j] = np.mean(d) / np.log(len(d) + 10)
    dmax = dens.max()
    for j in range(11):
        if (a == j).sum() <= 1:
            dens[j] = dmax
    dens = dens.clip(np.percentile(dens, 10), np.percentile(dens, 90))
    dens = 0.2 * dens / dens.mean()
    assert phi.dtype == torch.float64
    np.testing.assert_allclose(phi.numpy(), dens, rtol=1e-10)
    assert phi.mean().item() == pytest.approx(0.2)
    # degenerate: every member on its centroid
    flat = estimate_concentration(centroids[assign], assign, centroids)
    torch.testing.assert_close(flat, torch.full((11, ), 0.2, dtype=flat.dtype))


def test_pauc_warns_when_correlation_is_rank_deficient():
    # 6 samples in at most 3-4 occupied prototypes, 4-d features: n <= D
    inputs = _inputs()
    with pytest.warns(UserWarning, match=r'than the 4 feature dimensions'):
        pauc_loss(*inputs)
    # 64 samples over 40 prototypes in 4-d: n > D, no warning; corr_weight 0 never warns
    many = _inputs(n=64, d=4, num_protos=(80, ))
    few = _inputs()
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        pauc_loss(*many)
        pauc_loss(*few, corr_weight=0)
