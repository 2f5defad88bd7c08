"""Tiny segmentor configs and fabricated multi-branch batches for the UDA seg tests."""
import copy
import random
from typing import Dict, Tuple

import numpy as np
import torch
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

NUM_CLASSES = 4


def tiny_segmentor(num_classes: int = NUM_CLASSES, aux: bool = True, head: str = 'FCNHead') -> dict:
    """A few-kB ResNetV1c-18 (8 base channels, dilated) + FCN/DLV2 head."""
    norm_cfg = dict(type='BN', requires_grad=True)
    backbone = dict(
        type='ResNetV1c', depth=18, stem_channels=8, base_channels=8, num_stages=4, out_indices=(0, 1, 2, 3),
        dilations=(1, 1, 2, 4), strides=(1, 2, 1, 1), norm_cfg=norm_cfg, contract_dilation=True)
    if head == 'FCNHead':
        decode_head = dict(type='FCNHead', in_channels=64, in_index=3, channels=16, num_convs=1, concat_input=False,
                           dropout_ratio=0.1, num_classes=num_classes, norm_cfg=norm_cfg, align_corners=False,
                           loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0))
    else:
        decode_head = dict(type='mmcontrast.DLV2Head', in_channels=64, in_index=3, dilations=(1, 2),
                           num_classes=num_classes, align_corners=False,
                           loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0))
    cfg = dict(
        type='EncoderDecoder',
        data_preprocessor=dict(type='SegDataPreProcessor', mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375],
                               bgr_to_rgb=True, pad_val=0, seg_pad_val=255, size=(32, 32)),
        backbone=backbone, decode_head=decode_head, train_cfg=dict(), test_cfg=dict(mode='whole'))
    if aux:
        cfg['auxiliary_head'] = dict(type='FCNHead', in_channels=32, in_index=2, channels=8, num_convs=1,
                                     concat_input=False, dropout_ratio=0.1, num_classes=num_classes,
                                     norm_cfg=norm_cfg, align_corners=False,
                                     loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=0.4))
    return cfg


def dacs_cfg(**kwargs) -> dict:
    cfg = dict(type='mmcontrast.DACSSegmentor', segmentor=tiny_segmentor(), pseudo_label=dict(threshold=0.3))
    cfg.update(copy.deepcopy(kwargs))
    return cfg


def fake_batch(batch_size: int = 2, size: int = 32, num_classes: int = NUM_CLASSES, seed: int = 0) -> dict:
    """A raw (uint8, BGR) multi-branch batch as UDADataset + pseudo_collate produce it."""
    gen = torch.Generator().manual_seed(seed)
    inputs, samples = dict(source=[], target=[]), dict(source=[], target=[])
    for branch in ('source', 'target'):
        for _ in range(batch_size):
            inputs[branch].append(torch.randint(0, 256, (3, size, size), generator=gen, dtype=torch.uint8))
            sample = SegDataSample(metainfo=dict(img_shape=(size, size), ori_shape=(size, size)))
            if branch == 'source':
                # 8x8 blocks of one class, like objects (and like a feature cell at stride 8)
                label = torch.randint(0, num_classes, (1, size // 8, size // 8), generator=gen)
                label = label.repeat_interleave(8, 1).repeat_interleave(8, 2)
                label[:, :2] = 255
                sample.gt_sem_seg = PixelData(data=label)
            samples[branch].append(sample)
    return dict(inputs=inputs, data_samples=samples)


def float64_step_grads(model: torch.nn.Module, seed: int = 1) -> Tuple[dict, Dict[str, torch.Tensor]]:
    """One loss + backward of a DACSSegmentor in float64 on ``fake_batch(seed)``, every RNG seeded.

    Returns:
        tuple: The losses and the student's gradients (name -> tensor), for comparing two
        forms of a step on the same draws.
    """
    model = model.double().train()
    data = model.data_preprocessor(fake_batch(seed=seed), training=True)
    data['inputs'] = {k: v.double() for k, v in data['inputs'].items()}
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # ClassMix and the strong augmentation draw from all three
    losses = model(**data, mode='loss')
    model.parse_losses(losses)[0].backward()
    return losses, {n: p.grad.clone() for n, p in model.student.named_parameters() if p.grad is not None}
