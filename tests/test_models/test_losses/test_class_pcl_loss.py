import pytest
import torch

from mmcontrast.models.losses import ClassPCLLoss, class_pcl_loss


def _dense(b=2, c=4, h=5, w=6, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(b, c, h, w, generator=g, dtype=dtype) * 2,
            torch.randn(b, c, h, w, generator=g, dtype=dtype) * 2)


def _label(b=2, h=5, w=6, classes=(0, 2, 3), seed=1):
    g = torch.Generator().manual_seed(seed)
    pick = torch.randint(0, len(classes) + 1, (b, h, w), generator=g)
    table = torch.tensor(list(classes) + [255])
    return table[pick]


def _reference(ref, weak, strong, label, scale):
    """Loops: per image, per class, mean logits over the class pixels, then PCL."""
    losses = []
    for i in range(weak.shape[0]):
        vec_w, vec_s = [], []
        for k in range(weak.shape[1]):
            pixels = [(y, x) for y in range(weak.shape[2]) for x in range(weak.shape[3]) if label[i, y, x] == k]
            if not pixels:
                continue
            vec_w.append(sum(weak[i, :, y, x] for y, x in pixels) / len(pixels))
            vec_s.append(sum(strong[i, :, y, x] for y, x in pixels) / len(pixels))
        if vec_w:
            pw = torch.softmax(torch.stack(vec_w), 1)
            ps = torch.softmax(torch.stack(vec_s), 1)
            losses.append(ref.two_view(pw, ps, scale))
    return sum(losses) / len(losses)


def test_class_pcl_matches_reference(ref):
    weak, strong = _dense()
    label = _label()
    expected = _reference(ref, weak, strong, label, 7.0)
    torch.testing.assert_close(class_pcl_loss(weak, strong, label), expected)


def test_class_pcl_self_made_pseudo_label(ref):
    weak, strong = _dense(c=3)
    weak = weak * 3
    prob = weak.softmax(1)
    conf, label = prob.max(1)
    label[conf <= 0.8] = 255
    assert (label == 255).any() and (label != 255).any()
    expected = _reference(ref, weak, strong, label, 7.0)
    torch.testing.assert_close(class_pcl_loss(weak, strong, threshold=0.8), expected)
    # the weak view still receives gradient through its class means, not through the label
    weak.requires_grad_()
    class_pcl_loss(weak, strong, threshold=0.8).backward()
    assert weak.grad.abs().sum() > 0


def test_class_pcl_gradcheck():
    weak, strong = _dense(b=2, c=3, h=2, w=3)
    label = torch.tensor([[[0, 1, 2], [0, 255, 2]], [[1, 1, 2], [2, 255, 0]]])
    weak.requires_grad_()
    strong.requires_grad_()
    assert torch.autograd.gradcheck(lambda x, y: class_pcl_loss(x, y, label), (weak, strong))


def test_class_pcl_pixel_and_class_permutation_invariant():
    weak, strong = _dense()
    label = _label()
    base = class_pcl_loss(weak, strong, label)
    perm = torch.randperm(30, generator=torch.Generator().manual_seed(3))

    def shuffle(x):
        return x.flatten(-2)[..., perm].reshape(x.shape)

    torch.testing.assert_close(class_pcl_loss(shuffle(weak), shuffle(strong), shuffle(label)), base)
    # relabelling the classes (channels and ids together) does not change anything either
    cperm = torch.tensor([2, 0, 3, 1])
    relabel = torch.tensor([cperm.tolist().index(k) for k in range(4)] + [255] * 252)
    torch.testing.assert_close(class_pcl_loss(weak[:, cperm], strong[:, cperm], relabel[label]), base)


def test_class_pcl_single_class_is_zero_and_empty_is_connected_zero():
    weak, strong = _dense()
    weak.requires_grad_()
    one_class = torch.full((2, 5, 6), 255)
    one_class[:, :2] = 1
    loss = class_pcl_loss(weak, strong, one_class)
    assert loss.item() == pytest.approx(0.0, abs=1e-12) and loss.grad_fn is not None
    # nothing confident: threshold 1.0 can never be exceeded
    loss = class_pcl_loss(weak, strong, threshold=1.0)
    assert loss.item() == 0.0 and loss.requires_grad and loss.grad_fn is not None
    loss.backward()
    assert torch.isfinite(weak.grad).all()


def test_class_pcl_images_without_class_do_not_count(ref):
    weak, strong = _dense()
    label = _label()
    label[1] = 255
    expected = _reference(ref, weak[:1], strong[:1], label[:1], 7.0)
    torch.testing.assert_close(class_pcl_loss(weak, strong, label), expected)


def test_class_pcl_errors():
    weak, strong = _dense()
    with pytest.raises(ValueError, match=r'resize'):
        class_pcl_loss(weak, strong, torch.zeros(2, 10, 12, dtype=torch.long))
    with pytest.raises(ValueError, match=r'\(2, 4, 5, 6\).*\(2, 4, 5, 5\)'):
        class_pcl_loss(weak, strong[..., :5])
    with pytest.raises(ValueError, match='4-D'):
        class_pcl_loss(weak[0], strong[0])
    with pytest.raises(ValueError, match='outside'):
        class_pcl_loss(weak, strong, torch.full((2, 5, 6), 7))
    with pytest.raises(ValueError, match='integer'):
        class_pcl_loss(weak, strong, torch.zeros(2, 5, 6))


def test_class_pcl_autocast_and_module():
    weak, strong = _dense(dtype=torch.float32)
    label = _label()
    with torch.autocast('cpu', dtype=torch.bfloat16):
        out = ClassPCLLoss(loss_weight=2.0)(weak.bfloat16(), strong.bfloat16(), label)
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, 2.0 * class_pcl_loss(weak.bfloat16().float(), strong.bfloat16().float(), label))
