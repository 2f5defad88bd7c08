# Adaptive Teacher (Li et al., CVPR 2022), facebookresearch/adaptive_teacher, as mmdet parts.
# References are to that repository: configs/faster_rcnn_VGG_cross_city.yaml (YAML), configs/Base-RCNN-C4.yaml,
# adapteacher/config.py, adapteacher/engine/trainer.py (trainer), adapteacher/modeling/meta_arch/{rcnn,vgg}.py,
# and detectron2's defaults where AT sets nothing. A dataset base must define source_dataset, target_dataset,
# target_val_dataset, val_ann_file and num_classes; the leaf config sets the AT pipelines.
_base_ = ['../default_runtime_det.py', './uda_det_loaders.py']

# Faster R-CNN on the stride-32 output of VGG16-BN (RPN and RoI heads on 'vgg4', YAML L14-20).
detector = dict(
    type='FasterRCNN',
    # ImageNet weights are torchvision's vgg16_bn (RGB, ImageNet mean/std). AT's code trains this
    # backbone from scratch with detectron2's BGR caffe mean and std 1: see the -scratch config.
    data_preprocessor=dict(
        type='DetDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True,
        # detectron2 pads a batch to its largest image only: Backbone.size_divisibility is 0 for AT's VGG
        pad_size_divisor=1),
    backbone=dict(
        type='mmcontrast.VGG',
        depth=16,
        with_bn=True,  # vgg.py L62: make_layers(cfgs['vgg16'], batch_norm=True)
        out_indices=(4, ),  # 'vgg4': 512 channels, stride 32 (vgg.py L66-80)
        frozen_stages=-1,
        norm_eval=False,  # nn.BatchNorm2d in train mode
        init_cfg=dict(type='Pretrained', checkpoint='https://download.pytorch.org/models/vgg16_bn-6c64b313.pth')),
    rpn_head=dict(
        type='RPNHead',
        in_channels=512,
        feat_channels=512,
        # detectron2 DefaultAnchorGenerator: sizes 32..512, ratios 0.5/1/2, offset 0, on the one stride-32 map
        anchor_generator=dict(type='AnchorGenerator', scales=[1, 2, 4, 8, 16], ratios=[0.5, 1.0, 2.0], strides=[32]),
        bbox_coder=dict(type='DeltaXYWHBBoxCoder', target_means=[.0, .0, .0, .0], target_stds=[1.0, 1.0, 1.0, 1.0]),
        loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=True, loss_weight=1.0),
        loss_bbox=dict(type='L1Loss', loss_weight=1.0)),  # smooth L1 with beta 0
    roi_head=dict(
        type='StandardRoIHead',
        bbox_roi_extractor=dict(
            type='SingleRoIExtractor',
            roi_layer=dict(type='RoIAlign', output_size=7, sampling_ratio=0, aligned=True),  # ROIAlignV2, 7x7
            out_channels=512,
            featmap_strides=[32]),
        bbox_head=dict(
            type='Shared2FCBBoxHead',  # FastRCNNConvFCHead, NUM_FC 2 (YAML L21-24), FC_DIM 1024
            in_channels=512,
            fc_out_channels=1024,
            roi_feat_size=7,
            num_classes=8,
            bbox_coder=dict(type='DeltaXYWHBBoxCoder', target_means=[0., 0., 0., 0.], target_stds=[0.1, 0.1, 0.2, 0.2]),
            reg_class_agnostic=False,
            loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0),
            loss_bbox=dict(type='L1Loss', loss_weight=1.0))),
    train_cfg=dict(
        rpn=dict(
            # detectron2 RPN matcher [0.3, 0.7] with low-quality matches at any IoU (1e-6 only stops a box
            # that overlaps no anchor from matching all of them)
            assigner=dict(
                type='MaxIoUAssigner',
                pos_iou_thr=0.7,
                neg_iou_thr=0.3,
                min_pos_iou=1e-6,
                match_low_quality=True,
                ignore_iof_thr=-1),
            sampler=dict(type='RandomSampler', num=256, pos_fraction=0.5, neg_pos_ub=-1, add_gt_as_proposals=False),
            allowed_border=-1,
            pos_weight=-1,
            debug=False),
        rpn_proposal=dict(nms_pre=12000, max_per_img=2000, nms=dict(type='nms', iou_threshold=0.7), min_bbox_size=0),
        rcnn=dict(
            assigner=dict(
                type='MaxIoUAssigner',
                pos_iou_thr=0.5,
                neg_iou_thr=0.5,
                min_pos_iou=0.5,
                match_low_quality=False,
                ignore_iof_thr=-1),
            sampler=dict(type='RandomSampler', num=512, pos_fraction=0.25, neg_pos_ub=-1, add_gt_as_proposals=True),
            pos_weight=-1,
            debug=False)),
    test_cfg=dict(
        rpn=dict(nms_pre=6000, max_per_img=1000, nms=dict(type='nms', iou_threshold=0.7), min_bbox_size=0),
        rcnn=dict(score_thr=0.05, nms=dict(type='nms', iou_threshold=0.5), max_per_img=100)))

model = dict(
    type='mmcontrast.DomainAdaptiveTeacher',
    detector=detector,
    data_preprocessor=dict(type='MultiBranchDataPreprocessor', data_preprocessor=detector['data_preprocessor']),
    semi_train_cfg=dict(
        freeze_teacher=True,
        sup_weight=1.0,  # SUP_LOSS_WEIGHT (YAML L48)
        unsup_weight=1.0,  # UNSUP_LOSS_WEIGHT (YAML L47)
        cls_pseudo_thr=0.8,  # BBOX_THRESHOLD (YAML L43); kept when score > 0.8 (trainer.py L433)
        pseudo_box_reg=False,  # loss_rpn_loc_pseudo and loss_box_reg_pseudo x 0 (trainer.py L635-637)
        min_pseudo_bbox_wh=(1e-2, 1e-2),
        burn_in_iters=20000,  # BURN_UP_STEP (YAML L45); then teacher := student (trainer.py L523-525)
        # Target images without pseudo-boxes train as background (roi_heads.py L172-176, trainer.py L588-607).
        empty_pseudo_images='background',
        # The teacher labels in train mode (trainer.py L547-553): target-batch BN statistics and the
        # training proposal settings of its RPN.
        teacher_bn_stats='target_batch',
        teacher_rpn_cfg=detector['train_cfg']['rpn_proposal'],
        source_branches=('sup', 'sup_weak')),  # label_data_q + label_data_k in one batch (trainer.py L595-601)
    semi_test_cfg=dict(predict_on='teacher'),
    domain_discriminator=dict(
        type='mmcontrast.ImageDomainDiscriminator',
        in_channels=512,
        feat_channels=(256, 128, 128),  # FCDiscriminator_img (rcnn.py L22-41)
        negative_slope=0.2,
        in_index=-1,  # DIS_TYPE 'vgg4' (YAML L49), the backbone output
        grl_coeff=1.0,  # GradReverse: grad.neg() (rcnn.py L45-52)
        loss_weight=0.1,  # DIS_LOSS_WEIGHT on loss_D_img_s and on loss_D_img_t (config.py L41, trainer.py L643-648)
        source_branch='sup_weak',  # weak source and weak target views (trainer.py L615-627, rcnn.py L175-204)
        target_branch='unsup_teacher'))

# 16 source + 16 target images per iteration (IMG_PER_BATCH_LABEL / _UNLABEL, YAML L30-31): 8 GPUs x (2 + 2).
batch_size = 4
train_dataloader = dict(batch_size=batch_size, sampler=dict(batch_size=batch_size))

max_iters = 100000  # MAX_ITER (YAML L29)
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=1000)  # EVAL_PERIOD (YAML L51)
val_cfg = dict(
    type='mmcontrast.LabelledTeacherStudentValLoop')  # AT evaluates student and teacher (trainer.py L767-783)
test_cfg = dict(type='TestLoop')
# SGD lr 0.04 (YAML L32), detectron2's momentum 0.9, weight decay 1e-4 and none on norm layers
# (WEIGHT_DECAY_NORM 0.0); no gradient clipping.
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.04, momentum=0.9, weight_decay=1e-4),
    paramwise_cfg=dict(norm_decay_mult=0.0))
# detectron2's linear warm-up (factor 1e-3 over 1000 iterations), then constant: WarmupTwoStageMultiStepLR with
# FACTOR_LIST all 1 (YAML L26-28, solver/lr_scheduler.py L37-48) never decays.
param_scheduler = [dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=1000)]
auto_scale_lr = dict(enable=False, base_batch_size=32)
# EMA_KEEP_RATE 0.9996 (YAML L46) over the whole state dict, BN buffers included (trainer.py L701-719).
custom_hooks = [dict(type='MeanTeacherHook', momentum=0.0004, interval=1, skip_buffer=False)]
default_hooks = dict(checkpoint=dict(by_epoch=False, interval=5000, max_keep_ckpts=3))  # detectron2 CHECKPOINT_PERIOD
log_processor = dict(by_epoch=False)
# The discriminator is idle during burn-in.
find_unused_parameters = True
