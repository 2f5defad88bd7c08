import pytest
import torch
import torch.nn.functional as F

from mmcontrast.models.losses import PCLLoss, pcl_loss


def _logits(n=6, c=5, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(n, c, generator=g, dtype=dtype) * 2, torch.randn(n, c, generator=g, dtype=dtype) * 2)


@pytest.mark.parametrize('scale', [7.0, 20.0])
def test_pcl_matches_reference(ref, scale):
    a, b = _logits()
    expected = ref.two_view(F.softmax(a, 1), F.softmax(b, 1), scale)
    torch.testing.assert_close(pcl_loss(a, b, scale=scale), expected)


def test_pcl_valid_drops_samples_from_both_views(ref):
    a, b = _logits(n=7)
    valid = torch.tensor([1, 0, 1, 1, 0, 1, 1], dtype=torch.bool)
    expected = ref.two_view(F.softmax(a[valid], 1), F.softmax(b[valid], 1), 7.0)
    torch.testing.assert_close(pcl_loss(a, b, valid), expected)


def test_pcl_no_l2_normalisation(ref):
    # Scaling the probabilities would change the loss: PCL uses them as they are.
    a, b = _logits()
    pa, pb = F.softmax(a, 1), F.softmax(b, 1)
    normalised = ref.two_view(F.normalize(pa, dim=1), F.normalize(pb, dim=1), 7.0)
    assert not torch.allclose(pcl_loss(a, b), normalised)


def test_pcl_gradcheck():
    a, b = _logits(n=4, c=3)
    a.requires_grad_()
    b.requires_grad_()
    assert torch.autograd.gradcheck(lambda x, y: pcl_loss(x, y, scale=7.0), (a, b))


def test_pcl_permutation_invariant():
    a, b = _logits(n=9)
    perm = torch.randperm(9, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(pcl_loss(a[perm], b[perm]), pcl_loss(a, b))
    # swapping the two views is a symmetry too
    torch.testing.assert_close(pcl_loss(b, a), pcl_loss(a, b))


@pytest.mark.parametrize('keep', [0, 1])
def test_pcl_nothing_to_contrast_is_connected_zero(keep):
    a, b = _logits(n=5)
    a.requires_grad_()
    b.requires_grad_()
    valid = torch.zeros(5, dtype=torch.bool)
    valid[:keep] = True
    loss = pcl_loss(a, b, valid)
    assert loss.item() == 0.0 and loss.requires_grad and loss.grad_fn is not None
    loss.backward()
    assert torch.isfinite(a.grad).all() and torch.isfinite(b.grad).all()


def test_pcl_single_and_empty_batch():
    for n in (0, 1):
        a = torch.randn(n, 4, requires_grad=True)
        loss = pcl_loss(a, torch.randn(n, 4))
        assert loss.item() == 0.0 and loss.grad_fn is not None


def test_pcl_errors_name_shapes():
    with pytest.raises(ValueError, match=r'\(4, 3\).*\(4, 5\)'):
        pcl_loss(torch.randn(4, 3), torch.randn(4, 5))
    with pytest.raises(ValueError, match='2-D'):
        pcl_loss(torch.randn(4), torch.randn(4))
    with pytest.raises(ValueError, match='floating'):
        pcl_loss(torch.ones(4, 3, dtype=torch.long), torch.ones(4, 3, dtype=torch.long))
    with pytest.raises(ValueError, match='valid'):
        pcl_loss(torch.randn(4, 3), torch.randn(4, 3), torch.ones(3, dtype=torch.bool))
    with pytest.raises(ValueError, match='valid'):
        pcl_loss(torch.randn(4, 3), torch.randn(4, 3), torch.ones(4))


def test_pcl_low_precision_computed_in_fp32():
    a, b = _logits(dtype=torch.float32)
    reference = pcl_loss(a.bfloat16().float(), b.bfloat16().float())
    with torch.autocast('cpu', dtype=torch.bfloat16):
        out = pcl_loss(a.bfloat16(), b.bfloat16())
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, reference)
    half = pcl_loss(a.half(), b.half())
    assert half.dtype == torch.float32
    torch.testing.assert_close(half, pcl_loss(a.half().float(), b.half().float()))


def test_pcl_module_weight():
    a, b = _logits()
    module = PCLLoss(scale=20.0, loss_weight=0.5)
    torch.testing.assert_close(module(a, b), 0.5 * pcl_loss(a, b, scale=20.0))
