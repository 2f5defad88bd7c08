"""EMA teacher, pseudo-labels, ClassMix, strong augmentation, feature distance, DLV2 head."""
import pytest
import torch
from torch import nn

from mmcontrast.models.uda.seg import (
    ASPPClassifier,
    DLV2Head,
    EMATeacher,
    StrongAugmentation,
    class_mix,
    class_mix_masks,
    downscale_label_ratio,
    gaussian_blur,
    make_pseudo_labels,
)


def test_ema_teacher_alpha_schedule_and_update():
    student = nn.Linear(3, 2)
    teacher = EMATeacher(student, alpha=0.999)
    assert [teacher.current_alpha(t) for t in (0, 1, 3)] == [0.0, 0.5, 0.75]
    assert teacher.current_alpha(10**6) == 0.999
    with torch.no_grad():
        student.weight.fill_(1.)
    teacher.update_parameters(student)  # update 0: copy
    assert torch.equal(teacher.module.weight, student.weight)
    expected = teacher.module.weight.clone()
    for t in range(1, 5):
        with torch.no_grad():
            student.weight.add_(1.)
        alpha = min(1 - 1 / (t + 1), 0.999)
        expected = alpha * expected + (1 - alpha) * student.weight
        teacher.update_parameters(student)
        torch.testing.assert_close(teacher.module.weight, expected)
    assert int(teacher.steps) == 5
    assert not any(p.requires_grad for p in teacher.parameters())


def test_ema_teacher_copies_buffers_and_rejects_bad_alpha():
    student = nn.BatchNorm1d(2)
    teacher = EMATeacher(student)
    student.running_mean.fill_(3.)
    teacher.update_parameters(student)
    teacher.update_parameters(student)
    assert torch.equal(teacher.module.running_mean, student.running_mean)
    with pytest.raises(ValueError, match='alpha'):
        EMATeacher(student, alpha=1.0)


def test_pseudo_labels_threshold_quality_and_margins():
    # 2 images, 3 classes, 4x2 pixels; image 0: 6/8 confident, image 1: none confident.
    logits = torch.zeros(2, 3, 4, 2)
    logits[0, 1] = 10.
    logits[0, 1, 0, :] = 0.  # top row: uniform -> not confident, argmax 0
    logits[1, 2] = 0.5
    pl = make_pseudo_labels(logits, threshold=0.968, ignore_top=1, ignore_bottom=1, quality='image')
    assert pl.quality.tolist() == pytest.approx([6 / 8, 0.0])
    assert pl.label[0, 1:].eq(1).all() and pl.label[1].eq(2).all()
    # every pixel weighs the image quality, margins weigh 0
    assert pl.weight[0, 1:3].eq(0.75).all() and pl.weight[:, 0].eq(0).all() and pl.weight[:, 3].eq(0).all()
    assert pl.confident[0].sum() == 4  # rows 1-2 only
    assert pl.in_crop[:, 1:3].all() and not pl.in_crop[:, 0].any()
    # DAFormer's default: one weight for the batch, 6 confident of 16 pixels (dacs.py L274-278)
    batch = make_pseudo_labels(logits, threshold=0.968, ignore_top=1, ignore_bottom=1)
    assert batch.quality.tolist() == pytest.approx([6 / 16, 6 / 16])
    assert batch.weight[:, 1:3].eq(6 / 16).all() and batch.weight[:, 0].eq(0).all()
    # threshold is inclusive (>=)
    exact = torch.log(torch.tensor([0.968, 0.032])).view(1, 2, 1, 1)
    assert make_pseudo_labels(exact, threshold=0.968).quality.item() == pytest.approx(1.0)
    with pytest.raises(ValueError, match='ignore_top'):
        make_pseudo_labels(logits, ignore_top=3, ignore_bottom=2)


def test_class_mix_picks_half_the_source_classes_and_keeps_labels_consistent():
    torch.manual_seed(0)
    src_label = torch.tensor([0, 1, 2, 3, 255]).repeat_interleave(4).view(1, 4, 5).repeat(3, 1, 1)
    src_label = src_label.reshape(3, 4, 5)
    masks = class_mix_masks(src_label)
    for mask, label in zip(masks, src_label):
        picked = label[mask].unique()
        assert len(picked) == 2 and 255 not in picked  # ceil(4 / 2) of the labelled classes
        assert torch.equal(mask, torch.isin(label, picked))  # whole classes are pasted
    src_img = torch.full((3, 3, 4, 5), 1.)
    tgt_img = torch.full((3, 3, 4, 5), -1.)
    tgt_label = torch.full((3, 4, 5), 7)
    img, label, weight, mask = class_mix(src_img, tgt_img, src_label, tgt_label, torch.ones(3, 4, 5),
                                         torch.full((3, 4, 5), 0.5))
    # a pixel's label and weight come from the same domain as its image
    from_src = img[:, 0] > 0
    assert torch.equal(from_src, mask)
    assert torch.equal(label[from_src], src_label[from_src]) and label[~from_src].eq(7).all()
    assert weight[from_src].eq(1).all() and weight[~from_src].eq(0.5).all()
    with pytest.raises(ValueError, match='same crop size'):
        class_mix(src_img, tgt_img[..., :4], src_label, tgt_label, torch.ones(3, 4, 5), torch.ones(3, 4, 5))


def test_strong_aug_flips_image_label_weight_together_and_unflips():
    torch.manual_seed(0)
    aug = StrongAugmentation([0, 0, 0], [1, 1, 1], color_jitter_prob=0., blur_prob=0., flip_prob=0.5)
    img = torch.arange(4 * 3 * 2 * 5, dtype=torch.float32).view(4, 3, 2, 5)
    label = torch.arange(5).repeat(4, 2, 1)
    weight = label.float() / 10
    views = aug(img, label, weight)
    assert views.flipped.any() and not views.flipped.all()
    for i, flipped in enumerate(views.flipped):
        ref_img, ref_label = (img[i].flip(-1), label[i].flip(-1)) if flipped else (img[i], label[i])
        torch.testing.assert_close(views.img[i], ref_img)
        assert torch.equal(views.label[i], ref_label)
        assert torch.equal(views.weight[i], ref_label.float() / 10)
    assert torch.equal(StrongAugmentation.unflip(views.label, views.flipped), label)
    assert not aug(img, geometric=False).flipped.any()


def test_strong_aug_photometric_changes_pixels_only_within_range():
    torch.manual_seed(0)
    mean, std = [123.675, 116.28, 103.53], [58.395, 57.12, 57.375]
    aug = StrongAugmentation(mean, std, color_jitter_prob=1., color_jitter_strength=0.3, blur_prob=1.)
    raw = torch.rand(2, 3, 16, 16) * 255
    img = (raw - torch.tensor(mean).view(3, 1, 1)) / torch.tensor(std).view(3, 1, 1)
    out = aug(img).img
    rgb = out * torch.tensor(std).view(3, 1, 1) + torch.tensor(mean).view(3, 1, 1)
    assert not torch.allclose(out, img) and rgb.min() > -1e-3 and rgb.max() < 255 + 1e-3
    flat = torch.ones(1, 8, 8)  # a blur keeps a constant image constant
    torch.testing.assert_close(gaussian_blur(flat, 1.0, (5, 5)), flat)


def test_downscale_label_ratio():
    label = torch.tensor([[0, 0, 1, 1], [0, 0, 1, 2], [3, 3, 255, 255], [3, 255, 255, 255]]).view(1, 4, 4)
    out = downscale_label_ratio(label, 2, min_ratio=0.75, num_classes=4)
    # cells: all 0 | 3/4 of 1 | 3/4 of 3 | all ignored
    assert out.tolist() == [[[0, 1], [3, 255]]]
    strict = downscale_label_ratio(label, 2, min_ratio=0.8, num_classes=4)
    assert strict.tolist() == [[[0, 255], [255, 255]]]


def test_dlv2_head_sums_dilated_branches():
    head = DLV2Head(in_channels=8, in_index=0, dilations=(1, 2), num_classes=3)
    assert isinstance(head.conv_seg, ASPPClassifier) and head.dropout is None
    x = torch.randn(2, 8, 9, 9)
    out = head([x])
    expected = sum(branch(x) for branch in head.conv_seg.branches)
    torch.testing.assert_close(out, expected)
    assert out.shape == (2, 3, 9, 9)
