"""A compact super-resolution network: EDSR-baseline's shape, sized for a CPU.

All the work happens at the low resolution (Shi et al. 2016, ESPCN; Lim et al. 2017, EDSR):
a 3x3 head, ``blocks`` residual blocks (conv-ReLU-conv, no batch norm), and per scale a 3x3
conv to ``channels * scale**2`` maps and a pixel shuffle. One body serves every scale in
``scales`` (MDSR, Lim et al. 2017): each scale's training helps the others. The network predicts the difference to a
bicubic upscaling of its input (global residual, as VDSR), so an untrained one is bicubic and
training only has to learn the missing detail.

Examples
--------
>>> import torch
>>> net = SRNet(scales=(2, 3), features=8, blocks=1)
>>> net(torch.rand(1, 3, 10, 12), scale=3).shape
torch.Size([1, 3, 30, 36])
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import nn


class _Block(nn.Module):
    def __init__(self, features: int):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(features, features, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(features, features, 3, padding=1),
        )

    def forward(self, x):
        return x + self.body(x)


class SRNet(nn.Module):
    """``(N, C, h, w)`` in [0, 1] -> ``(N, C, h*scale, w*scale)`` for each scale in ``scales``."""

    def __init__(self, scales=(2, 3, 4), channels: int = 3, features: int = 32, blocks: int = 6):
        super().__init__()
        self.scales, self.channels = tuple(int(s) for s in scales), int(channels)
        self.head = nn.Conv2d(channels, features, 3, padding=1)
        self.body = nn.Sequential(
            *[_Block(features) for _ in range(blocks)], nn.Conv2d(features, features, 3, padding=1)
        )
        self.tails = nn.ModuleDict()
        for s in self.scales:
            tail = nn.Sequential(nn.Conv2d(features, channels * s**2, 3, padding=1), nn.PixelShuffle(s))
            nn.init.zeros_(tail[0].weight)  # start as bicubic
            nn.init.zeros_(tail[0].bias)
            self.tails[str(s)] = tail

    def forward(self, x, sigma=None, scale: int | None = None):
        scale = self.scales[0] if scale is None else int(scale)
        if scale not in self.scales:
            raise ValueError(f"this network upscales by {self.scales}, not {scale}")
        base = F.interpolate(x, scale_factor=scale, mode="bicubic", align_corners=False)
        f = self.head(x)
        return base + self.tails[str(scale)](f + self.body(f))
