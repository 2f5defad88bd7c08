"""Parity of the strong augmentation with DAFormer and kornia 0.5.8.

References (read for the maths, not copied):

* DAFormer, lhoyer/DAFormer@e6f6e041e7477b642106c134c1715fc934ccd210:
  ``mmseg/models/uda/dacs.py`` (L222-231 draw ``color_jitter`` and ``blur`` with
  ``random.uniform(0, 1)`` once per batch; L293-300 call ``strong_transform`` one image at
  a time) and ``mmseg/models/utils/dacs_transforms.py`` (L56 ``if color_jitter > p``,
  L61-62 ``ColorJitter(brightness=s, contrast=s, saturation=s, hue=s)``, L72-80 blur
  decision, sigma and kernel-size formula, L84-85 ``GaussianBlur2d``).
* kornia 0.5.8: ``augmentation/augmentation.py`` L234-264 (ColorJitter ranges and ops),
  ``augmentation/random_generator/random_generator.py`` L96-106 (draw order, one
  ``randperm`` per call), ``enhance/adjust.py``, ``color/hsv.py``,
  ``filters/kernels.py``, ``filters/filter.py``.

The kornia reference outputs live in ``tests/data/kornia058_strong_aug.npz``. They were
computed once with kornia 0.5.8 (``pip install --no-deps --target /tmp/k058
kornia==0.5.8``) beside torch 2.13.0+cpu, by running this file as a script::

    PYTHONPATH=/tmp/k058 python tests/test_models/test_uda_seg/test_strong_aug_parity.py --write

(see :func:`_kornia_reference`). kornia is not a test dependency: the tests only read the
fixture; :func:`test_fixture_is_reproducible_with_kornia_058` re-derives it when kornia
0.5.8 happens to be importable and is skipped otherwise.
"""
import math
import random
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from mmcontrast.models.uda.seg import (
    DAFormerStrongAug,
    IndependentStrongAug,
    StrongAugmentation,
    build_strong_aug,
    daformer_color_jitter,
    daformer_kernel_size,
)
from mmcontrast.models.uda.seg import strong_aug as sa

FIXTURE = Path(__file__).parents[2] / 'data' / 'kornia058_strong_aug.npz'
MEAN, STD = [123.675, 116.28, 103.53], [58.395, 57.12, 57.375]
# fixed per-image factors of the single-op references (2 images)
BRIGHTNESS = [0.8, 1.15]
CONTRAST = [0.85, 1.2]
SATURATION = [0.8, 1.2]
HUE = [-0.2, 0.13]  # turns, as ColorJitter's hue_factor
BLUR = [((5, 7), 1.1), ((3, 5), 0.15)]
JITTER_SEED = 7
PIPELINE_SEED = 3  # a seed at which DAFormer both jitters and blurs (checked in the test)


def _fixture_input() -> torch.Tensor:
    """The small [2, 3, 6, 7] RGB input of the op references, with grey and tied pixels."""
    gen = torch.Generator().manual_seed(0)
    img = torch.rand(2, 3, 6, 7, generator=gen)
    img[0, :, :2, :2] = 0.5  # grey: zero chroma
    img[1, 0, 0] = img[1, 1, 0]  # R == G ties pick the hue sector by the first maximum
    img[1, :, 1] = 1.0
    img[0, :, 2] = 0.0
    return img


def _pipeline_input() -> torch.Tensor:
    """A [2, 3, 21, 21] normalised batch; DAFormer's kernel is (3, 3) at that size."""
    gen = torch.Generator().manual_seed(1)
    raw = torch.rand(2, 3, 21, 21, generator=gen) * 255
    return (raw - torch.tensor(MEAN).view(3, 1, 1)) / torch.tensor(STD).view(3, 1, 1)


def _kornia_reference() -> dict:
    """Compute the reference outputs with kornia 0.5.8 (needs it importable)."""
    import kornia
    assert kornia.__version__ == '0.5.8', kornia.__version__
    img = _fixture_input()
    ref = {'img': img}
    ref['brightness'] = kornia.enhance.adjust_brightness(img, torch.tensor(BRIGHTNESS) - 1)
    ref['contrast'] = kornia.enhance.adjust_contrast(img, torch.tensor(CONTRAST))
    ref['saturation'] = kornia.enhance.adjust_saturation(img, torch.tensor(SATURATION))
    ref['hue'] = kornia.enhance.adjust_hue(img, torch.tensor(HUE) * 2 * math.pi)
    for i, (ksize, sigma) in enumerate(BLUR):
        ref[f'blur{i}'] = kornia.filters.GaussianBlur2d(ksize, (sigma, sigma))(img)
    # ColorJitter as DAFormer calls it: one image per call, s = 0.2 for all four ops
    torch.manual_seed(JITTER_SEED)
    jitter = kornia.augmentation.ColorJitter(brightness=0.2, contrast=0.2, saturation=0.2, hue=0.2)
    ref['jitter_seeded'] = torch.cat([jitter(img[i:i + 1]) for i in range(len(img))])
    # DAFormer's strong_transform without mixing (dacs.py L222-231, dacs_transforms.py L52-88)
    data = _pipeline_input()
    mean, std = torch.tensor(MEAN).view(1, 3, 1, 1), torch.tensor(STD).view(1, 3, 1, 1)
    random.seed(PIPELINE_SEED)
    np.random.seed(PIPELINE_SEED)
    torch.manual_seed(PIPELINE_SEED)
    u_jitter, u_blur = random.uniform(0, 1), random.uniform(0, 1)
    out = []
    for i in range(len(data)):
        x = data[i:i + 1].clone()
        if u_jitter > 0.2:
            x = jitter(x * std / 255. + mean / 255.) * 255. / std - mean / std
        if u_blur > 0.5:
            sigma = np.random.uniform(0.15, 1.15)
            k = [int(np.floor(np.ceil(0.1 * e) - 0.5 + np.ceil(0.1 * e) % 2)) for e in x.shape[-2:]]
            x = kornia.filters.GaussianBlur2d(tuple(k), (sigma, sigma))(x)
        out.append(x)
    ref['pipeline_out'] = torch.cat(out)
    ref['pipeline_decisions'] = torch.tensor([u_jitter > 0.2, u_blur > 0.5])
    return ref


def _load_fixture() -> dict:
    with np.load(FIXTURE) as npz:
        return {k: torch.from_numpy(npz[k]) for k in npz.files}


def test_jitter_rate_daformer_is_one_minus_threshold_and_per_batch():
    # dacs.py L225 draws random.uniform(0, 1) once per batch; dacs_transforms.py L56 jitters
    # when it exceeds p = 0.2, i.e. 80% of the batches. Measured by whether the image changed.
    random.seed(0)
    torch.manual_seed(0)
    aug = DAFormerStrongAug(MEAN, STD, blur=False)
    img = _pipeline_input()[:, :, :4, :4]
    changed = []
    for _ in range(2000):
        out = aug(img).img
        per_image = [not torch.equal(o, i) for o, i in zip(out, img)]
        assert per_image[0] == per_image[1]  # one decision for the whole batch
        changed.append(per_image[0])
    rate = float(np.mean(changed))
    assert abs(rate - 0.8) <= 0.03, rate
    assert aug.color_jitter_rate == pytest.approx(0.8)


def test_jitter_rate_independent_is_the_probability_per_image():
    # The documented deviation: per-image decisions at rate color_jitter_prob (DAFormer:
    # dacs_transforms.py L56 is per batch and at rate 1 - p). Its normalisation round trip
    # is not bit-exact, hence the tolerance; a jitter moves pixels by far more.
    torch.manual_seed(0)
    aug = IndependentStrongAug(MEAN, STD, color_jitter_prob=0.2, blur_prob=0.)
    img = _pipeline_input()[:, :, :4, :4]
    changed = []
    for _ in range(2000):
        out = aug(img).img
        changed += [not torch.allclose(o, i, atol=1e-4) for o, i in zip(out, img)]
    rate = float(np.mean(changed))
    assert abs(rate - 0.2) <= 0.03, rate


@pytest.mark.parametrize('extent, expected', [(512, 51), (513, 51), (64, 7), (510, 51), (20, 1), (21, 3)])
def test_daformer_kernel_size_formula(extent, expected):
    # dacs_transforms.py L74-81: int(floor(ceil(0.1 * e) - 0.5 + ceil(0.1 * e) % 2))
    k = int(np.floor(np.ceil(0.1 * extent) - 0.5 + np.ceil(0.1 * extent) % 2))
    assert daformer_kernel_size(extent) == k == expected


def test_blur_uses_daformer_kernel_and_numpy_sigma(monkeypatch):
    # dacs_transforms.py L72-85: blur when U(0, 1) > 0.5, sigma = np.random.uniform(0.15, 1.15)
    # per call (per image), kernel (k_y, k_x) from the formula. Instrumented, not recomputed.
    calls = []
    monkeypatch.setattr(sa, 'gaussian_blur', lambda img, sigma, ksize: calls.append((sigma, tuple(ksize))) or img)
    random.seed(PIPELINE_SEED)
    np.random.seed(PIPELINE_SEED)
    aug = DAFormerStrongAug(MEAN, STD, color_jitter_probability=1.)  # blur only
    aug(torch.zeros(2, 3, 512, 64))
    np.random.seed(PIPELINE_SEED)
    sigmas = np.random.uniform(0.15, 1.15, size=2)
    assert [c[1] for c in calls] == [(51, 7), (51, 7)]
    assert [c[0] for c in calls] == pytest.approx(sigmas.tolist())
    calls.clear()
    IndependentStrongAug(MEAN, STD, color_jitter_prob=0., blur_prob=1.)(torch.zeros(1, 3, 513, 64))
    assert calls[0][1] == (53, 7)  # the deviation: even sizes rounded up


def test_colour_ops_match_kornia_058_on_fixed_factors():
    # kornia 0.5.8 enhance/adjust.py L376 (brightness: add, clamp), L320 (contrast: multiply,
    # clamp), L62 (saturation scaled in HSV, clamped), L141 (hue shifted in radians);
    # color/hsv.py L46 (s = delta / (v + eps)) and L94 (sector of hsv_to_rgb).
    ref = _load_fixture()
    img = ref['img']
    ours = {
        'brightness': sa.adjust_brightness_additive(img, torch.tensor(BRIGHTNESS) - 1),
        'contrast': sa.adjust_contrast_multiplicative(img, torch.tensor(CONTRAST)),
        'saturation': sa.adjust_saturation_hsv(img, torch.tensor(SATURATION)),
        'hue': sa.adjust_hue_hsv(img, torch.tensor(HUE) * 2 * math.pi),
    }
    for name, out in ours.items():
        torch.testing.assert_close(out, ref[name], atol=1e-5, rtol=0, msg=name)
    # the same through daformer_color_jitter, one op at a time (neutral factors elsewhere)
    only_hue = daformer_color_jitter(img, torch.ones(2), torch.ones(2), torch.ones(2), torch.tensor(HUE), (3, 0, 1, 2))
    torch.testing.assert_close(only_hue, ref['hue'], atol=1e-5, rtol=0)


def test_gaussian_blur_matches_kornia_058():
    # kornia 0.5.8 filters/kernels.py L15-23 and L358 (odd sizes only), filters/filter.py L98
    # (reflect padding); DAFormer calls GaussianBlur2d at dacs_transforms.py L84-85.
    ref = _load_fixture()
    for i, (ksize, sigma) in enumerate(BLUR):
        torch.testing.assert_close(sa.gaussian_blur(ref['img'], sigma, ksize), ref[f'blur{i}'], atol=1e-5, rtol=0)
    with pytest.raises(ValueError, match='odd'):
        sa.gaussian_blur(ref['img'], 1., (4, 3))  # kornia rejects even sizes too (kernels.py L358)


def test_seeded_jitter_follows_kornia_draws():
    # random_generator.py L96-99 draw brightness, contrast, hue, saturation (in this order),
    # L106 one randperm(4) per call; augmentation.py L235-244 ranges. DAFormer calls it per
    # image (dacs.py L293-300), so the order is drawn per image.
    ref = _load_fixture()
    torch.manual_seed(JITTER_SEED)
    out = []
    for one in ref['img']:
        p = sa.sample_daformer_jitter(0.2)
        out.append(daformer_color_jitter(one, p['brightness'], p['contrast'], p['saturation'], p['hue'], p['order']))
    torch.testing.assert_close(torch.stack(out), ref['jitter_seeded'], atol=1e-5, rtol=0)


def test_seeded_daformer_strong_aug_matches_daformer_pipeline():
    # dacs.py L222-231 + L293-300 with dacs_transforms.py L52-88 (no mixing), via kornia 0.5.8.
    # Normalised values are ~4.4x the [0, 1] error (x 255 / std), hence 1e-4.
    ref = _load_fixture()
    assert ref['pipeline_decisions'].tolist() == [True, True]
    random.seed(PIPELINE_SEED)
    np.random.seed(PIPELINE_SEED)
    torch.manual_seed(PIPELINE_SEED)
    out = DAFormerStrongAug(MEAN, STD)(_pipeline_input()).img
    torch.testing.assert_close(out, ref['pipeline_out'], atol=1e-4, rtol=0)


def test_jitter_ranges_match_kornia():
    # augmentation.py L235-244 and param_validation.py L33-34: s around the centre, clamped
    # to the bounds (brightness [0, 2], contrast/saturation >= 0, hue [-0.5, 0.5]).
    def flat(ranges):
        return [bound for pair in ranges for bound in pair]

    assert flat(sa.daformer_jitter_ranges(0.2)) == pytest.approx([0.8, 1.2, 0.8, 1.2, 0.8, 1.2, -0.2, 0.2])
    assert flat(sa.daformer_jitter_ranges(1.5)) == pytest.approx([0., 2., 0., 2.5, 0., 2.5, -0.5, 0.5])
    torch.manual_seed(0)
    draws = [sa.sample_daformer_jitter(0.2) for _ in range(200)]
    for name, (low, high) in zip(sa.JITTER_OPS, sa.daformer_jitter_ranges(0.2)):
        values = torch.stack([d[name] for d in draws])
        assert low <= values.min() and values.max() <= high
        assert values.max() - values.min() > 0.9 * (high - low)  # spans the range
    assert len({tuple(d['order']) for d in draws}) > 12  # the order is random


def test_daformer_flip_moves_label_and_weight_with_image_and_unflips():
    # Not in DAFormer (no flip there); the flips are drawn after the photometric draws, so
    # the same seeds give the same photometric output with and without flips.
    img = _pipeline_input()[:, :, :8, :9].repeat(3, 1, 1, 1)
    label = torch.arange(9).repeat(6, 8, 1)
    weight = label.float() / 10
    random.seed(5)
    np.random.seed(5)
    torch.manual_seed(5)
    views = DAFormerStrongAug(MEAN, STD, flip_prob=0.5)(img, label, weight)
    random.seed(5)
    np.random.seed(5)
    torch.manual_seed(5)
    plain = DAFormerStrongAug(MEAN, STD)(img).img
    assert views.flipped.any() and not views.flipped.all()
    for i, flipped in enumerate(views.flipped.tolist()):
        ref_img, ref_label = (plain[i].flip(-1), label[i].flip(-1)) if flipped else (plain[i], label[i])
        assert torch.equal(views.img[i], ref_img)
        assert torch.equal(views.label[i], ref_label)
        assert torch.equal(views.weight[i], ref_label.float() / 10)
    assert torch.equal(DAFormerStrongAug.unflip(views.img, views.flipped), plain)
    assert torch.equal(DAFormerStrongAug.unflip(views.label, views.flipped), label)
    assert torch.equal(DAFormerStrongAug.unflip(views.weight, views.flipped), weight)
    assert not DAFormerStrongAug(MEAN, STD, flip_prob=1.)(img, geometric=False).flipped.any()


def test_build_strong_aug_defaults_to_daformer():
    assert type(build_strong_aug(None, MEAN, STD)) is DAFormerStrongAug
    aug = build_strong_aug(dict(color_jitter_probability=0.5, blur=False), MEAN, STD)
    assert isinstance(aug, DAFormerStrongAug) and aug.color_jitter_rate == 0.5 and not aug.blur
    old = build_strong_aug(dict(type='mmcontrast.IndependentStrongAug', color_jitter_prob=0.2, blur_prob=0.5), MEAN,
                           STD)
    assert isinstance(old, IndependentStrongAug) and StrongAugmentation is IndependentStrongAug
    with pytest.raises(TypeError, match='IndependentStrongAug'):
        build_strong_aug(dict(color_jitter_prob=0.2), MEAN, STD)  # would silently invert the rate


def test_fixture_is_reproducible_with_kornia_058():
    # Only where kornia 0.5.8 is importable (never a CI dependency): the stored references
    # are what kornia computes today.
    kornia = pytest.importorskip('kornia')
    if kornia.__version__ != '0.5.8':
        pytest.skip(f'needs kornia 0.5.8, found {kornia.__version__}')
    ref, fresh = _load_fixture(), _kornia_reference()
    assert ref.keys() == fresh.keys()
    for name in ref:
        torch.testing.assert_close(fresh[name], ref[name], atol=1e-6, rtol=0, msg=name)


if __name__ == '__main__':
    if '--write' not in sys.argv:
        sys.exit('usage: PYTHONPATH=<kornia 0.5.8> python test_strong_aug_parity.py --write')
    FIXTURE.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(FIXTURE, **{k: v.numpy() for k, v in _kornia_reference().items()})
    print(f'wrote {FIXTURE}')
