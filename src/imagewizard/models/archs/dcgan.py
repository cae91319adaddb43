"""DCGAN (Radford, Metz & Chintala 2016) for small gray images.

Generator: z (N, nz) -> transposed convs with BatchNorm+ReLU, doubling the
size from 4x4, tanh output in [-1, 1]. Discriminator: strided convs with
LeakyReLU(0.2) (BatchNorm except on the first layer, as in the paper), one
logit. Training uses BCE-with-logits and Adam(2e-4, betas (0.5, 0.999)).
Weights initialised N(0, 0.02) (BN gamma N(1, 0.02)), again as in the paper.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn


def _init(m: nn.Module) -> None:
    if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(m.weight, 0.0, 0.02)
    elif isinstance(m, nn.BatchNorm2d):
        nn.init.normal_(m.weight, 1.0, 0.02)
        nn.init.zeros_(m.bias)


def _levels(size: int) -> int:
    n = int(round(math.log2(size))) - 2
    if size != 4 * 2**n or n < 1:
        raise ValueError(f"DCGAN size must be a power of two >= 8, got {size}")
    return n


class Generator(nn.Module):
    """z -> image; ``sample`` returns images in [0, 1]."""

    def __init__(self, in_channels: int = 1, size: int = 32, nz: int = 64, features: int = 32):
        super().__init__()
        self.nz, self.in_channels, self.size = nz, in_channels, size
        n = _levels(size)
        ch = features * 2 ** (n - 1)
        layers = [nn.ConvTranspose2d(nz, ch, 4, 1, 0, bias=False), nn.BatchNorm2d(ch), nn.ReLU(True)]  # 4x4
        for _ in range(n - 1):
            layers += [nn.ConvTranspose2d(ch, ch // 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ch // 2), nn.ReLU(True)]
            ch //= 2
        layers += [nn.ConvTranspose2d(ch, in_channels, 4, 2, 1), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        self.apply(_init)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z.view(len(z), self.nz, 1, 1))

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None, **_) -> torch.Tensor:
        z = torch.randn((n, self.nz), generator=generator)
        return ((self.forward(z) + 1) / 2).clamp(0, 1)


class Discriminator(nn.Module):
    """image in [-1, 1] -> one real/fake logit per image."""

    def __init__(self, in_channels: int = 1, size: int = 32, features: int = 32):
        super().__init__()
        n = _levels(size)
        layers, ch = [nn.Conv2d(in_channels, features, 4, 2, 1), nn.LeakyReLU(0.2, True)], features
        for _ in range(n - 1):
            layers += [nn.Conv2d(ch, ch * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ch * 2), nn.LeakyReLU(0.2, True)]
            ch *= 2
        layers += [nn.Conv2d(ch, 1, 4, 1, 0)]
        self.net = nn.Sequential(*layers)
        self.apply(_init)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).view(-1)
