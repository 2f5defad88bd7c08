import math

import pytest
import torch

from mmcontrast.models.losses import DimCLLoss, dimcl_loss


def _views(n=6, d=5, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g, dtype=dtype), torch.randn(n, d, generator=g, dtype=dtype)


def _dimension_vectors(z, eps=1e-5):
    """Loops: standardise every column with its biased batch variance, l2-normalise it."""
    n, d = z.shape
    vectors = []
    for j in range(d):
        col = [float(z[i, j]) for i in range(n)]
        mean = sum(col) / n
        var = sum((c - mean)**2 for c in col) / n
        std = [(c - mean) / math.sqrt(var + eps) for c in col]
        norm = math.sqrt(sum(s * s for s in std))
        vectors.append([s / norm for s in std])
    return torch.tensor(vectors, dtype=torch.float64)


def test_dimcl_matches_reference(ref):
    z1, z2 = _views()
    expected = ref.two_view(_dimension_vectors(z1), _dimension_vectors(z2), 1 / 0.1)
    torch.testing.assert_close(dimcl_loss(z1, z2), expected)
    torch.testing.assert_close(DimCLLoss(temperature=0.1, loss_weight=0.1)(z1, z2), 0.1 * expected)


def test_dimcl_gradcheck_and_invariances():
    z1, z2 = _views(n=4, d=3)
    z1.requires_grad_()
    z2.requires_grad_()
    assert torch.autograd.gradcheck(lambda a, b: dimcl_loss(a, b, temperature=0.5), (z1, z2))
    base = dimcl_loss(z1, z2)
    samples = torch.tensor([3, 1, 0, 2])
    dims = torch.tensor([2, 0, 1])
    torch.testing.assert_close(dimcl_loss(z1[samples], z2[samples]), base)
    torch.testing.assert_close(dimcl_loss(z1[:, dims], z2[:, dims]), base)
    # standardisation removes per-dimension shifts and scales
    torch.testing.assert_close(dimcl_loss(3 * z1 + 1, z2 - 2), base)


def test_dimcl_edge_cases():
    z1, z2 = _views()
    z1.requires_grad_()
    one = dimcl_loss(z1[:1], z2[:1])
    assert one.item() == 0.0 and one.grad_fn is not None
    assert dimcl_loss(z1[:, :1], z2[:, :1]).item() == pytest.approx(0.0, abs=1e-12)
    # constant columns have no spread: finite, never NaN
    assert torch.isfinite(dimcl_loss(torch.ones(4, 3), torch.ones(4, 3)))
    with pytest.raises(ValueError, match=r'\(6, 5\).*\(6, 4\)'):
        dimcl_loss(z1, z2[:, :4])
    with pytest.raises(ValueError, match='2-D'):
        dimcl_loss(z1[None], z2[None])


def test_dimcl_autocast():
    z1, z2 = _views(dtype=torch.float32)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        out = dimcl_loss(z1.bfloat16(), z2.bfloat16())
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, dimcl_loss(z1.bfloat16().float(), z2.bfloat16().float()))
