"""HRDA's multi-resolution segmentor and scale-attention head (Hoyer et al., ECCV 2022) on mmseg 1.x.

Inference as HRDA's (lhoyer/HRDA, ``mmseg/models/segmentors/hrda_encoder_decoder.py`` and
``mmseg/models/decode_heads/hrda_head.py``; MIC's copies only add training flags): the image
is encoded at every scale of ``scales`` (``[0.5, 1]``: a low-resolution *context* view and the
full-resolution *detail* view); the detail view is cut into overlapping ``hr_crop_size`` crops
(stride half a crop) whose logits are stitched back and averaged. A scale-attention head (a
second single-scale head, on the context features) predicts per-class weights ``a``; the fused
logits are ``a * detail + up(1 - a) * context``. Whole test images go through mmseg's
sliding-window inference (HRDA: 1024 x 1024 windows, stride 512).

Training HRDA (random detail crops, the detail loss, slide pseudo-labels, MIC's masking) is not
implemented: these classes load and evaluate the published HRDA and MIC checkpoints
(``tools/model_converters/daformer_to_mmcontrast.py``) and export them to stock inference;
their ``loss`` raises.
"""
import copy
import inspect
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.models.segmentors import EncoderDecoder
from mmseg.models.utils import resize
from mmseg.utils import ConfigType, OptConfigType, OptMultiConfig, OptSampleList, SampleList
from torch import Tensor

from mmcontrast.registry import MODELS

_NOT_TRAINED = ('HRDA training (random detail crops, the detail loss, slide pseudo-labels, MIC masking) is not '
                'implemented in mmcontrast; {cls} evaluates and exports the published HRDA/MIC checkpoints '
                '(docs/published_checkpoints.md). Train a DAFormer config instead.')
# Output stride of the single-scale heads HRDA supports (hrda_head.py L49-68).
_OUTPUT_STRIDE = {'DAFormerHead': 4, 'DLV2Head': 8}
# Arguments of mmseg's BaseDecodeHead: the rest of a head config belongs to the single-scale head.
_BASE_HEAD_ARGS = set(inspect.signature(BaseDecodeHead.__init__).parameters) - {'self'}


def scale_box(box: Sequence[int], scale: float) -> Tuple[int, int, int, int]:
    """``(y1, y2, x1, x2)`` divided by ``scale`` and truncated (hrda_head.py L19-29)."""
    return tuple(int(v / scale) for v in box)


@MODELS.register_module()
class HRDAHead(BaseDecodeHead):
    """HRDA's head: one single-scale head applied at both scales, fused by a scale attention.

    Args:
        single_scale_head (str): Type of the single-scale head, ``'mmcontrast.DAFormerHead'``
            (output stride 4) or ``'mmcontrast.DLV2Head'`` (output stride 8).
        lr_loss_weight (float): Context loss weight (training only). Defaults to 0.
        hr_loss_weight (float): Detail loss weight (training only; HRDA: 0.1). Defaults to 0.
        scales (Sequence[float]): Sorted scales; set by :class:`HRDAEncoderDecoder`.
            Defaults to (1, ).
        attention_embed_dim (int): Channels of the attention head. Defaults to 256.
        attention_classwise (bool): One attention map per class (HRDA) or one for all.
            Defaults to True.
        enable_hr_crop (bool): Training crops of the detail view; set by the segmentor.
            Defaults to False.
        hr_slide_inference (bool): The detail view arrives as stitched crops; set by the
            segmentor. Defaults to True.
        fixed_attention (float, optional): A constant attention instead of the learned one.
            Defaults to None.
        **kwargs: The single-scale head's config (``in_channels``, ``channels``,
            ``num_classes``, ``embed_dims``, ``fusion``, ...). The attention head is the
            same head with ``channels = embed_dims = attention_embed_dim`` and, for
            DAFormer's ASPP fusion, a 1x1 conv fusion (hrda_head.py L49-58).
    """

    def __init__(self,
                 single_scale_head: str,
                 lr_loss_weight: float = 0.,
                 hr_loss_weight: float = 0.,
                 scales: Sequence[float] = (1, ),
                 attention_embed_dim: int = 256,
                 attention_classwise: bool = True,
                 enable_hr_crop: bool = False,
                 hr_slide_inference: bool = True,
                 fixed_attention: Optional[float] = None,
                 **kwargs) -> None:
        name = str(single_scale_head).split('.')[-1]
        if name not in _OUTPUT_STRIDE:
            raise ValueError(f'HRDAHead supports single_scale_head {sorted(_OUTPUT_STRIDE)} (as HRDA), got '
                             f'{single_scale_head!r}')
        head_cfg = copy.deepcopy(kwargs)
        attn_cfg = copy.deepcopy(kwargs)
        base_args = {k: v for k, v in kwargs.items() if k in _BASE_HEAD_ARGS}
        base_args['init_cfg'] = None
        if name == 'DAFormerHead':
            attn_cfg['channels'] = attention_embed_dim
            attn_cfg['embed_dims'] = attention_embed_dim
            if attn_cfg.get('fusion', 'aspp') == 'aspp':
                attn_cfg['fusion'] = 'conv1'  # 1x1 ConvModule with the same norm and ReLU
            base_args['input_transform'] = 'multiple_select'
        else:  # DLV2Head has no channels of its own
            base_args['channels'] = 1
        super().__init__(**base_args)
        # HRDAHead itself classifies nothing: its two heads do (hrda_head.py L70-71).
        del self.conv_seg
        del self.dropout
        self.os = _OUTPUT_STRIDE[name]
        scope = 'mmcontrast.' if '.' not in str(single_scale_head) else ''
        self.head = MODELS.build(dict(head_cfg, type=f'{scope}{single_scale_head}'))
        if not attention_classwise:
            attn_cfg['num_classes'] = 1
        if fixed_attention is None:
            self.scale_attention = MODELS.build(dict(attn_cfg, type=f'{scope}{single_scale_head}'))
        else:
            self.scale_attention = None
            self.fixed_attention = fixed_attention
        self.lr_loss_weight = lr_loss_weight
        self.hr_loss_weight = hr_loss_weight
        self.scales = list(scales)
        self.enable_hr_crop = enable_hr_crop
        self.hr_slide_inference = hr_slide_inference

    def decode_hr(self, inp: Union[Dict, List[Tensor]], batch_size: int) -> Tensor:
        """Detail logits: the crops' logits stitched and averaged (hrda_head.py L106-137)."""
        if not (isinstance(inp, dict) and 'boxes' in inp):
            return self.head(inp)
        features = inp['features']
        boxes = [scale_box(box, self.os) for box in inp['boxes']]
        h_img = max(box[1] for box in boxes)
        w_img = max(box[3] for box in boxes)
        device = features[0].device
        preds = torch.zeros((batch_size, self.num_classes, h_img, w_img), device=device)
        count = torch.zeros((batch_size, 1, h_img, w_img), device=device)
        crop_logits = self.head(features)
        for i, (y1, y2, x1, x2) in enumerate(boxes):
            preds += F.pad(crop_logits[i * batch_size:(i + 1) * batch_size],
                           (int(x1), int(preds.shape[3] - x2), int(y1), int(preds.shape[2] - y2)))
            count[:, :, y1:y2, x1:x2] += 1
        if (count == 0).any():
            raise RuntimeError('HRDA detail crops do not cover the detail view')
        return preds / count

    def get_scale_attention(self, inp: List[Tensor]) -> Union[Tensor, float]:
        """Sigmoid of the attention head's logits (or the fixed attention)."""
        if self.scale_attention is not None:
            return torch.sigmoid(self.scale_attention(inp))
        return self.fixed_attention

    def forward(self, inputs: List) -> Tuple[Tensor, Tensor, Tensor]:
        """``(fused, context, detail)`` logits of ``[context features, detail features]``
        (hrda_head.py L146-210; no training crop at inference)."""
        if len(inputs) != 2:
            raise ValueError(f'HRDAHead takes [context features, detail features], got {len(inputs)} inputs')
        lr_inp, hr_inp = inputs
        lr_scale, hr_scale = self.scales[0], self.scales[1]
        batch_size = lr_inp[0].shape[0]
        lr_seg = self.head(lr_inp)
        hr_seg = self.decode_hr(hr_inp, batch_size)
        att = self.get_scale_attention(lr_inp)
        lr_seg = (1 - att) * lr_seg
        up_lr_seg = resize(lr_seg, scale_factor=hr_scale / lr_scale, mode='bilinear',
                           align_corners=self.align_corners)
        if torch.is_tensor(att):
            att = resize(att, scale_factor=hr_scale / lr_scale, mode='bilinear', align_corners=self.align_corners)
        return att * hr_seg + up_lr_seg, lr_seg, hr_seg

    def loss(self, inputs, batch_data_samples: SampleList, train_cfg: ConfigType) -> dict:
        """Not implemented (see the module docstring)."""
        raise NotImplementedError(_NOT_TRAINED.format(cls=type(self).__name__))


@MODELS.register_module()
class HRDAEncoderDecoder(EncoderDecoder):
    """HRDA's multi-resolution encoder-decoder, inference only (see the module docstring).

    Args:
        backbone (dict): Backbone config.
        decode_head (dict): An :class:`HRDAHead` config.
        scales (Sequence[float]): Scales of the views; sorted, so the first is the
            context. HRDA: ``[1, 0.5]``. Defaults to (1, ).
        hr_crop_size (Sequence[int], optional): Detail crop size (HRDA: ``[512, 512]``).
            Defaults to None.
        hr_slide_inference (bool): Detail view by overlapping crops at test time.
            Defaults to True.
        hr_slide_overlapping (bool): Stride of half a crop (else a full crop).
            Defaults to True.
        crop_coord_divisible (int): Training crop alignment (kept for the config).
            Defaults to 1.
        blur_hr_crop (bool): Blur the detail view by down/up-sampling. Defaults to False.
        feature_scale (float | str): Scale of :meth:`extract_feat` (the ImageNet feature
            distance; HRDA: 0.5). Defaults to 1.
        **kwargs: ``neck``, ``auxiliary_head``, ``train_cfg``, ``test_cfg``,
            ``data_preprocessor``, ``pretrained``, ``init_cfg`` of :class:`EncoderDecoder`.
    """

    def __init__(self,
                 backbone: ConfigType,
                 decode_head: ConfigType,
                 neck: OptConfigType = None,
                 auxiliary_head: OptConfigType = None,
                 train_cfg: OptConfigType = None,
                 test_cfg: OptConfigType = None,
                 data_preprocessor: OptConfigType = None,
                 pretrained: Optional[str] = None,
                 init_cfg: OptMultiConfig = None,
                 scales: Sequence[float] = (1, ),
                 hr_crop_size: Optional[Sequence[int]] = None,
                 hr_slide_inference: bool = True,
                 hr_slide_overlapping: bool = True,
                 crop_coord_divisible: int = 1,
                 blur_hr_crop: bool = False,
                 feature_scale: Union[float, str] = 1) -> None:
        scales = sorted(scales)
        if len(scales) != 2:
            raise ValueError(f'HRDAEncoderDecoder fuses two scales (context, detail), got scales={scales}')
        if hr_slide_inference and hr_crop_size is None:
            raise ValueError('hr_slide_inference needs hr_crop_size (HRDA: [512, 512])')
        decode_head = dict(decode_head, scales=scales, enable_hr_crop=hr_crop_size is not None,
                           hr_slide_inference=hr_slide_inference)
        super().__init__(backbone=backbone, decode_head=decode_head, neck=neck, auxiliary_head=auxiliary_head,
                         train_cfg=train_cfg, test_cfg=test_cfg, data_preprocessor=data_preprocessor,
                         pretrained=pretrained, init_cfg=init_cfg)
        if not isinstance(self.decode_head, HRDAHead):
            raise TypeError(f'HRDAEncoderDecoder needs an mmcontrast.HRDAHead, got {type(self.decode_head).__name__}')
        self.scales = scales
        self.feature_scale = feature_scale
        self.crop_size = None if hr_crop_size is None else tuple(hr_crop_size)
        self.hr_slide_inference = hr_slide_inference
        self.hr_slide_overlapping = hr_slide_overlapping
        self.crop_coord_divisible = crop_coord_divisible
        self.blur_hr_crop = blur_hr_crop

    def extract_unscaled_feat(self, img: Tensor) -> List[Tensor]:
        """Backbone (and neck) features of ``img`` as it is."""
        x = self.backbone(img)
        return self.neck(x) if self.with_neck else x

    def extract_slide_feat(self, img: Tensor) -> Dict:
        """Features of overlapping ``hr_crop_size`` crops, batched (hrda_encoder_decoder.py L94-119)."""
        h_crop, w_crop = self.crop_size
        h_stride, w_stride = (h_crop // 2, w_crop // 2) if self.hr_slide_overlapping else (h_crop, w_crop)
        _, _, h_img, w_img = img.shape
        h_grids = max(h_img - h_crop + h_stride - 1, 0) // h_stride + 1
        w_grids = max(w_img - w_crop + w_stride - 1, 0) // w_stride + 1
        crops, boxes = [], []
        for h_idx in range(h_grids):
            for w_idx in range(w_grids):
                y2 = min(h_idx * h_stride + h_crop, h_img)
                x2 = min(w_idx * w_stride + w_crop, w_img)
                y1, x1 = max(y2 - h_crop, 0), max(x2 - w_crop, 0)
                crops.append(img[:, :, y1:y2, x1:x2])
                boxes.append([y1, y2, x1, x2])
        return {'features': self.extract_unscaled_feat(torch.cat(crops, dim=0)), 'boxes': boxes}

    def _blur_downup(self, img: Tensor, s: float = 0.5) -> Tensor:
        img = resize(img, scale_factor=s, mode='bilinear', align_corners=self.align_corners)
        return resize(img, scale_factor=1 / s, mode='bilinear', align_corners=self.align_corners)

    def _scaled(self, img: Tensor, s: float) -> Tensor:
        if s == 1:
            return self._blur_downup(img) if self.blur_hr_crop else img
        with torch.no_grad():  # as HRDA: no gradient through the image resize
            return resize(img, scale_factor=s, mode='bilinear', align_corners=self.align_corners)

    def extract_feat(self, inputs: Tensor) -> List[Tensor]:
        """Features at ``feature_scale`` (what HRDA's ImageNet feature distance compares)."""
        if isinstance(self.feature_scale, str):
            raise NotImplementedError(_NOT_TRAINED.format(cls=type(self).__name__))
        return self.extract_unscaled_feat(self._scaled(inputs, self.feature_scale))

    def encode_decode(self, inputs: Tensor, batch_img_metas: Optional[List[dict]] = None) -> Tensor:
        """Fused logits at the input size (hrda_encoder_decoder.py L162-185)."""
        mres_feats = []
        for i, s in enumerate(self.scales):
            scaled = self._scaled(inputs, s)
            if i >= 1 and self.hr_slide_inference:
                mres_feats.append(self.extract_slide_feat(scaled))
            else:
                mres_feats.append(self.extract_unscaled_feat(scaled))
        out = self.decode_head(mres_feats)[0]
        return resize(out, size=inputs.shape[2:], mode='bilinear', align_corners=self.align_corners)

    def _forward(self, inputs: Tensor, data_samples: OptSampleList = None) -> Tensor:
        """Fused logits (tensor mode)."""
        return self.encode_decode(inputs)

    def loss(self, inputs: Tensor, data_samples: SampleList) -> dict:
        """Not implemented (see the module docstring)."""
        raise NotImplementedError(_NOT_TRAINED.format(cls=type(self).__name__))
