import pytest
import torch
import torch.nn.functional as F

from mmcontrast.models.losses import InfoNCELoss, SupConLoss, info_nce_loss, supcon_loss


def _feats(*shape, seed=0, dtype=torch.float64):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


def test_info_nce_matches_reference(ref):
    a, b = _feats(6, 8), _feats(6, 8, seed=1)
    expected = ref.two_view(F.normalize(a, dim=1), F.normalize(b, dim=1), 1 / 0.2)
    torch.testing.assert_close(info_nce_loss(a, b, temperature=0.2), expected)
    torch.testing.assert_close(InfoNCELoss(temperature=0.2, loss_weight=3.0)(a, b), 3 * expected)


def test_info_nce_gradcheck_permutation_and_edges():
    a, b = _feats(4, 3).requires_grad_(), _feats(4, 3, seed=1).requires_grad_()
    assert torch.autograd.gradcheck(lambda x, y: info_nce_loss(x, y, temperature=0.5), (a, b))
    perm = torch.tensor([2, 0, 3, 1])
    torch.testing.assert_close(info_nce_loss(a[perm], b[perm]), info_nce_loss(a, b))
    # invariant to the feature norm (l2-normalised inside)
    torch.testing.assert_close(info_nce_loss(3 * a, 0.5 * b), info_nce_loss(a, b))
    single = info_nce_loss(a[:1], b[:1])
    assert single.item() == 0.0 and single.grad_fn is not None
    with pytest.raises(ValueError, match=r'\(4, 3\).*\(4, 2\)'):
        info_nce_loss(a, b[:, :2])
    with pytest.raises(ValueError, match='floating'):
        info_nce_loss(torch.ones(4, 3, dtype=torch.int32), torch.ones(4, 3, dtype=torch.int32))


@pytest.mark.parametrize('views', [None, 1, 3])
def test_supcon_matches_reference(ref, views):
    shape = (7, 5) if views is None else (7, views, 5)
    feats = _feats(*shape)
    labels = torch.tensor([0, 1, 0, 2, 1, 3, 0])
    expected = ref.supcon(feats if views else feats[:, None], labels, 0.1)
    torch.testing.assert_close(supcon_loss(feats, labels), expected)
    torch.testing.assert_close(SupConLoss(temperature=0.1, loss_weight=0.5)(feats, labels), 0.5 * expected)


def test_supcon_per_sample_weight(ref):
    feats = _feats(6, 2, 5)
    labels = torch.tensor([0, 1, 0, 2, 1, 0])
    weight = torch.tensor([0.5, 1.0, 2.0, 3.0, 0.0, 1.5], dtype=torch.float64)
    # The weighted loss is linear in the weights; one-hot weights isolate each sample's share,
    # and the shares add up to the unweighted (reference) loss.
    shares = [supcon_loss(feats, labels, weight=torch.eye(6, dtype=torch.float64)[i]) for i in range(6)]
    torch.testing.assert_close(sum(shares), ref.supcon(feats, labels, 0.1))
    expected = sum(w * share for w, share in zip(weight, shares))
    torch.testing.assert_close(supcon_loss(feats, labels, weight=weight), expected)
    torch.testing.assert_close(SupConLoss()(feats, labels, weight=weight), expected)
    with pytest.raises(ValueError, match=r'weight \(5,\)'):
        supcon_loss(feats, labels, weight=weight[:5])


def test_supcon_gradcheck_and_permutation():
    feats = _feats(5, 2, 3).requires_grad_()
    labels = torch.tensor([1, 0, 1, 1, 2])
    assert torch.autograd.gradcheck(lambda x: supcon_loss(x, labels, temperature=0.5), (feats, ))
    perm = torch.tensor([4, 2, 0, 1, 3])
    torch.testing.assert_close(supcon_loss(feats[perm], labels[perm]), supcon_loss(feats, labels))
    # label values only matter up to renaming
    torch.testing.assert_close(supcon_loss(feats, labels * 10 + 3), supcon_loss(feats, labels))


def test_supcon_no_positive_is_connected_zero():
    feats = _feats(4, 6).requires_grad_()
    loss = supcon_loss(feats, torch.arange(4))
    assert loss.item() == 0.0 and loss.requires_grad and loss.grad_fn is not None
    loss.backward()
    assert torch.isfinite(feats.grad).all()
    # with two views every sample has its other view as positive
    assert supcon_loss(torch.stack([feats, feats + 0.1], 1), torch.arange(4)).item() > 0
    empty = supcon_loss(torch.zeros(0, 6, requires_grad=True), torch.zeros(0, dtype=torch.long))
    assert empty.item() == 0.0


def test_supcon_errors_and_autocast():
    feats = _feats(4, 6, dtype=torch.float32)
    with pytest.raises(ValueError, match=r'labels \(3,\).*\(4, 6\)'):
        supcon_loss(feats, torch.zeros(3, dtype=torch.long))
    with pytest.raises(ValueError, match='integer'):
        supcon_loss(feats, torch.zeros(4))
    with pytest.raises(ValueError, match='2-D or 3-D'):
        supcon_loss(feats.flatten(), torch.zeros(4, dtype=torch.long))
    labels = torch.tensor([0, 0, 1, 1])
    with torch.autocast('cpu', dtype=torch.bfloat16):
        out = supcon_loss(feats.bfloat16(), labels)
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, supcon_loss(feats.bfloat16().float(), labels))
