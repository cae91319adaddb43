"""A convolutional variational autoencoder for restoration (``vae``).

The encoder maps the degraded image (and its noise-level map) to a Gaussian
latent field, mean and log-variance, at a quarter of the resolution; the
reparameterisation trick samples it during training; the decoder maps the
latent alone back to the clean image. There are no skip connections: all
the decoder knows passes through the stochastic bottleneck, which is what
makes it a VAE and not a U-Net.

Loss (training): reconstruction + beta * KL(q(z|x) || N(0, I)), with the KL
summed over latent elements and divided by the number of image pixels, so
beta weighs nats per pixel against the per-pixel reconstruction error.
Inference uses the latent mean (the posterior's most likely code) unless
``sampling`` is switched on, in which case every call draws a new z.

The latent has ``latent`` channels at 1/4 resolution: ``latent / 16``
numbers per pixel and channel (1 for the default gray model).
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from imagewizard.models.archs.unet import ResBlock


class RestorationVAE(nn.Module):
    """Input (N, C, H, W) in [0, 1] and sigma (N,) on the 0..1 scale; returns the clean estimate."""

    def __init__(
        self,
        in_channels: int = 1,
        channels: tuple[int, int] = (64, 128),
        latent: int = 16,
        blocks: int = 2,
        beta: float = 1e-4,
    ):
        super().__init__()
        self.in_channels, self.beta = in_channels, beta
        self.multiple = 4
        c0, c1 = channels
        c_in = in_channels * 4  # pixel-unshuffled by 2
        # Receptive field (one side, input pixels): 2 * (head + 2 convs per block) at 1/2 scale,
        # 4 * (2 convs per block + 1 latent conv) at 1/4 scale, on both the encoder and decoder sides.
        reach = 2 * 2 * (1 + 2 * blocks) + 4 * 2 * (2 * blocks + 1)
        self.receptive_margin = -(-reach // 4) * 4
        self.encoder = nn.Sequential(
            nn.Conv2d(c_in + 1, c0, 3, 1, 1),
            *[ResBlock(c0) for _ in range(blocks)],
            nn.Conv2d(c0, c1, 2, 2),
            *[ResBlock(c1) for _ in range(blocks)],
            nn.Conv2d(c1, 2 * latent, 3, 1, 1),
        )
        self.decoder = nn.Sequential(
            nn.Conv2d(latent, c1, 3, 1, 1),
            *[ResBlock(c1) for _ in range(blocks)],
            nn.ConvTranspose2d(c1, c0, 2, 2),
            *[ResBlock(c0) for _ in range(blocks)],
            nn.Conv2d(c0, c_in, 3, 1, 1),
        )
        self.sampling = False  # inference: latent mean unless switched on
        self.kl = None

    def encode(self, x: torch.Tensor, sigma: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        y = F.pixel_unshuffle(x, 2)
        noise_map = sigma.to(y.dtype).view(-1, 1, 1, 1).expand(y.shape[0], 1, y.shape[2], y.shape[3])
        mu, logvar = self.encoder(torch.cat([y, noise_map], 1)).chunk(2, dim=1)
        return mu, logvar.clamp(-12.0, 8.0)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return F.pixel_shuffle(self.decoder(z), 2)

    def forward(self, x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        ph, pw = (-h) % 4, (-w) % 4
        xp = F.pad(x, (0, pw, 0, ph), mode="replicate") if ph or pw else x
        mu, logvar = self.encode(xp, sigma)
        if self.training or self.sampling:
            z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        else:
            z = mu
        if self.training:
            kl = 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar)
            self.kl = kl.sum() / (xp.shape[0] * xp.shape[2] * xp.shape[3])  # nats per pixel
        return self.decode(z)[..., :h, :w]

    def extra_loss(self) -> torch.Tensor:
        """beta * KL of the last training forward pass (added to the reconstruction loss by the trainer)."""
        return self.beta * self.kl
