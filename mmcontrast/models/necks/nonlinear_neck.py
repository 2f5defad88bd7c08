"""MLP projectors and predictors of self-supervised methods."""
from typing import Sequence, Union

import torch.nn as nn
from mmcv.cnn import build_norm_layer
from mmengine.model import BaseModule
from torch import Tensor

from mmcontrast.registry import MODELS
from .gap import GlobalAveragePooling


@MODELS.register_module()
class NonLinearNeck(BaseModule):
    """``num_layers`` linear layers with (optional) BN and ReLU between them.

    Covers the heads of the methods here:

    - MoCo v2 / ASCL / ProtoNCE: ``fc-ReLU-fc`` (``with_bias=True, with_bn=False``).
    - BYOL projector and predictor, SimSiam predictor: ``fc-BN-ReLU-fc``.
    - SimSiam projector: ``num_layers=3, with_last_bn=True, with_last_bn_affine=False``.

    4-D inputs (or a tuple of backbone maps, of which the last is used) are first
    average-pooled, so the neck sits directly on a backbone.

    Args:
        in_channels (int): Input width.
        hid_channels (int): Hidden width.
        out_channels (int): Output width.
        num_layers (int): Linear layers, at least 1. Defaults to 2.
        with_bias (bool): Bias in the hidden linear layers (BN makes it redundant).
            Defaults to False.
        with_bn (bool): BN after the hidden linear layers. Defaults to True.
        with_last_bn (bool): BN after the output layer. Defaults to False.
        with_last_bn_affine (bool): Affine parameters of that BN. Defaults to True.
        with_last_bias (bool): Bias of the output layer. Defaults to True when
            there is no last BN.
        norm_cfg (dict): 1-D norm layer, ``BN1d`` or ``SyncBN``. Defaults to
            ``dict(type='BN1d')``.
        init_cfg (dict | list[dict], optional): Initialisation config.
    """

    def __init__(self,
                 in_channels: int,
                 hid_channels: int,
                 out_channels: int,
                 num_layers: int = 2,
                 with_bias: bool = False,
                 with_bn: bool = True,
                 with_last_bn: bool = False,
                 with_last_bn_affine: bool = True,
                 with_last_bias: Union[bool, None] = None,
                 norm_cfg: dict = dict(type='BN1d'),
                 init_cfg=None) -> None:
        super().__init__(init_cfg=init_cfg)
        if num_layers < 1:
            raise ValueError(f'num_layers must be >= 1, got {num_layers}')
        self.pool = GlobalAveragePooling()
        layers = []
        widths = [in_channels] + [hid_channels] * (num_layers - 1) + [out_channels]
        for i in range(num_layers):
            last = i == num_layers - 1
            bias = (not with_last_bn if with_last_bias is None else with_last_bias) if last else with_bias
            layers.append(nn.Linear(widths[i], widths[i + 1], bias=bias))
            if (with_last_bn if last else with_bn):
                cfg = dict(norm_cfg, affine=with_last_bn_affine) if last else dict(norm_cfg)
                layers.append(build_norm_layer(cfg, widths[i + 1])[1])
            if not last:
                layers.append(nn.ReLU(inplace=True))
        self.mlp = nn.Sequential(*layers)

    def forward(self, x: Union[Tensor, Sequence[Tensor]]) -> Tensor:
        """Map ``[B, C]`` / ``[B, C, H, W]`` / backbone tuples to ``[B, out_channels]``."""
        return self.mlp(self.pool(x))
