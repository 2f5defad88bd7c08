import pytest
import torch

from mmcontrast.models.losses import PixelPCLLoss, pixel_pcl_loss


def _dense(b=2, c=4, h=6, w=7, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(b, c, h, w, generator=g, dtype=dtype) * 2,
            torch.randn(b, c, h, w, generator=g, dtype=dtype) * 2)


def _pixels(x, i, index):
    return torch.softmax(x[i], 0).flatten(1).t()[index]


def test_pixel_pcl_matches_reference(ref):
    a, b = _dense(h=3, w=4)
    mask = torch.rand(2, 3, 4, generator=torch.Generator().manual_seed(2)) > 0.3
    expected = []
    for i in range(2):
        index = mask[i].flatten().nonzero().squeeze(1)
        expected.append(ref.two_view(_pixels(a, i, index), _pixels(b, i, index), 20.0))
    expected = sum(expected) / 2
    torch.testing.assert_close(pixel_pcl_loss(a, b, mask, chunk_size=5), expected)
    torch.testing.assert_close(pixel_pcl_loss(a, b, mask, chunk_size=None), expected)


@pytest.mark.parametrize('chunk', [1, 5, 21, 84, 500])
def test_pixel_pcl_chunked_equals_naive(chunk):
    # 2 * 6 * 7 = 84 rows per image: 21 and 84 divide it, 5 does not, 1 is the extreme, 500 > N.
    a, b = _dense(dtype=torch.float32)
    a.requires_grad_()
    naive = pixel_pcl_loss(a, b, chunk_size=None)
    (grad_naive, ) = torch.autograd.grad(naive, a)
    chunked = pixel_pcl_loss(a, b, chunk_size=chunk)
    (grad_chunked, ) = torch.autograd.grad(chunked, a)
    assert abs(chunked.item() - naive.item()) < 1e-5
    torch.testing.assert_close(grad_chunked, grad_naive, atol=1e-6, rtol=1e-5)


def test_pixel_pcl_gradcheck_chunked():
    a, b = _dense(b=1, c=3, h=2, w=3)
    a.requires_grad_()
    b.requires_grad_()
    assert torch.autograd.gradcheck(lambda x, y: pixel_pcl_loss(x, y, chunk_size=5), (a, b))


def test_pixel_pcl_integer_mask_and_ignore_index():
    a, b = _dense()
    label = torch.randint(0, 3, (2, 6, 7), generator=torch.Generator().manual_seed(5))
    label[label == 2] = 255
    torch.testing.assert_close(pixel_pcl_loss(a, b, label), pixel_pcl_loss(a, b, label != 255))
    torch.testing.assert_close(pixel_pcl_loss(a, b, label, ignore_index=0), pixel_pcl_loss(a, b, label != 0))


def test_pixel_pcl_permutation_invariant():
    a, b = _dense()
    perm = torch.randperm(42, generator=torch.Generator().manual_seed(4))

    def shuffle(x):
        return x.flatten(-2)[..., perm].reshape(x.shape)

    torch.testing.assert_close(pixel_pcl_loss(shuffle(a), shuffle(b)), pixel_pcl_loss(a, b))


def test_pixel_pcl_max_pixels_sampling(ref):
    a, b = _dense()
    mask = torch.ones(2, 6, 7, dtype=torch.bool)
    mask[0, :3] = False
    # as many as valid pixels or more: no sampling
    torch.testing.assert_close(pixel_pcl_loss(a, b, mask, max_pixels=42), pixel_pcl_loss(a, b, mask))
    # sampled with a generator: reproducible, and exactly the loss of the drawn pixels
    out1 = pixel_pcl_loss(a, b, mask, max_pixels=10, generator=torch.Generator().manual_seed(7))
    out2 = pixel_pcl_loss(a, b, mask, max_pixels=10, generator=torch.Generator().manual_seed(7))
    torch.testing.assert_close(out1, out2)
    g = torch.Generator().manual_seed(7)
    expected = []
    for i in range(2):
        index = mask[i].flatten().nonzero().squeeze(1)
        index = index[torch.randperm(index.numel(), generator=g)[:10]]
        expected.append(ref.two_view(_pixels(a, i, index), _pixels(b, i, index), 20.0))
    torch.testing.assert_close(out1, sum(expected) / 2)
    # global seed is honoured without a generator
    torch.manual_seed(3)
    out3 = pixel_pcl_loss(a, b, mask, max_pixels=10)
    torch.manual_seed(3)
    torch.testing.assert_close(pixel_pcl_loss(a, b, mask, max_pixels=10), out3)


def test_pixel_pcl_all_ignored_and_single_pixel():
    a, b = _dense()
    a.requires_grad_()
    loss = pixel_pcl_loss(a, b, torch.zeros(2, 6, 7, dtype=torch.bool))
    assert loss.item() == 0.0 and loss.requires_grad and loss.grad_fn is not None
    loss.backward()
    assert torch.isfinite(a.grad).all()
    one = torch.zeros(2, 6, 7, dtype=torch.bool)
    one[0, 2, 3] = True
    assert pixel_pcl_loss(a, b, one).item() == pytest.approx(0.0, abs=1e-12)


def test_pixel_pcl_errors():
    a, b = _dense()
    with pytest.raises(ValueError, match=r'\(2, 4, 6, 7\).*\(2, 3, 6, 7\)'):
        pixel_pcl_loss(a, b[:, :3])
    with pytest.raises(ValueError, match='valid_mask'):
        pixel_pcl_loss(a, b, torch.ones(2, 6, 6, dtype=torch.bool))
    with pytest.raises(ValueError, match='4-D'):
        pixel_pcl_loss(a.flatten(2), b.flatten(2))
    with pytest.raises(ValueError, match='chunk_size'):
        pixel_pcl_loss(a, b, chunk_size=0)


def test_pixel_pcl_autocast_and_module():
    a, b = _dense(dtype=torch.float32)
    a16 = a.bfloat16().requires_grad_()
    with torch.autocast('cpu', dtype=torch.bfloat16):
        out = PixelPCLLoss(chunk_size=16, loss_weight=0.1)(a16, b.bfloat16())
    assert out.dtype == torch.float32
    a32 = a.bfloat16().float().requires_grad_()
    expected = 0.1 * pixel_pcl_loss(a32, b.bfloat16().float())
    torch.testing.assert_close(out, expected)
    # the blockwise backward runs in fp32 too
    out.backward()
    expected.backward()
    assert a16.grad.dtype == torch.bfloat16
    torch.testing.assert_close(a16.grad.float(), a32.grad.bfloat16().float())
