"""DnCNN (Zhang et al. 2017): plain conv + batch norm + ReLU stack that predicts the noise.

Residual learning: output = input - network(input). Blind over the noise range it
was trained on (DnCNN-B style); it takes no noise level.
"""

from __future__ import annotations

import torch.nn as nn


class DnCNN(nn.Module):
    def __init__(self, in_channels: int = 1, features: int = 64, depth: int = 17):
        super().__init__()
        self.in_channels = in_channels
        layers = [nn.Conv2d(in_channels, features, 3, 1, 1), nn.ReLU(inplace=True)]
        for _ in range(depth - 2):
            layers += [
                nn.Conv2d(features, features, 3, 1, 1),
                nn.BatchNorm2d(features, momentum=0.01),
                nn.ReLU(inplace=True),
            ]
        layers.append(nn.Conv2d(features, in_channels, 3, 1, 1))
        self.body = nn.Sequential(*layers)
        self.multiple = 1
        self.receptive_margin = depth  # one pixel per 3x3 layer

    def forward(self, x, sigma=None):
        return x - self.body(x)
