"""Losses under bad input (issue 12): hyper-parameters checked at construction, NaN/inf in
masked-out rows and ignored pixels kept out of the gradient, RankedSupCon labels checked
against the ranking's classes, the single-sample InfoNCE exactly 0."""
import math

import pytest
import torch

from mmcontrast.models.losses import (
    ASCLLoss,
    ClassPCLLoss,
    DimCLLoss,
    InfoNCELoss,
    PAUCLoss,
    PCLLoss,
    PixelPCLLoss,
    ProtoNCELoss,
    RankedSupConLoss,
    SupConLoss,
    class_pcl_loss,
    info_nce_loss,
    pcl_loss,
    pixel_pcl_loss,
    ranked_supcon_loss,
    supcon_loss,
)

RANKING = {0: [[0], [1]], 1: [[1], [0]]}
BAD_POSITIVE = [0, -0.1, math.inf, math.nan, '0.1', True]
BAD_NON_NEGATIVE = [-1.0, math.inf, math.nan, None]


def _positive_cases():
    return [(PCLLoss, 'scale'), (ClassPCLLoss, 'scale'), (PixelPCLLoss, 'scale'), (InfoNCELoss, 'temperature'),
            (SupConLoss, 'temperature'), (DimCLLoss, 'temperature'), (ProtoNCELoss, 'temperature'),
            (PAUCLoss, 'temperature'), (PAUCLoss, 'align_alpha'), (PAUCLoss, 'uniform_t'), (ASCLLoss, 't1'),
            (ASCLLoss, 't2'), (RankedSupConLoss, 'min_tau'), (RankedSupConLoss, 'max_tau')]


def _weight_cases():
    weights = [(cls, 'loss_weight') for cls in (PCLLoss, ClassPCLLoss, PixelPCLLoss, InfoNCELoss, SupConLoss, DimCLLoss,
                                                ProtoNCELoss, PAUCLoss, ASCLLoss, RankedSupConLoss)]
    return weights + [(PAUCLoss, 'align_weight'), (PAUCLoss, 'uniform_weight'), (PAUCLoss, 'corr_weight')]


def _build(cls, **kwargs):
    if cls is RankedSupConLoss:
        kwargs.setdefault('class_ranking', RANKING)
    return cls(**kwargs)


@pytest.mark.parametrize('cls, name', _positive_cases(), ids=lambda v: getattr(v, '__name__', v))
@pytest.mark.parametrize('value', BAD_POSITIVE, ids=repr)
def test_temperatures_and_scales_must_be_finite_and_positive(cls, name, value):
    with pytest.raises(ValueError, match=f'{cls.__name__}: {name} must be a finite number > 0'):
        _build(cls, **{name: value})


@pytest.mark.parametrize('cls, name', _weight_cases(), ids=lambda v: getattr(v, '__name__', v))
@pytest.mark.parametrize('value', BAD_NON_NEGATIVE, ids=repr)
def test_weights_must_be_finite_and_non_negative(cls, name, value):
    with pytest.raises(ValueError, match=f'{cls.__name__}: {name} must be a finite number >= 0'):
        _build(cls, **{name: value})


@pytest.mark.parametrize('cls, name', _weight_cases(), ids=lambda v: getattr(v, '__name__', v))
def test_zero_weights_are_allowed(cls, name):
    _build(cls, **{name: 0.0})


@pytest.mark.parametrize('cls', [ProtoNCELoss, PAUCLoss])
@pytest.mark.parametrize('value', [-1, 2.5, None])
def test_num_neg_prototypes_must_be_a_non_negative_int(cls, value):
    with pytest.raises(ValueError, match=f'{cls.__name__}: num_neg_prototypes must be an int >= 0'):
        cls(num_neg_prototypes=value)
    cls(num_neg_prototypes=0)


def test_other_hyper_parameters():
    with pytest.raises(ValueError, match='RankedSupConLoss: taus\\[1\\] must be a finite number > 0'):
        RankedSupConLoss(RANKING, taus=[0.1, math.inf])
    with pytest.raises(ValueError, match='threshold must be a probability'):
        ClassPCLLoss(threshold=1.5)
    with pytest.raises(ValueError, match='PixelPCLLoss: max_pixels must be a positive int'):
        PixelPCLLoss(max_pixels=0)
    with pytest.raises(ValueError, match='PixelPCLLoss: chunk_size must be a positive int'):
        PixelPCLLoss(chunk_size=0)


def test_functional_forms_check_their_temperature():
    x = torch.randn(4, 3)
    with pytest.raises(ValueError, match='info_nce_loss: temperature'):
        info_nce_loss(x, x, temperature=0)
    with pytest.raises(ValueError, match='supcon_loss: temperature'):
        supcon_loss(x, torch.tensor([0, 0, 1, 1]), temperature=0)
    with pytest.raises(ValueError, match='pcl_loss: scale'):
        pcl_loss(x, x, scale=0)
    with pytest.raises(ValueError, match='ranked_supcon_loss: taus\\[0\\]'):
        ranked_supcon_loss(x, torch.tensor([0, 0, 1, 1]), torch.zeros(2, 2, dtype=torch.long), [0.0])


def _grads(fn, *inputs):
    inputs = [x.clone().requires_grad_() for x in inputs]
    loss = fn(*inputs)
    loss.backward()
    return loss.detach(), [x.grad for x in inputs]


@pytest.mark.parametrize('bad', [math.nan, math.inf, -math.inf])
def test_nan_in_a_masked_out_row_stays_out_of_the_gradient(bad):
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(5, 4, generator=g, dtype=torch.float64), torch.randn(5, 4, generator=g, dtype=torch.float64)
    valid = torch.tensor([1, 1, 0, 1, 1], dtype=torch.bool)
    clean_loss, clean = _grads(lambda x, y: pcl_loss(x, y, valid), a, b)
    a[2], b[2, 1] = bad, bad
    loss, grads = _grads(lambda x, y: pcl_loss(x, y, valid), a, b)
    assert loss == clean_loss
    for grad, ref in zip(grads, clean):
        assert torch.isfinite(grad).all()
        assert torch.equal(grad, ref) and (grad[2] == 0).all()


@pytest.mark.parametrize('as_labels', [False, True], ids=['bool_mask', 'label_map'])
def test_nan_in_an_ignored_pixel_stays_out_of_the_gradient(as_labels):
    g = torch.Generator().manual_seed(1)
    a, b = torch.randn(
        2, 3, 4, 4, generator=g, dtype=torch.float64), torch.randn(
            2, 3, 4, 4, generator=g, dtype=torch.float64)
    mask = torch.ones(2, 4, 4, dtype=torch.bool)
    mask[0, 1, 2] = mask[1, 0, 0] = False
    valid = torch.where(mask, 1, 255) if as_labels else mask
    clean_loss, clean = _grads(lambda x, y: pixel_pcl_loss(x, y, valid, chunk_size=5), a, b)
    a[0, :, 1, 2], b[1, 0, 0, 0] = math.nan, math.inf
    loss, grads = _grads(lambda x, y: pixel_pcl_loss(x, y, valid, chunk_size=5), a, b)
    assert loss == clean_loss
    for grad, ref in zip(grads, clean):
        assert torch.isfinite(grad).all() and torch.equal(grad, ref)


def test_nan_in_an_ignored_pixel_of_the_class_loss():
    g = torch.Generator().manual_seed(2)
    a, b = torch.randn(
        1, 3, 4, 4, generator=g, dtype=torch.float64), torch.randn(
            1, 3, 4, 4, generator=g, dtype=torch.float64)
    labels = torch.randint(0, 3, (1, 4, 4), generator=g)
    labels[0, 0, 0] = 255
    clean_loss, clean = _grads(lambda x, y: class_pcl_loss(x, y, labels), a, b)
    a[0, :, 0, 0] = math.nan
    loss, grads = _grads(lambda x, y: class_pcl_loss(x, y, labels), a, b)
    assert loss == clean_loss and all(torch.equal(g_, r) for g_, r in zip(grads, clean))
    # without a pseudo-label a NaN prediction is not confident: the pixel is ignored
    a = torch.full((1, 3, 2, 2), 10.0, dtype=torch.float64)
    a[0, 0] = 20.0
    a[0, :, 0, 0] = math.nan
    loss, grads = _grads(lambda x, y: class_pcl_loss(x, y, threshold=0.5), a, a.clone())
    assert torch.isfinite(loss) and all(torch.isfinite(g_).all() for g_ in grads)


def test_ranked_supcon_checks_labels_against_the_ranking_classes():
    feats = torch.randn(3, 4)
    named = RankedSupConLoss(dict(classes=['person', 'car'], ranking=dict(person=[['person'], ['car']])))
    assert named.num_classes == 2
    with pytest.raises(
            ValueError, match=r'labels holds 2, not a class of the ranking: expected \[0, 2\) '
            r'\(person, car\)'):
        named(feats, torch.tensor([0, 1, 2]))
    with pytest.raises(ValueError, match='bank_labels holds 5'):
        named(feats, torch.tensor([0, 1, 1]), bank_features=feats, bank_labels=torch.tensor([0, 5, 1]))
    with pytest.raises(ValueError, match='num_classes is 1'):
        RankedSupConLoss(RANKING, num_classes=1)
    bounded = RankedSupConLoss(RANKING, num_classes=3)
    with pytest.raises(ValueError, match='expected \\[0, 3\\)'):
        bounded(feats, torch.tensor([0, 1, 3]))


def test_ranked_supcon_memory_does_not_grow_with_the_label_values():
    # an index-keyed ranking does not bound the labels; a huge one ranks only itself and
    # must not build a label x label matrix (30000 would be 6.9 GiB)
    module = RankedSupConLoss(RANKING)
    feats = torch.randn(4, 4, dtype=torch.float64)
    big = module(feats, torch.tensor([3000, 3000, 0, 1]))
    small = module(feats, torch.tensor([2, 2, 0, 1]))
    assert big == small  # same structure: a lone class pair plus the ranked pair
    assert module._rank_matrix.numel() == 4


def test_info_nce_of_one_sample_is_exactly_zero():
    g = torch.Generator().manual_seed(3)
    a = torch.randn(1, 16, generator=g, requires_grad=True)
    b = torch.randn(1, 16, generator=g, requires_grad=True)
    for temperature in (0.07, 0.1, 0.5):
        loss = info_nce_loss(a, b, temperature=temperature)
        assert loss.item() == 0.0 and loss.requires_grad
    loss.backward()
    assert torch.equal(a.grad, torch.zeros_like(a))
    valid = torch.tensor([True, False, False])
    one_valid = pcl_loss(torch.randn(3, 5, generator=g), torch.randn(3, 5, generator=g), valid)
    assert one_valid.item() == 0.0
