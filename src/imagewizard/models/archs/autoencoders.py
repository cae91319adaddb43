"""The two small autoencoders of the course notes.

``DenoisingAutoencoder`` (``dae``): fully connected 784-256-128-64 and back,
sigmoid output, for 28x28 gray images (digits); bigger images are processed
as overlapping 28x28 patches by the inference code (see ``patch``).

``ConvAutoencoder`` (``conv-ae``): Conv-Conv (stride 2) - Upsample - Conv,
the small convolutional denoiser of the overview notes.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F


class DenoisingAutoencoder(nn.Module):
    def __init__(self, in_channels: int = 1, size: int = 28, hidden: tuple[int, ...] = (256, 128, 64)):
        super().__init__()
        self.in_channels, self.size = in_channels, size
        dims = [in_channels * size * size, *hidden]
        enc, dec = [], []
        for a, b in zip(dims[:-1], dims[1:]):
            enc += [nn.Linear(a, b), nn.ReLU(inplace=True)]
        rdims = dims[::-1]
        for i, (a, b) in enumerate(zip(rdims[:-1], rdims[1:])):
            dec += [nn.Linear(a, b)] + ([nn.ReLU(inplace=True)] if i < len(rdims) - 2 else [])
        self.encoder, self.decoder = nn.Sequential(*enc), nn.Sequential(*dec)
        self.patch = size  # inference runs it on overlapping size x size patches

    def forward(self, x, sigma=None):
        n = x.shape[0]
        if x.shape[-2:] != (self.size, self.size):
            raise ValueError(f"dae takes {self.size}x{self.size} inputs")
        z = self.encoder(x.reshape(n, -1))
        return torch.sigmoid(self.decoder(z)).reshape(x.shape)


class ConvAutoencoder(nn.Module):
    def __init__(self, in_channels: int = 3, features: int = 64):
        super().__init__()
        self.in_channels = in_channels
        self.enc1 = nn.Conv2d(in_channels, features, 3, 1, 1)
        self.enc2 = nn.Conv2d(features, features, 3, 2, 1)  # down by 2
        self.dec = nn.Conv2d(features, in_channels, 3, 1, 1)
        self.multiple = 2
        self.receptive_margin = 8

    def forward(self, x, sigma=None):
        h, w = x.shape[-2:]
        xp = F.pad(x, (0, w % 2, 0, h % 2), mode="replicate")
        z = F.relu(self.enc2(F.relu(self.enc1(xp))))
        up = F.interpolate(z, scale_factor=2, mode="nearest")
        return torch.sigmoid(self.dec(up))[..., :h, :w]
