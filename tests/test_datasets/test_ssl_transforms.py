"""SSL augmentations on cv2/numpy, multi-view and packing."""
import numpy as np
import pytest
import torch
from mmcv.transforms import Compose
from mmengine.registry import init_default_scope

import mmcontrast.datasets  # noqa: F401
from mmcontrast.datasets.transforms import (
    ColorJitter,
    GaussianBlur,
    MultiView,
    PackClsInputs,
    PackSelfSupInputs,
    RandomGrayscale,
    RandomResizedCrop,
    Solarize,
)


def _img(h=40, w=60, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def test_random_resized_crop_box_and_output():
    np.random.seed(0)
    rrc = RandomResizedCrop(size=(24, 16), scale=(0.2, 0.5), ratio=(0.5, 2.0))
    for _ in range(50):
        top, left, ch, cw = rrc.get_crop_box(40, 60)
        assert 0 <= top and top + ch <= 40 and 0 <= left and left + cw <= 60
        assert 0.2 * 2400 * 0.8 <= ch * cw <= 0.5 * 2400 * 1.2  # rounding slack
    out = rrc(dict(img=_img()))
    assert out['img'].shape == (24, 16, 3) and out['img_shape'] == (24, 16)
    # an impossible ratio falls back to the central crop
    assert RandomResizedCrop(8, scale=(0.99, 1.0), ratio=(10., 11.)).get_crop_box(40, 60) == (17, 0, 6, 60)
    with pytest.raises(ValueError, match='scale'):
        RandomResizedCrop(8, scale=(0.5, 1.5))


def test_color_jitter_definitions():
    img = _img()
    assert np.array_equal(ColorJitter()(dict(img=img.copy()))['img'], img)  # no-op
    np.random.seed(1)
    dark = ColorJitter(brightness=(0.5))(dict(img=np.full((4, 4, 3), 100, np.uint8)))['img']
    assert 50 <= dark.min() and dark.max() <= 150 and len(np.unique(dark)) == 1
    red = np.zeros((2, 2, 3), np.uint8)
    red[..., 2] = 255  # BGR red
    green = ColorJitter.adjust_hue(red.astype(np.float64), 1 / 3)
    np.testing.assert_allclose(green[0, 0], [0, 255, 0], atol=1)
    grey = np.full((3, 3, 3), 77, np.uint8)
    np.random.seed(2)
    assert np.array_equal(ColorJitter(contrast=0.8, saturation=0.8, hue=0.4)(dict(img=grey.copy()))['img'], grey)
    with pytest.raises(ValueError, match='hue'):
        ColorJitter(hue=0.6)


def test_grayscale_blur_solarize():
    img = _img()
    gray = RandomGrayscale(prob=1.0)(dict(img=img.copy()))['img']
    assert gray.shape == img.shape and (gray[..., 0] == gray[..., 1]).all() and (gray[..., 1] == gray[..., 2]).all()
    expected = np.rint(0.114 * img[..., 0] + 0.587 * img[..., 1] + 0.299 * img[..., 2])
    np.testing.assert_allclose(gray[..., 0], expected, atol=1)
    assert np.array_equal(RandomGrayscale(prob=0.0)(dict(img=img.copy()))['img'], img)
    blurred = GaussianBlur(sigma_min=2.0, sigma_max=2.0)(dict(img=img.copy()))['img']
    assert blurred.shape == img.shape and blurred.astype(float).std() < 0.6 * img.astype(float).std()
    sol = Solarize(threshold=128)(dict(img=np.array([[[0, 127, 128]]], np.uint8)))['img']
    assert sol.tolist() == [[[0, 127, 127]]]
    with pytest.raises(ValueError, match='HxWx3'):
        Solarize()(dict(img=np.zeros((4, 4), np.uint8)))


def test_multi_view_pipeline_from_config_and_packing():
    init_default_scope('mmcontrast')
    view = [dict(type='RandomResizedCrop', size=8),
            dict(type='RandomApply', transforms=[dict(type='ColorJitter', brightness=0.4)], prob=0.8),
            dict(type='RandomFlip', prob=0.5, direction='horizontal')]
    weak = [dict(type='RandomResizedCrop', size=8, scale=(0.9, 1.0))]
    pipeline = Compose([dict(type='MultiView', num_views=[2, 1], transforms=[view, weak]),
                        dict(type='PackSelfSupInputs')])
    np.random.seed(0)
    out = pipeline(dict(img=_img(), gt_label=3, sample_idx=7))
    assert len(out['inputs']) == 3 and all(v.shape == (3, 8, 8) and v.dtype == torch.uint8 for v in out['inputs'])
    assert not torch.equal(out['inputs'][0], out['inputs'][1])  # independent draws
    sample = out['data_samples']
    assert int(sample.gt_label) == 3 and sample.sample_idx == 7
    single = PackClsInputs()(dict(img=_img(4, 5)))
    assert single['inputs'].shape == (3, 4, 5) and int(single['data_samples'].gt_label) == -1
    with pytest.raises(ValueError, match='list of views'):
        PackSelfSupInputs()(dict(img=_img()))
    with pytest.raises(ValueError, match='num_views'):
        MultiView(transforms=[view, weak], num_views=[1])
