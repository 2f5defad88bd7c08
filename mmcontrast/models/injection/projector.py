"""A small MLP projection head for rows of features."""
from typing import Optional

import torch
import torch.nn as nn

from mmcontrast.registry import MODELS


@MODELS.register_module()
class ProjectionMLP(nn.Module):
    """Linear - ReLU - ... - Linear projection of ``(N, C)`` rows.

    The projection head of SimCLR/SupCon/FSCE: the contrastive loss is applied
    to its output, the task heads keep using the un-projected features.

    Args:
        in_channels (int): Channels of the input rows.
        out_channels (int): Channels of the projection. Defaults to 128.
        hidden_channels (int, optional): Channels of the hidden layers.
            Defaults to None (``in_channels``).
        num_layers (int): Number of linear layers, at least 1. Defaults to 2.
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int = 128,
                 hidden_channels: Optional[int] = None,
                 num_layers: int = 2) -> None:
        super().__init__()
        if num_layers < 1:
            raise ValueError(f'ProjectionMLP needs num_layers >= 1, got {num_layers}')
        hidden_channels = hidden_channels or in_channels
        self.in_channels = in_channels
        self.out_channels = out_channels
        layers = []
        channels = in_channels
        for _ in range(num_layers - 1):
            layers += [nn.Linear(channels, hidden_channels), nn.ReLU(inplace=True)]
            channels = hidden_channels
        layers.append(nn.Linear(channels, out_channels))
        self.layers = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 2 or x.shape[1] != self.in_channels:
            raise ValueError(f'ProjectionMLP expects rows of shape (N, {self.in_channels}), got {tuple(x.shape)}')
        return self.layers(x)
