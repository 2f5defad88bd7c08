"""Adaptive Teacher parity: each test cites the reference file and line it checks.

AT = facebookresearch/adaptive_teacher at 5256463 (``git show HEAD:<file>`` of the fetched mirror):
    YAML     configs/faster_rcnn_VGG_cross_city.yaml
    C4       configs/Base-RCNN-C4.yaml
    config   adapteacher/config.py
    trainer  adapteacher/engine/trainer.py
    rcnn     adapteacher/modeling/meta_arch/rcnn.py
    vgg      adapteacher/modeling/meta_arch/vgg.py
    roih     adapteacher/modeling/roi_heads/roi_heads.py
    mapper   adapteacher/data/dataset_mapper.py
    dutils   adapteacher/data/detection_utils.py
    aug      adapteacher/data/transforms/augmentation_impl.py
d2 = detectron2/config/defaults.py (facebookresearch/detectron2 at 084acd0), for what AT leaves at
detectron2's defaults; cited by key. torchvision = torchvision/models/vgg.py (``make_layers``, ``cfgs['D']``).
Deviations that remain are listed in docs/uda_det.md, each with its reason.
"""
import copy
import math
import os.path as osp
from unittest import mock

import cv2
import numpy as np
import pytest
import torch
from mmcv.transforms import Compose
from mmengine.config import Config
from mmengine.logging import MessageHub
from mmengine.registry import init_default_scope

from mmcontrast.models.backbones import VGG
from mmcontrast.registry import MODELS, TRANSFORMS

REPO = osp.abspath(osp.join(osp.dirname(__file__), '..', '..', '..'))
AT_CONFIG = osp.join(REPO, 'configs', 'uda_det', 'adaptive-teacher_faster-rcnn_vgg16-bn_100k_city2foggy-all.py')
AT_SCRATCH = osp.join(REPO, 'configs', 'uda_det',
                      'adaptive-teacher_faster-rcnn_vgg16-bn-scratch_100k_city2foggy-all.py')


@pytest.fixture(scope='module')
def cfg() -> Config:
    return Config.fromfile(AT_CONFIG)


@pytest.fixture(autouse=True)
def _iter_zero():
    MessageHub.get_current_instance().update_info('iter', 0)


# ------------------------------------------------------------------ backbone
def torchvision_vgg16_bn_keys() -> dict:
    """Key -> shape of torchvision's vgg16_bn state dict (``make_layers(cfgs['D'], batch_norm=True)``:
    conv, BatchNorm2d, ReLU per number and one MaxPool2d per 'M'; ``classifier`` Linear layers at 0, 3, 6)."""
    keys, index, in_ch = {}, 0, 3
    for v in [64, 64, 'M', 128, 128, 'M', 256, 256, 256, 'M', 512, 512, 512, 'M', 512, 512, 512, 'M']:
        if v == 'M':
            index += 1
            continue
        keys[f'features.{index}.weight'] = (v, in_ch, 3, 3)
        keys[f'features.{index}.bias'] = (v, )
        for name in ('weight', 'bias', 'running_mean', 'running_var'):
            keys[f'features.{index + 1}.{name}'] = (v, )
        keys[f'features.{index + 1}.num_batches_tracked'] = ()
        index, in_ch = index + 3, v
    for i, (out, inp) in zip((0, 3, 6), ((4096, 512 * 7 * 7), (4096, 4096), (1000, 4096))):
        keys[f'classifier.{i}.weight'], keys[f'classifier.{i}.bias'] = (out, inp), (out, )
    return keys


def test_vgg16_bn_layout_stages_and_torchvision_checkpoint(tmp_path):
    # vgg L35 cfgs['vgg16'], L62 batch_norm=True; L76-80 stages = layers [0:7], [7:14], [14:24], [24:34], [34:];
    # L66-67 channels 64/128/256/512/512, strides 2..32. The ImageNet checkpoint is torchvision's vgg16_bn.
    backbone = VGG(depth=16, with_bn=True, out_indices=(0, 1, 2, 3, 4))
    assert backbone.stage_ranges == [(0, 7), (7, 14), (14, 24), (24, 34), (34, 44)]
    outs = backbone(torch.randn(1, 3, 64, 96))
    assert [o.shape[1] for o in outs] == [64, 128, 256, 512, 512]
    assert [64 // o.shape[2] for o in outs] == [2, 4, 8, 16, 32]

    expected = torchvision_vgg16_bn_keys()
    state = backbone.state_dict()
    assert {k: tuple(v.shape) for k, v in state.items()} == {k: v for k, v in expected.items() if 'features' in k}
    # A checkpoint in torchvision's layout loads through init_cfg, its classifier ignored.
    gen = torch.Generator().manual_seed(0)
    checkpoint = {k: (torch.randn(shape, generator=gen) if shape else torch.tensor(7)) for k, shape in expected.items()}
    torch.save(checkpoint, tmp_path / 'vgg16_bn.pth')
    pretrained = VGG(init_cfg=dict(type='Pretrained', checkpoint=str(tmp_path / 'vgg16_bn.pth')))
    pretrained.init_weights()
    for key, value in pretrained.state_dict().items():
        torch.testing.assert_close(value, checkpoint[key], msg=key)


def test_vgg_default_init_is_ats_from_scratch_init():
    # vgg L108-119: kaiming_normal_(fan_out, relu) and bias 0 for convs, BN weight 1 and bias 0.
    torch.manual_seed(0)
    backbone = VGG()
    backbone.init_weights()
    conv = backbone.features[24]  # 512 x 256 x 3 x 3
    assert abs(conv.weight.std().item() - math.sqrt(2.0 / (512 * 9))) < 0.05 * math.sqrt(2.0 / (512 * 9))
    assert torch.all(conv.bias == 0)
    bn = backbone.features[25]
    assert torch.all(bn.weight == 1) and torch.all(bn.bias == 0)


# ------------------------------------------------------------------ recipe values
def test_schedule_batch_optimiser_and_evaluation(cfg):
    assert cfg.train_cfg.max_iters == 100000  # YAML L29 MAX_ITER
    assert cfg.model.semi_train_cfg.burn_in_iters == 20000  # YAML L45 BURN_UP_STEP
    # YAML L30-31 IMG_PER_BATCH_LABEL / UNLABEL 16: 8 GPUs x 4 images, half source (source_ratio [1, 1])
    loader = cfg.train_dataloader
    assert loader.batch_size * 8 == 32 and loader.sampler.source_ratio == [1, 1]
    assert cfg.optim_wrapper.optimizer == dict(type='SGD', lr=0.04, momentum=0.9, weight_decay=1e-4)  # YAML L32; d2
    assert cfg.optim_wrapper.paramwise_cfg.norm_decay_mult == 0.0  # d2 SOLVER.WEIGHT_DECAY_NORM = 0.0
    assert 'clip_grad' not in cfg.optim_wrapper  # d2 SOLVER.CLIP_GRADIENTS.ENABLED = False
    # d2 SOLVER.WARMUP_FACTOR 1/1000, WARMUP_ITERS 1000, linear; then constant: YAML L26-28 FACTOR_LIST (1, 1, 1, 1, 1)
    assert cfg.param_scheduler == [dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=1000)]
    hook, = [h for h in cfg.custom_hooks if h.type == 'MeanTeacherHook']
    # YAML L46 EMA_KEEP_RATE 0.9996, L44 TEACHER_UPDATE_ITER 1; trainer L709-719 averages the whole state dict
    assert (hook.momentum, hook.interval, hook.skip_buffer) == (0.0004, 1, False)
    assert cfg.train_cfg.val_interval == 1000  # YAML L51 EVAL_PERIOD
    # trainer L767-783: AT evaluates the student and the teacher; ours labels each per-class table
    assert cfg.val_cfg.type == 'mmcontrast.LabelledTeacherStudentValLoop'
    assert cfg.val_evaluator.classwise is True
    assert cfg.train_dataloader.dataset.datasets[1].ann_file.endswith('foggy_cityscapes_all-densities_train_8cls.json')


def test_semi_supervised_values(cfg):
    semi = cfg.model.semi_train_cfg
    assert semi.cls_pseudo_thr == 0.8  # YAML L43 BBOX_THRESHOLD; kept when score > thr (trainer L433)
    assert (semi.sup_weight, semi.unsup_weight) == (1.0, 1.0)  # YAML L47-48
    assert semi.pseudo_box_reg is False  # trainer L635-637: loss_rpn_loc_pseudo, loss_box_reg_pseudo x 0
    assert semi.empty_pseudo_images == 'background'  # roih L172-176: an image without boxes samples background only
    assert semi.teacher_bn_stats == 'target_batch'  # trainer L547-553: the teacher is never put in eval mode
    assert semi.teacher_rpn_cfg == cfg.model.detector.train_cfg.rpn_proposal  # ... so its RPN uses the train topk
    assert tuple(semi.source_branches) == ('sup', 'sup_weak')  # trainer L595-601: label_data_q + label_data_k


def test_detector_values(cfg):
    det = cfg.model.detector
    assert det.backbone.type == 'mmcontrast.VGG' and det.backbone.depth == 16 and det.backbone.with_bn  # vgg L62
    assert det.backbone.out_indices == (4, ) and not det.backbone.norm_eval  # YAML L15, L20: 'vgg4'
    assert det.backbone.init_cfg.checkpoint.endswith('vgg16_bn-6c64b313.pth')  # torchvision's ImageNet vgg16_bn
    # rcnn L128-140 (ImageList.from_tensors(..., backbone.size_divisibility)): detectron2's Backbone has
    # size_divisibility 0 and AT's VGG keeps it, so a batch is padded to its largest image only
    assert det.data_preprocessor.pad_size_divisor == 1
    anchors = det.rpn_head.anchor_generator
    # d2 ANCHOR_GENERATOR.SIZES [[32..512]], ASPECT_RATIOS [[0.5, 1, 2]], OFFSET 0.0 on the stride-32 map
    assert (anchors.scales, anchors.ratios, anchors.strides) == ([1, 2, 4, 8, 16], [0.5, 1.0, 2.0], [32])
    assert anchors.get('center_offset', 0.0) == 0.0
    rpn = det.train_cfg.rpn
    # d2 RPN.IOU_THRESHOLDS [0.3, 0.7], BATCH_SIZE_PER_IMAGE 256, POSITIVE_FRACTION 0.5, BOUNDARY_THRESH -1
    assert (rpn.assigner.neg_iou_thr, rpn.assigner.pos_iou_thr, rpn.assigner.match_low_quality) == (0.3, 0.7, True)
    assert (rpn.sampler.num, rpn.sampler.pos_fraction, rpn.allowed_border) == (256, 0.5, -1)
    # d2 RPN.PRE/POST_NMS_TOPK_TRAIN 12000/2000, C4 L4-5 PRE/POST_NMS_TOPK_TEST 6000/1000, NMS_THRESH 0.7
    assert (det.train_cfg.rpn_proposal.nms_pre, det.train_cfg.rpn_proposal.max_per_img) == (12000, 2000)
    assert (det.test_cfg.rpn.nms_pre, det.test_cfg.rpn.max_per_img, det.test_cfg.rpn.nms.iou_threshold) == (6000, 1000,
                                                                                                            0.7)
    rcnn = det.train_cfg.rcnn
    # d2 ROI_HEADS.IOU_THRESHOLDS [0.5], BATCH_SIZE_PER_IMAGE 512, POSITIVE_FRACTION 0.25, PROPOSAL_APPEND_GT True
    assert (rcnn.assigner.pos_iou_thr, rcnn.assigner.neg_iou_thr) == (0.5, 0.5)
    assert (rcnn.sampler.num, rcnn.sampler.pos_fraction, rcnn.sampler.add_gt_as_proposals) == (512, 0.25, True)
    head = det.roi_head.bbox_head
    # YAML L21-24: FastRCNNConvFCHead, NUM_FC 2, POOLER_RESOLUTION 7; d2 FC_DIM 1024, ROIAlignV2 (aligned)
    assert (head.type, head.fc_out_channels, head.roi_feat_size) == ('Shared2FCBBoxHead', 1024, 7)
    assert det.roi_head.bbox_roi_extractor.roi_layer.aligned is True
    assert det.roi_head.bbox_roi_extractor.featmap_strides == [32]
    # d2 ROI_BOX_HEAD.BBOX_REG_WEIGHTS (10, 10, 5, 5) = 1 / target_stds; SMOOTH_L1_BETA 0 (L1); not class-agnostic
    assert head.bbox_coder.target_stds == [0.1, 0.1, 0.2, 0.2] and head.loss_bbox.type == 'L1Loss'
    assert head.reg_class_agnostic is False
    # d2 ROI_HEADS.SCORE_THRESH_TEST 0.05, NMS_THRESH_TEST 0.5, TEST.DETECTIONS_PER_IMAGE 100
    assert (det.test_cfg.rcnn.score_thr, det.test_cfg.rcnn.nms.iou_threshold,
            det.test_cfg.rcnn.max_per_img) == (0.05, 0.5, 100)


def test_discriminator_head_grl_weights_and_inputs(cfg):
    init_default_scope('mmdet')
    disc = MODELS.build(cfg.model.domain_discriminator)
    convs = [m for m in disc.layers if isinstance(m, torch.nn.Conv2d)]
    acts = [m for m in disc.layers if not isinstance(m, torch.nn.Conv2d)]
    # rcnn L26-29: conv1 C->256, conv2 256->128, conv3 128->128, classifier 128->1, all 3x3 padding 1;
    # rcnn L31: LeakyReLU(0.2) after each of the three
    assert [(c.in_channels, c.out_channels) for c in convs] == [(512, 256), (256, 128), (128, 128), (128, 1)]
    assert all(c.kernel_size == (3, 3) and c.padding == (1, 1) for c in convs)
    assert len(acts) == 3 and all(isinstance(a, torch.nn.LeakyReLU) and a.negative_slope == 0.2 for a in acts)
    # rcnn L45-52: GradReverse flips the gradient, no scale; rcnn L187-196: BCE, source 0, target 1, mean;
    # config L41 DIS_LOSS_WEIGHT 0.1 on loss_D_img_s and on loss_D_img_t (trainer L643-648)
    assert disc.grl_coeff == 1.0 and disc.loss_weight == 0.1
    feats = torch.randn(2, 512, 3, 4, requires_grad=True)
    losses = disc.loss([feats], [feats])
    logits = disc.layers(feats)
    torch.testing.assert_close(
        losses['loss_adv_source'],
        0.1 * torch.nn.functional.binary_cross_entropy_with_logits(logits, torch.zeros_like(logits)))
    torch.testing.assert_close(
        losses['loss_adv_target'],
        0.1 * torch.nn.functional.binary_cross_entropy_with_logits(logits, torch.ones_like(logits)))
    # DIS_TYPE 'vgg4' (YAML L49) is the backbone output; rcnn L180-193 with trainer L615-627: weak source
    # (label_data_k) and weak target (unlabel_data_k) views
    assert (disc.source_branch, disc.target_branch, disc.in_index) == ('sup_weak', 'unsup_teacher', -1)


# ------------------------------------------------------------------ data views
def test_strong_augmentation_parameters(cfg):
    # dutils L22-43 and aug L15-21: ColorJitter(0.4, 0.4, 0.4, 0.1) p0.8, RandomGrayscale p0.2,
    # GaussianBlur sigma U(0.1, 2.0) p0.5, then RandomErasing (p, scale, ratio) x3 with value='random'
    strong = cfg.at_strong_photometric
    jitter, gray, blur, *erasing = strong
    assert jitter.prob == 0.8 and jitter.transforms == [
        dict(type='mmcontrast.ColorJitter', brightness=0.4, contrast=0.4, saturation=0.4, hue=0.1)
    ]
    assert gray == dict(type='mmcontrast.RandomGrayscale', prob=0.2)
    assert blur.prob == 0.5 and blur.transforms == [dict(type='mmcontrast.GaussianBlur', sigma_min=0.1, sigma_max=2.0)]
    assert [(e.prob, e.scale, e.ratio, e.value) for e in erasing] == [(0.7, (0.05, 0.2), (0.3, 3.3), 'random'),
                                                                      (0.5, (0.02, 0.2), (0.1, 6), 'random'),
                                                                      (0.3, (0.02, 0.2), (0.05, 8), 'random')]
    # C4 L17 MIN_SIZE_TRAIN (600,); d2 MAX_SIZE_TRAIN 1333, MIN/MAX_SIZE_TEST 800/1333, RANDOM_FLIP horizontal
    assert cfg.at_train_scale == (1333, 600) and cfg.at_test_scale == (1333, 800)


def test_torchvision_random_erasing_semantics():
    """torchvision RandomErasing: one rectangle with probability p, area U(scale) of the image, log-uniform
    aspect ratio; value='random' is N(0, 1) noise on the [0, 1] tensor that ToPILImage turns into bytes."""
    erase = TRANSFORMS.build(
        dict(type='mmcontrast.TorchvisionRandomErasing', prob=0.7, scale=(0.05, 0.2), ratio=(0.3, 3.3), value='random'))
    np.random.seed(0)
    hits, areas, aspects = 0, [], []
    for _ in range(400):
        img = np.full((60, 100, 3), 7, dtype=np.uint8)
        out = erase(dict(img=img))['img']
        changed = np.argwhere((out != 7).any(axis=2))
        if len(changed):
            hits += 1
            (y0, x0), (y1, x1) = changed.min(0), changed.max(0)
            areas.append((y1 - y0 + 1) * (x1 - x0 + 1) / 6000)
            aspects.append((y1 - y0 + 1) / (x1 - x0 + 1))
    assert abs(hits / 400 - 0.7) < 0.07
    assert 0.04 < min(areas) and max(areas) < 0.23
    assert 0.25 < min(aspects) and max(aspects) < 3.8
    # noise * 255 truncated modulo 256 (ToPILImage's byte conversion): close to uniform over [0, 255]
    np.random.seed(1)
    box = TRANSFORMS.build(
        dict(type='mmcontrast.TorchvisionRandomErasing', prob=1.0, scale=(0.5, 0.5), ratio=(1, 1), value='random'))
    out = box(dict(img=np.zeros((100, 100, 3), dtype=np.uint8)))['img']
    values = out[out.any(axis=2)].astype(float)
    assert abs(values.mean() - 127) < 5 and values.std() > 65


def test_strong_views_share_the_weak_geometry(cfg, tmp_path):
    # mapper L92-155: one geometric augmentation, the strong image is the weak one + photometric ops
    # (same size, same boxes); source and target alike (one mapper for both, trainer L377-379)
    init_default_scope('mmdet')
    img = (np.random.RandomState(0).rand(128, 256, 3) * 255).astype(np.uint8)
    cv2.imwrite(str(tmp_path / 'a.png'), img)
    target = Compose(copy.deepcopy(cfg.at_unsup_pipeline))
    differ = 0
    for seed in range(4):
        np.random.seed(seed)
        out = target(dict(img_path=str(tmp_path / 'a.png'), img_id=0))
        weak, strong = out['data_samples']['unsup_teacher'], out['data_samples']['unsup_student']
        assert weak.img_shape == strong.img_shape == (600, 1200)  # shorter side 600
        np.testing.assert_allclose(weak.homography_matrix, strong.homography_matrix)
        assert weak.flip == strong.flip
        differ += not torch.equal(out['inputs']['unsup_teacher'], out['inputs']['unsup_student'])
    assert differ >= 3  # colour jitter alone has p 0.8
    source = Compose(copy.deepcopy(cfg.at_sup_pipeline))
    out = source(
        dict(
            img_path=str(tmp_path / 'a.png'),
            img_id=0,
            instances=[dict(bbox=[10, 20, 60, 80], bbox_label=0, ignore_flag=0)]))
    sup, sup_weak = out['data_samples']['sup'], out['data_samples']['sup_weak']
    torch.testing.assert_close(sup.gt_instances.bboxes.tensor, sup_weak.gt_instances.bboxes.tensor)
    np.testing.assert_allclose(sup.homography_matrix, sup_weak.homography_matrix)


# ------------------------------------------------------------------ one training step of the recipe
def tiny_at_model(cfg: Config, **semi):
    """The recipe's model with VGG11-BN (same stage layout, fewer convs) and 2 classes, no download."""
    model_cfg = copy.deepcopy(cfg.model)
    model_cfg.detector.backbone.update(depth=11, init_cfg=None)
    model_cfg.detector.roi_head.bbox_head.num_classes = 2
    model_cfg.detector.roi_head.bbox_head.fc_out_channels = 64
    model_cfg.semi_train_cfg.update(burn_in_iters=0, **semi)
    init_default_scope('mmdet')
    torch.manual_seed(0)
    return MODELS.build(model_cfg)


def at_batch(model, seed: int = 0):
    import sys
    sys.path.insert(0, osp.dirname(__file__))
    from uda_det_families import raw_batch
    return model.data_preprocessor(raw_batch(seed=seed, source_branches=('sup', 'sup_weak')), True)


def test_one_step_of_the_recipe(cfg):
    model = tiny_at_model(cfg, cls_pseudo_thr=0.3).train()
    data = at_batch(model)
    inputs, samples = data['inputs'], data['data_samples']
    disc = model.domain_discriminator
    seen, sup_batches = {}, []
    real_loss, real_detection = disc.loss, model._detection_loss

    def disc_spy(source_feats, target_feats):
        seen['source'], seen['target'] = source_feats[-1].detach(), target_feats[-1].detach()
        return real_loss(source_feats, target_feats)

    def detection_spy(feats, batch_samples):
        sup_batches.append(len(batch_samples))
        return real_detection(feats, batch_samples)

    teacher_bn_modes, rpn_cfgs = [], []
    real_rpn = model.teacher.rpn_head.predict_by_feat

    def rpn_spy(*args, **kwargs):
        teacher_bn_modes.append(model.teacher.backbone.features[1].training)
        rpn_cfgs.append(kwargs['cfg'])
        return real_rpn(*args, **kwargs)

    with mock.patch.object(disc, 'loss', side_effect=disc_spy), \
            mock.patch.object(model, '_detection_loss', side_effect=detection_spy), \
            mock.patch.object(model.teacher.rpn_head, 'predict_by_feat', side_effect=rpn_spy):
        losses = model.loss(inputs, samples)
    # both source views in one supervised batch (trainer L595-601); then the strong target view
    assert sup_batches == [4, 2]
    assert {'loss_adv_source', 'loss_adv_target', 'unsup_loss_cls', 'unsup_loss_rpn_cls'} <= set(losses)
    assert not [k for k in losses if k.startswith('unsup') and 'bbox' in k]
    # the teacher labelled in train mode with the training proposal settings (trainer L547-553)
    assert teacher_bn_modes == [True] and rpn_cfgs[0].max_per_img == 2000
    # the discriminator saw the student's backbone output of the weak source and weak target views
    # (rcnn L180-193, trainer L615-627); in train mode BN uses the batch statistics, so recomputing matches
    with torch.no_grad():
        torch.testing.assert_close(seen['source'], model.student.extract_feat(inputs['sup_weak'])[-1])
        torch.testing.assert_close(seen['target'], model.student.extract_feat(inputs['unsup_teacher'])[-1])
    total = model.parse_losses(losses)[0]
    total.backward()
    assert model.domain_discriminator.layers[0].weight.grad.abs().sum() > 0


@pytest.mark.parametrize('mode,trained', [('background', True), ('skip_batch', False)])
def test_target_images_without_pseudo_boxes_train_as_background(cfg, mode, trained):
    # roih L172-176 with trainer L588-607: an image without pseudo-boxes still gets its sampled proposals as
    # background in loss_cls_pseudo (AT); mmdet's SemiBaseDetector switches the loss off instead.
    model = tiny_at_model(cfg, cls_pseudo_thr=1.0, empty_pseudo_images=mode).train()
    data = at_batch(model)
    losses = model.loss(data['inputs'], data['data_samples'])
    assert losses['unsup_num_pseudo_boxes'] == 0
    assert (losses['unsup_loss_cls'].item() > 0) == trained


def test_scratch_config_is_ats_code_path():
    # YAML and C4 set no MODEL.WEIGHTS (d2 default ''): AT trains VGG16-BN from scratch (vgg L64, L108-119);
    # d2 PIXEL_MEAN [103.53, 116.28, 123.675], PIXEL_STD [1, 1, 1], INPUT.FORMAT 'BGR'
    scratch = Config.fromfile(AT_SCRATCH)
    assert scratch.model.detector.backbone.init_cfg is None
    for pre in (scratch.model.detector.data_preprocessor, scratch.model.data_preprocessor.data_preprocessor):
        assert (pre.mean, pre.std, pre.bgr_to_rgb) == ([103.53, 116.28, 123.675], [1.0, 1.0, 1.0], False)
