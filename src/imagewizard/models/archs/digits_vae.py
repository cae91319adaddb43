"""Convolutional VAE (Kingma & Welling 2014) for small gray images.

Encoder: strided convs -> (mu, logvar) of a ``latent``-dim Gaussian;
reparameterisation z = mu + exp(logvar / 2) * eps; decoder: linear ->
transposed convs -> logits. Loss per image: Bernoulli reconstruction
(BCE-with-logits, summed over pixels; the images are in [0, 1]) + beta * KL
to N(0, I). Sampling decodes z ~ N(0, I).
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F


class ConvVAE(nn.Module):
    def __init__(self, in_channels: int = 1, size: int = 32, latent: int = 16, features: int = 32, beta: float = 1.0):
        super().__init__()
        self.in_channels, self.size, self.latent, self.beta = in_channels, size, latent, beta
        n = int(round(math.log2(size))) - 2  # halve down to 4x4
        if size != 4 * 2**n or n < 1:
            raise ValueError(f"VAE size must be a power of two >= 8, got {size}")
        enc, ch = [], in_channels
        for i in range(n):
            out = features * 2**i
            enc += [nn.Conv2d(ch, out, 4, 2, 1), nn.LeakyReLU(0.2, True)]
            ch = out
        self.enc = nn.Sequential(*enc, nn.Flatten())
        self.top = ch
        self.mu, self.logvar = nn.Linear(ch * 16, latent), nn.Linear(ch * 16, latent)
        self.fc = nn.Linear(latent, ch * 16)
        dec = []
        for i in reversed(range(n)):
            out = features * 2 ** (i - 1) if i > 0 else in_channels
            dec += [nn.ReLU(True), nn.ConvTranspose2d(ch, out, 4, 2, 1)]
            ch = out
        self.dec = nn.Sequential(*dec)

    def encode(self, x):
        h = self.enc(x)
        return self.mu(h), self.logvar(h)

    def decode_logits(self, z):
        return self.dec(self.fc(z).view(len(z), self.top, 4, 4))

    def loss(self, x: torch.Tensor, generator: torch.Generator | None = None):
        """(total, reconstruction, KL), each the mean per image (nats); total = rec + beta * KL."""
        mu, logvar = self.encode(x)
        z = mu + torch.exp(0.5 * logvar) * torch.randn(mu.shape, generator=generator)
        rec = F.binary_cross_entropy_with_logits(self.decode_logits(z), x, reduction="sum") / len(x)
        kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp()) / len(x)
        return rec + self.beta * kl, rec, kl

    @torch.no_grad()
    def reconstruct(self, x):
        return torch.sigmoid(self.decode_logits(self.encode(x)[0]))

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None, **_) -> torch.Tensor:
        return torch.sigmoid(self.decode_logits(torch.randn((n, self.latent), generator=generator)))
