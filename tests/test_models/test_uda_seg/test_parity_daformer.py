"""Parity of the UDA segmentation recipe with DAFormer, DACS and EHTDI (issue 19), one test per item.

References (read for the maths and conventions, not copied), at the commits fetched for this work:

* DAFormer, lhoyer/DAFormer@e6f6e041: ``mmseg/models/uda/dacs.py``,
  ``mmseg/models/utils/dacs_transforms.py``, ``configs/_base_/schedules/poly10warm.py``,
  ``configs/daformer/gta2cs_uda_warm_fdthings_rcs_croppl_a999_daformer_mitb5_s0.py``,
  ``configs/_base_/models/deeplabv2red_r50-d8.py``.
* DACS, vikolss/DACS: ``model/deeplabv2.py``.
* EHTDI (the PCL paper's segmentation code), ljjcoder/EHTDI: ``main.py`` (``use_NCE``),
  ``models/deeplab_multi.py``, ``configs/gta5.yaml``, ``configs/synthia.yaml``.

Item 1 (DAFormerHead, 3,712,275 parameters) is pinned in ``test_daformer_head.py`` and item 3
(strong augmentation against kornia 0.5.8, 80% jitter) in ``test_strong_aug_parity.py``; the
DAFormer recipe's use of both is checked here.
"""
import copy
import os
import random
import socket
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.optim import OptimWrapper, build_optim_wrapper
from mmengine.registry import PARAM_SCHEDULERS, DefaultScope

sys.path.insert(0, str(Path(__file__).parent))
from uda_seg_helpers import dacs_cfg, fake_batch, tiny_segmentor  # noqa: E402

from mmcontrast.models.uda.seg import (  # noqa: E402
    DAFormerClassMix,
    DAFormerStrongAug,
    DLV2Head,
    EHTDIViews,
    UDAStep,
    make_pseudo_labels,
    mix,
)
from mmcontrast.models.uda.seg.strong_aug import StrongViews  # noqa: E402
from mmcontrast.registry import MODELS  # noqa: E402

ROOT = Path(__file__).parents[3]
REAL = sorted(p for p in (ROOT / 'configs' / 'uda_seg').glob('daformer*.py'))


def build(**kwargs):
    torch.manual_seed(0)
    model = MODELS.build(dacs_cfg(**kwargs))
    model.init_weights()
    return model.train()


def seed_all(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


# ---------------------------------------------------------------- item 2: DeepLabV2 (dlv2red)
def test_deeplabv2_sums_only_dilations_6_and_12():
    # DACS model/deeplabv2.py L117-121 (EHTDI models/deeplab_multi.py L77-81): `return out`
    # inside the loop, so conv2d_list[0] + conv2d_list[1] (dilations 6 and 12) only.
    kwargs = dict(in_channels=8, in_index=0, num_classes=3, align_corners=False)
    four = DLV2Head(dilations=(6, 12, 18, 24), summed_branches=2, **kwargs)
    red = DLV2Head(dilations=(6, 12), **kwargs)  # DAFormer deeplabv2red_r50-d8.py
    red.conv_seg.branches.load_state_dict(four.conv_seg.branches[:2].state_dict())
    x = torch.randn(1, 8, 30, 30)
    branches = four.conv_seg.branches
    expected = branches[0](x) + branches[1](x)
    assert torch.allclose(four([x]), expected, atol=1e-6) and torch.allclose(red([x]), expected, atol=1e-6)
    full = DLV2Head(dilations=(6, 12, 18, 24), **kwargs)
    full.conv_seg.branches.load_state_dict(branches.state_dict())
    assert not torch.allclose(full([x]), expected, atol=1e-4)  # the 4-branch sum is an option, not the default
    # DeepLabV2-R101 head of the reproduction configs: 2 x (2048 * 19 * 9 + 19) parameters
    cfg = Config.fromfile(str(ROOT / 'configs/_base_/uda/deeplabv2red_r101-d8.py')).model.decode_head
    head = MODELS.build(dict(cfg, type='mmcontrast.DLV2Head'))
    assert sum(p.numel() for p in head.parameters()) == 2 * (2048 * 19 * 9 + 19)


# ---------------------------------------------------------------- item 3: the recipe's strong augmentation
def test_segmentor_default_strong_aug_is_daformers_and_jitters_80_percent():
    # dacs_transforms.py L56: jitter when U(0,1) > p, p = color_jitter_probability = 0.2.
    model = build()
    aug = model.strong_aug
    assert isinstance(aug, DAFormerStrongAug) and aug.color_jitter_probability == 0.2
    aug.blur = False
    img = torch.randn(2, 3, 8, 8)
    seed_all(0)
    rate = np.mean([not torch.equal(aug(img).img, img) for _ in range(1000)])
    assert abs(rate - 0.8) < 0.04, rate  # old behaviour: 0.212


# ---------------------------------------------------------------- item 4: the teacher
def test_teacher_labels_with_batch_statistics_and_averages_parameters_only():
    model = build()
    model.teacher.update_parameters(model.student)  # update 0: copy
    with torch.no_grad():
        for p in model.student.parameters():
            p.add_(0.1 * torch.randn_like(p))
    teacher = model.teacher.module
    running = {k: v.clone() for k, v in teacher.state_dict().items() if 'running_' in k}
    model.teacher.update_parameters(model.student)  # update 1: alpha = 1/2
    # dacs.py L104-115: parameters only; the buffers are the teacher's own.
    for key, value in teacher.state_dict().items():
        if 'running_' in key:
            assert torch.equal(value, running[key]), key
    student_params = dict(model.student.named_parameters())
    name, param = next(iter(teacher.named_parameters()))
    assert not torch.equal(param, student_params[name])

    # dacs.py L264-270: train mode, dropout and drop-path off -> BN normalises with the
    # target batch's statistics (the old eval-mode teacher used running statistics).
    img = torch.randn(2, 3, 32, 32) * 3 + 1
    logits = model.teacher.logits(img)
    reference = copy.deepcopy(teacher).train()
    for m in reference.modules():
        if isinstance(m, torch.nn.Dropout2d):
            m.eval()
    assert torch.allclose(logits, reference._forward(img), atol=1e-5)
    assert not torch.allclose(logits, copy.deepcopy(teacher).eval()._forward(img), atol=1e-3)
    logits_again = model.teacher.logits(img)  # deterministic: no dropout
    assert torch.allclose(logits, logits_again, atol=1e-5)
    changed = [k for k, v in teacher.state_dict().items() if 'running_mean' in k and not torch.equal(v, running[k])]
    assert changed, "the teacher's running statistics follow the target batches it sees"


# ---------------------------------------------------------------- item 5: pseudo-label weight and ClassMix
def test_pseudo_label_weight_is_one_per_batch():
    # dacs.py L274-278: sum(confident) / size over the whole batch, one scalar.
    logits = torch.zeros(2, 3, 4, 4)
    logits[0, 1] = 10.  # image 0: all confident, image 1: none
    pl = make_pseudo_labels(logits, threshold=0.968)
    assert pl.weight.unique().tolist() == [0.5]
    assert make_pseudo_labels(logits, quality='image').quality.tolist() == [1.0, 0.0]  # the named option


def _daformer_class_masks(labels: torch.Tensor) -> list:
    """dacs_transforms.py L90-106 (get_class_masks): batch-wide classes, ignore included."""
    masks = []
    for label in labels:
        classes = torch.unique(labels)
        n = classes.shape[0]
        choice = np.random.choice(n, int((n + n % 2) / 2), replace=False)
        masks.append(torch.isin(label, classes[torch.as_tensor(choice).long()]))
    return masks


def test_class_mix_samples_classes_as_daformer_with_the_ignore_quirk():
    gen = torch.Generator().manual_seed(0)
    labels = torch.randint(0, 5, (4, 8, 8), generator=gen)
    labels[0, :2] = 255
    labels[1] = labels[1].clamp(max=1)  # image 1 has 2 classes; batch has 5 + ignore
    np.random.seed(3)
    ours = DAFormerClassMix()(labels, 255)
    np.random.seed(3)
    theirs = torch.stack(_daformer_class_masks(labels))
    assert torch.equal(ours, theirs)
    # The quirk: 255 is a candidate, so over many draws source ignore pixels get pasted.
    np.random.seed(0)
    pasted_ignore = sum(bool(DAFormerClassMix()(labels, 255)[0][labels[0] == 255].any()) for _ in range(50))
    assert 0 < pasted_ignore < 50


# ---------------------------------------------------------------- item 6: the schedule
def _lrs_at(cfg: Config, iters) -> dict:
    param = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.AdamW([param], lr=cfg.optim_wrapper.optimizer.lr)
    schedulers = [PARAM_SCHEDULERS.build(copy.deepcopy(s), default_args=dict(optimizer=optimizer))
                  for s in cfg.param_scheduler]
    out = {}
    for it in range(max(iters) + 1):
        if it in iters:
            out[it] = optimizer.param_groups[0]['lr']
        optimizer.step()
        for s in schedulers:
            s.step()
    return out


def test_poly10warm_learning_rate_equals_daformers_formula():
    # poly10warm.py: mmcv PolyLrUpdaterHook, power 1, min 0, linear warm-up 1500 iters from
    # ratio 1e-6: lr(t) = 6e-5 * (1 - t / 40000) * (1 - (1 - t / 1500) * (1 - 1e-6)) for t < 1500.
    cfg = Config.fromfile(str(ROOT / 'configs/_base_/uda/uda_runtime_adamw-poly_40k.py'))

    def daformer(t: int) -> float:
        regular = 6e-5 * (1 - t / 40000)
        return regular if t >= 1500 else regular * (1 - (1 - t / 1500) * (1 - 1e-6))

    lrs = _lrs_at(cfg, [0, 750, 1500, 20000])
    for t, lr in lrs.items():
        assert abs(lr - daformer(t)) < 1e-9, (t, lr, daformer(t))
    assert abs(lrs[1500] - 5.775e-5) < 1e-9 and abs(lrs[20000] - 3e-5) < 1e-9  # ours was 6.00e-5 at 1500


def test_no_decay_keys_catch_the_mmseg1_mit_stage_norms():
    # DAFormer's custom_keys norm=dict(decay_mult=0) caught MiT's norm1..norm4 (mmseg 0.x names);
    # mmseg 1.x names them backbone.layers.<i>.2.
    cfg = Config.fromfile(str(ROOT / 'configs/_base_/uda/uda_runtime_adamw-poly_40k.py'))
    mit = dict(type='MixVisionTransformer', in_channels=3, embed_dims=8, num_stages=4, num_layers=[1, 1, 1, 1],
               num_heads=[1, 1, 1, 1], patch_sizes=[7, 3, 3, 3], sr_ratios=[8, 4, 2, 1], out_indices=(0, 1, 2, 3))
    seg = tiny_segmentor(aux=False)
    seg['backbone'] = mit
    seg['decode_head'] = dict(type='SegformerHead', in_channels=[8, 16, 32, 64], in_index=[0, 1, 2, 3], channels=16,
                              num_classes=4, norm_cfg=dict(type='BN', requires_grad=True), align_corners=False,
                              loss_decode=dict(type='CrossEntropyLoss', loss_weight=1.0))
    with DefaultScope.overwrite_default_scope('mmseg'):
        model = MODELS.build(dacs_cfg(segmentor=seg))
        wrapper = build_optim_wrapper(model, copy.deepcopy(cfg.optim_wrapper))
    groups = {id(p): g for g in wrapper.optimizer.param_groups for p in g['params']}
    params = dict(model.named_parameters())
    for i in range(4):
        assert groups[id(params[f'student.backbone.layers.{i}.2.weight'])]['weight_decay'] == 0
    assert groups[id(params['student.backbone.layers.0.0.projection.weight'])]['weight_decay'] == 0.01
    head = groups[id(params['student.decode_head.conv_seg.weight'])]
    assert head['lr'] == pytest.approx(6e-4)  # head x10


# ---------------------------------------------------------------- item 7: PCL as EHTDI
def test_ehtdi_views_labels_gradients_and_pixels():
    torch.manual_seed(0)
    b, c, h, w = 2, 4, 16, 16
    src_img, tgt_img = torch.randn(b, 3, h, w), torch.randn(b, 3, h, w)
    src_label = torch.randint(0, c, (b, h, w))
    mask = torch.zeros(b, h, w, dtype=torch.bool)
    mask[:, :, :8] = True  # left half pasted from the source
    conv = torch.nn.Conv2d(3, c, 1)
    seen = []

    def forward(img):  # decoder at 1/2 resolution, with gradient
        seen.append(img)
        return F.avg_pool2d(conv(img) * 4, 2), None

    strong = StrongViews(mix(mask, src_img, tgt_img) + 0.1, None, None, torch.zeros(b, dtype=torch.bool))
    mix_logits, _ = forward(strong.img)
    pseudo = make_pseudo_labels(torch.randn(b, c, h, w))
    step = UDAStep(src_img, tgt_img, src_label, pseudo, mask, strong, mix_logits, None, 255)
    views = EHTDIViews(threshold=0.95)(step, forward, None)
    # main.py L361-362: the weak view is ClassMixed with the same source classes, no photometric aug
    assert torch.equal(seen[-1], mix(mask, src_img, tgt_img))
    # L372/L401: both forwards carry gradient; the strong one is the mixed forward (shared)
    assert views.logits_weak.requires_grad and views.logits_strong is mix_logits
    # L410/L417/L451/L515: weak argmax where p > 0.95, source labels on pasted pixels, nearest down
    full = F.interpolate(views.logits_weak.detach(), size=(h, w), mode='bilinear', align_corners=False)
    conf, arg = full.softmax(1).max(1)
    expected = torch.where(mask, src_label, arg.masked_fill(conf <= 0.95, 255))
    assert torch.equal(views.label, expected[:, ::2, ::2])
    # L587-615: the pixel term runs over every decoder pixel
    assert views.valid is None


def test_pcl_configs_use_ehtdi_weights_scales_and_all_pixels():
    for path in REAL:
        if 'pcl' not in path.name:
            continue
        contrast = Config.fromfile(str(path)).model.contrast
        weight = 0.008 if 'synthia' in path.name else 0.01  # gta5.yaml / synthia.yaml NCE_weight
        assert contrast.views.type == 'mmcontrast.EHTDIViews' and contrast.views.threshold == 0.95
        assert contrast.losses.class_pcl.scale == 7.0 and contrast.losses.pixel_pcl.scale == 20.0  # L577, L615
        assert contrast.losses.class_pcl.loss_weight == weight == contrast.losses.pixel_pcl.loss_weight
        assert contrast.losses.pixel_pcl.max_pixels is None  # no sampling


# ---------------------------------------------------------------- item 8: evaluation
def test_real_configs_report_the_student_without_selection_on_val():
    # DAFormer: UDADecorator.simple_test runs the student; checkpoint_config keeps the last.
    for path in REAL:
        cfg = Config.fromfile(str(path))
        assert cfg.model.predict_on == 'student', path.name
        assert cfg.default_hooks.checkpoint.save_best is None, path.name
        assert cfg.val_cfg.type == 'mmcontrast.LabelledTeacherStudentValLoop', path.name


# ---------------------------------------------------------------- item 9: memory (sequential backward)
def _recording_wrapper(model) -> tuple:
    """An lr-0 optimiser wrapper that keeps the gradients it steps with."""
    wrapper = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.0))
    grads = {}
    step = wrapper.step

    def keep_grads(**kwargs):
        grads.update({n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None})
        step(**kwargs)

    wrapper.step = keep_grads
    return wrapper, grads


def _grads_after_step(backward: str, seed: int = 0, contrast=None) -> dict:
    model = build(backward=dict(type=backward), **(dict(contrast=contrast) if contrast else {}))
    wrapper, grads = _recording_wrapper(model)
    seed_all(seed)
    model.train_step(fake_batch(seed=seed), wrapper)
    return grads


def test_sequential_backward_gradients_equal_the_summed_form():
    # dacs.py L239, L252, L312: one backward per stage; the update sees the same gradients.
    contrast = dict(views=dict(type='mmcontrast.EHTDIViews'),
                    losses=dict(class_pcl=dict(type='mmcontrast.ClassPCLLoss', loss_weight=0.01),
                                pixel_pcl=dict(type='mmcontrast.PixelPCLLoss', loss_weight=0.01)))
    sequential = _grads_after_step('mmcontrast.SequentialBackward', contrast=contrast)
    summed = _grads_after_step('mmcontrast.SummedBackward', contrast=contrast)
    assert set(sequential) == set(summed) and len(summed) > 10
    for name, grad in summed.items():
        assert torch.allclose(sequential[name], grad, atol=1e-6, rtol=0), name


def test_sequential_backward_frees_the_source_graph_before_the_mixed_forward():
    model = build()
    wrapper = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.0))
    seen = {}
    forward = model._decode

    def spy(img, with_aux):  # the mixed forward: the source stage must already be backpropagated
        seen['grad_before_mix'] = model.student.decode_head.conv_seg.weight.grad is not None
        return forward(img, with_aux)

    model._decode = spy
    seed_all(0)
    model.train_step(fake_batch(), wrapper)
    assert seen['grad_before_mix']
    summed = build(backward=dict(type='mmcontrast.SummedBackward'))
    summed._decode = lambda img, with_aux: (seen.update(summed_grad=summed.student.decode_head.conv_seg.weight.grad
                                                         is not None), forward.__func__(summed, img, with_aux))[1]
    summed.train_step(fake_batch(), OptimWrapper(torch.optim.SGD(summed.parameters(), lr=0.0)))
    assert not seen['summed_grad']


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _ddp_worker(rank: int, world: int, port: int, backward: str, out: str) -> None:
    import torch.distributed as dist

    from mmcontrast.models.uda import UDADistributedDataParallel
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group('gloo', rank=rank, world_size=world)
    model = build(backward=dict(type=backward))
    ddp = UDADistributedDataParallel(model, device_ids=None, broadcast_buffers=False)
    wrapper, grads = _recording_wrapper(model)
    calls = []
    reduce = dist.all_reduce

    def counting_all_reduce(tensor, *args, **kwargs):
        calls.append(tensor.numel())
        return reduce(tensor, *args, **kwargs)

    dist.all_reduce = counting_all_reduce
    seed_all(rank)
    ddp.train_step(fake_batch(seed=rank), wrapper)
    dist.all_reduce = reduce
    torch.save(dict(grads=grads, calls=calls), f'{out}/rank{rank}.pth')
    dist.destroy_process_group()


@pytest.mark.dist
def test_ddp_sequential_backward_syncs_once_and_averages_the_ranks(tmp_path):
    # Gradients are synchronised once per iteration, after the last stage, and equal the mean of
    # the per-rank single-process gradients (rank r: data seed r, RNG seed r) to 1e-6.
    import torch.multiprocessing as mp
    for backward in ('mmcontrast.SequentialBackward', 'mmcontrast.SummedBackward'):
        out = tmp_path / backward.split('.')[-1]
        out.mkdir()
        ctx = mp.start_processes(_ddp_worker, args=(2, _free_port(), backward, str(out)), nprocs=2, join=False,
                                 start_method='fork')
        deadline = time.time() + 180
        while not ctx.join(timeout=5):
            if time.time() > deadline:
                for proc in ctx.processes:
                    proc.kill()
                pytest.fail('gloo workers did not finish in 180 s')
        ranks = [torch.load(out / f'rank{r}.pth', weights_only=True) for r in range(2)]
        single = [_grads_after_step(backward, seed=r) for r in range(2)]
        for rank in ranks:
            # one flag all-reduce + one flat gradient all-reduce (one dtype)
            assert len(rank['calls']) == 2, rank['calls']
            for name, grad in rank['grads'].items():
                expected = (single[0][name] + single[1][name]) / 2
                assert torch.allclose(grad, expected, atol=1e-6, rtol=0), (backward, name)
        assert set(ranks[0]['grads']) == set(single[0])
