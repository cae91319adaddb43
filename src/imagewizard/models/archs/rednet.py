"""RED-Net (Mao et al. 2016): symmetric conv encoder / transposed-conv decoder with skips.

As in the masterclass book: depth/2 Conv+BN+ReLU encoder layers, depth/2
ConvTranspose+BN decoder layers, an element-wise skip every ``skip_step``
layers, and a global input skip. Stride 1 everywhere, so any image size works.
"""

from __future__ import annotations

import torch
import torch.nn as nn


class REDNet(nn.Module):
    def __init__(self, in_channels: int = 3, features: int = 64, depth: int = 20, skip_step: int = 2):
        super().__init__()
        if depth % 2:
            raise ValueError("depth must be even")
        half = depth // 2
        self.in_channels, self.skip_step = in_channels, skip_step
        self.encoder = nn.ModuleList()
        for i in range(half):
            c_in = in_channels if i == 0 else features
            self.encoder.append(
                nn.Sequential(
                    nn.Conv2d(c_in, features, 3, 1, 1, bias=False),
                    nn.BatchNorm2d(features, momentum=0.01),
                    nn.ReLU(inplace=True),
                )
            )
        self.decoder = nn.ModuleList()
        for i in range(half):
            last = i == half - 1
            c_out = in_channels if last else features
            block = [nn.ConvTranspose2d(features, c_out, 3, 1, 1, bias=last)]
            if not last:
                block += [nn.BatchNorm2d(c_out, momentum=0.01)]
            self.decoder.append(nn.Sequential(*block))
        self.multiple = 1
        self.receptive_margin = depth

    def forward(self, x, sigma=None):
        skips = []
        h = x
        for i, layer in enumerate(self.encoder):
            h = layer(h)
            if (i + 1) % self.skip_step == 0 and i + 1 < len(self.encoder):
                skips.append(h)
        for i, layer in enumerate(self.decoder):
            h = layer(h)
            if i + 1 < len(self.decoder):
                if (i + 1) % self.skip_step == 0 and skips:
                    h = h + skips.pop()
                h = torch.relu(h)
        return x + h  # the decoder learns the correction; global skip keeps the image
