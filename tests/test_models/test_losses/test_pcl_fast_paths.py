"""The fast paths of PCL (issue 18) give the values and gradients of the forms they replace.

- ``class_pcl_loss`` (vectorised over images and classes) against the former per-image loop,
  kept in ``tools/analysis_tools/benchmark_losses.py`` as ``legacy_class_pcl_loss``;
- the chunked logsumexp (scale folded into the anchors, ``- lse`` folded into the product)
  against the naive full-matrix form, including a partial ``needs_input_grad``;
- ``paired_nce`` with one constant view (``weak_grad=False``), computed per pair of views,
  against the single-block form with both views carrying gradient;
- one DACSSegmentor step in the reproduction mode (EHTDI views, class + pixel PCL): the
  student's gradients with the fast paths equal those with the legacy loop and the naive
  pixel kernel.
"""
import os.path as osp
import sys

import pytest
import torch

from mmcontrast.models.losses import class_pcl_loss, pixel_pcl_loss
from mmcontrast.models.losses import pcl as pcl_module
from mmcontrast.models.losses import utils as utils_module
from mmcontrast.models.losses.utils import masked_logsumexp

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
sys.path.insert(0, osp.join(ROOT, 'tools', 'analysis_tools'))
from benchmark_losses import legacy_class_pcl_loss  # noqa: E402

sys.path.remove(osp.join(ROOT, 'tools', 'analysis_tools'))


def _views(b, c, h, w, seed, dtype=torch.float64, scale=3.0):
    gen = torch.Generator().manual_seed(seed)
    weak = (torch.randn(b, c, h, w, generator=gen, dtype=dtype) * scale).requires_grad_()
    strong = (torch.randn(b, c, h, w, generator=gen, dtype=dtype) * scale).requires_grad_()
    return weak, strong


def _value_and_grads(fn, weak, strong, *args, **kwargs):
    weak.grad = strong.grad = None
    loss = fn(weak, strong, *args, **kwargs)
    loss.backward()
    return loss.detach(), weak.grad.clone(), strong.grad.clone()


def _block_labels(b, h, w, classes, seed, ignore_rate=0.2, block=4):
    gen = torch.Generator().manual_seed(seed)
    label = torch.randint(0, classes, (b, -(-h // block), -(-w // block)), generator=gen)
    label = label.repeat_interleave(block, 1).repeat_interleave(block, 2)[:, :h, :w].contiguous()
    label[torch.rand(b, h, w, generator=gen) < ignore_rate] = 255
    return label


@pytest.mark.parametrize('b,c,h,w,seed', [(1, 3, 5, 7, 0), (4, 6, 12, 9, 1), (3, 19, 16, 16, 2), (2, 2, 1, 1, 3)])
def test_vectorised_class_pcl_equals_the_loop(b, c, h, w, seed):
    weak, strong = _views(b, c, h, w, seed)
    label = _block_labels(b, h, w, c, seed)
    got = _value_and_grads(class_pcl_loss, weak, strong, label)
    want = _value_and_grads(legacy_class_pcl_loss, weak, strong, label)
    for g, r in zip(got, want):
        torch.testing.assert_close(g, r, rtol=1e-9, atol=1e-12)


def test_vectorised_class_pcl_single_class_empty_and_ignored_images():
    # image 0: one class (loss exactly 0, still counted), image 1: nothing valid (skipped),
    # image 2: three classes with NaN/inf logits on its ignored pixels
    weak, strong = _views(3, 4, 6, 6, 5)
    label = torch.full((3, 6, 6), 255)
    label[0] = 2
    label[2, :2] = 0
    label[2, 2:4] = 3
    label[2, 4:, :3] = 1
    with torch.no_grad():
        weak[2, :, 5, 5] = float('nan')
        strong[2, :, 4, 4] = float('inf')
    got = _value_and_grads(class_pcl_loss, weak, strong, label)
    want = _value_and_grads(legacy_class_pcl_loss, weak, strong, label)
    assert torch.isfinite(got[0]) and all(torch.isfinite(g).all() for g in got[1:])
    for g, r in zip(got, want):
        torch.testing.assert_close(g, r, rtol=1e-9, atol=1e-12)
    # the single-class image alone gives exactly 0
    assert class_pcl_loss(weak[:1], strong[:1], label[:1]).item() == 0.0


def test_vectorised_class_pcl_self_made_labels_equal_the_loop():
    weak, strong = _views(4, 5, 10, 8, 7, dtype=torch.float32, scale=5.0)
    got = _value_and_grads(class_pcl_loss, weak, strong, threshold=0.6)
    want = _value_and_grads(legacy_class_pcl_loss, weak, strong, threshold=0.6)
    torch.testing.assert_close(got[0], want[0], rtol=1e-6, atol=1e-7)
    for g, r in zip(got[1:], want[1:]):
        torch.testing.assert_close(g, r, rtol=1e-5, atol=1e-9)


def test_max_over_classes_equals_torch_max_with_ties():
    gen = torch.Generator().manual_seed(0)
    prob = torch.randint(0, 4, (3, 6, 5, 7), generator=gen).float()  # many ties
    conf, index = pcl_module._max_over_classes(prob)
    want_conf, _ = prob.max(dim=1)
    torch.testing.assert_close(conf, want_conf)
    # the first maximal index, as documented for torch.max/argmax
    first = (prob == want_conf[:, None]).float().argmax(dim=1)
    assert torch.equal(index, first)


@pytest.mark.parametrize('tile', [64, 1000, 2**20])
@pytest.mark.parametrize('chunk', [1, 7, 64, 100, 255])
def test_chunked_logsumexp_equals_naive_float64(chunk, tile, monkeypatch):
    # small tiles: many row tiles, most of them without their anchors' own columns
    monkeypatch.setattr(utils_module, '_TILE_ELEMENTS', tile)
    gen = torch.Generator().manual_seed(chunk)
    contrast = torch.softmax(torch.randn(256, 19, generator=gen, dtype=torch.float64) * 3, 1).requires_grad_()
    index = torch.randperm(256, generator=gen)[:200]
    anchors = (contrast.detach()[index] + 0.01).requires_grad_()
    upstream = torch.rand(200, generator=gen, dtype=torch.float64)
    results = []
    for size in (None, chunk):
        anchors.grad = contrast.grad = None
        lse = masked_logsumexp(anchors, contrast, index, 20.0, size)
        (lse * upstream).sum().backward()
        results.append((lse.detach(), anchors.grad.clone(), contrast.grad.clone()))
    for got, want in zip(results[1], results[0]):
        torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-12)


def test_chunked_logsumexp_with_one_input_needing_grad():
    gen = torch.Generator().manual_seed(0)
    contrast = torch.softmax(torch.randn(50, 4, generator=gen, dtype=torch.float64), 1)
    anchors = contrast[:20].clone().requires_grad_()
    naive = torch.autograd.grad(masked_logsumexp(anchors, contrast, torch.arange(20), 7.0).sum(), anchors)[0]
    chunked = torch.autograd.grad(masked_logsumexp(anchors, contrast, torch.arange(20), 7.0, 8).sum(), anchors)[0]
    torch.testing.assert_close(chunked, naive, rtol=1e-10, atol=1e-12)
    assert torch.autograd.gradcheck(lambda a: masked_logsumexp(a, contrast, torch.arange(20), 7.0, 8), (anchors, ))


def test_pixel_pcl_chunked_equals_naive_with_an_ignore_mask(monkeypatch):
    monkeypatch.setattr(utils_module, '_TILE_ELEMENTS', 100)
    weak, strong = _views(2, 5, 9, 11, 3)
    mask = _block_labels(2, 9, 11, 5, 3, ignore_rate=0.3, block=3)
    got = _value_and_grads(pixel_pcl_loss, weak, strong, mask, chunk_size=17)
    want = _value_and_grads(pixel_pcl_loss, weak, strong, mask, chunk_size=None)
    for g, r in zip(got, want):
        torch.testing.assert_close(g, r, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize('chunk_size', [None, 7, 64])
@pytest.mark.parametrize('with_mask', [False, True])
def test_pixel_pcl_with_a_constant_view_equals_the_single_block(monkeypatch, chunk_size, with_mask):
    monkeypatch.setattr(utils_module, '_TILE_ELEMENTS', 50)
    calls = []
    by_view = utils_module._paired_nce_by_view
    monkeypatch.setattr(utils_module, '_paired_nce_by_view', lambda *a: (calls.append(1), by_view(*a))[1])
    weak, strong = _views(2, 5, 6, 7, 4)
    mask = _block_labels(2, 6, 7, 5, 4, ignore_rate=0.3, block=2) if with_mask else None
    value, _, want = _value_and_grads(pixel_pcl_loss, weak, strong, mask, chunk_size=chunk_size)
    assert not calls  # both views with gradient: one block
    strong.grad = None
    got = pixel_pcl_loss(weak.detach(), strong, mask, chunk_size=chunk_size)
    got.backward()
    assert len(calls) == 2  # one per image, by view
    torch.testing.assert_close(got.detach(), value, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(strong.grad, want, rtol=1e-9, atol=1e-12)


def test_segmentor_step_gradients_unchanged(monkeypatch):
    """One EHTDI-mode DACS step: the fast class/pixel PCL paths leave the gradients as they were."""
    sys.path.insert(0, osp.join(ROOT, 'tests', 'test_models', 'test_uda_seg'))
    try:
        from uda_seg_helpers import dacs_cfg, float64_step_grads
    finally:
        sys.path.pop(0)
    from mmcontrast.registry import MODELS

    contrast = dict(
        views=dict(type='mmcontrast.EHTDIViews', threshold=0.5),
        losses=dict(
            class_pcl=dict(type='mmcontrast.ClassPCLLoss', scale=7.0, loss_weight=1.0),
            pixel_pcl=dict(type='mmcontrast.PixelPCLLoss', scale=20.0, chunk_size=37, loss_weight=1.0)))

    def grads_of_one_step():
        torch.manual_seed(0)
        model = MODELS.build(dacs_cfg(contrast=contrast, pseudo_label=dict(threshold=0.0),
                                      backward=dict(type='mmcontrast.SummedBackward')))
        model.init_weights()
        losses, grads = float64_step_grads(model)
        assert losses['tgt.loss_class_pcl'].item() > 0 and losses['tgt.loss_pixel_pcl'].item() > 0
        return grads

    fast = grads_of_one_step()
    monkeypatch.setattr(pcl_module, 'class_pcl_loss', legacy_class_pcl_loss)
    naive_pixel = pcl_module.pixel_pcl_loss
    monkeypatch.setattr(pcl_module, 'pixel_pcl_loss',
                        lambda *args, **kwargs: naive_pixel(*args, **dict(kwargs, chunk_size=None)))
    reference = grads_of_one_step()
    assert fast.keys() == reference.keys() and len(fast) > 10
    for name in fast:
        torch.testing.assert_close(fast[name], reference[name], rtol=1e-8, atol=1e-11, msg=name)


def test_a_constant_view_keeps_the_chunked_form_of_the_whole_problem(monkeypatch):
    # 42 rows per view, chunk 64: the 84-row problem is chunked, so must be its 42-column blocks
    # (the full-matrix form would keep 42 x 42 blocks: at 2 x 64x64, 3x the chunked peak)
    full = []
    monkeypatch.setattr(utils_module._SoftmaxLogSumExp, 'apply',
                        lambda *a: (full.append(1), utils_module._ChunkedLogSumExp.apply(*a, 10**9))[1])
    weak, strong = _views(1, 5, 6, 7, 5)
    pixel_pcl_loss(weak.detach(), strong, chunk_size=64).backward()
    pixel_pcl_loss(weak, strong, chunk_size=64).backward()
    assert not full
    pixel_pcl_loss(weak.detach(), strong, chunk_size=84).backward()  # 84 >= 2N: one block each
    assert len(full) == 4
