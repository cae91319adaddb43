"""PatchGAN discriminator (pix2pix, Isola et al. 2017).

A fully convolutional classifier that scores every overlapping patch
(70x70 pixels with the default three strided layers) as real or fake, so
the adversarial loss judges local texture and leaves the global layout to
the pixel loss. Conditional: it sees the degraded input and the candidate
output stacked as channels.
"""

from __future__ import annotations

import torch
import torch.nn as nn


class PatchGAN(nn.Module):
    """Input (N, in_channels, H, W); returns logits (N, 1, h, w), one per patch."""

    def __init__(self, in_channels: int = 2, features: int = 64, layers: int = 3):
        super().__init__()
        mods = [nn.Conv2d(in_channels, features, 4, 2, 1), nn.LeakyReLU(0.2, inplace=True)]
        ch = features
        for i in range(1, layers + 1):
            out = features * min(2**i, 8)
            stride = 2 if i < layers else 1
            mods += [nn.Conv2d(ch, out, 4, stride, 1, bias=False), nn.BatchNorm2d(out), nn.LeakyReLU(0.2, inplace=True)]
            ch = out
        mods.append(nn.Conv2d(ch, 1, 4, 1, 1))
        self.net = nn.Sequential(*mods)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)
