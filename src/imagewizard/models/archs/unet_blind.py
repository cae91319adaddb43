"""The real-photo denoiser: a noise-map estimator in front of the flagship U-Net (after CBDNet).

Real noise is not one sigma: shot noise grows with the signal, demosaicing correlates it, the colour
matrix makes it chroma-heavy and the tone curve lifts it in the shadows (see
``physics.degrade.camera``). So, as in CBDNet (Guo et al. 2019) and FFDNet's noise-level maps:

- a small estimator (five 3x3 convolutions, 32 features, on the pixel-unshuffled image) predicts
  a per-pixel, per-channel noise-level map, softplus-positive, on the 0..1 sigma scale;
- the U-Net of ``archs.unet`` denoises with that map as its conditioning planes (one per colour
  channel instead of one constant plane);
- both are trained end to end on camera-model, JPEG-compressed and signal-dependent noise, so the
  map is whatever level the U-Net needs, which is also what makes ``strength`` meaningful:
  the map is scaled by it (0.5: gentler, 2: stronger) before the U-Net sees it.

It starts from the trained Gaussian U-Net (:meth:`BlindUNet.load_unet_state`): the map planes begin
as copies of its single sigma plane, the estimator near sigma 15.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from imagewizard.models.archs.unet import UNetDenoiser


class WithStrength(nn.Module):
    """A :class:`BlindUNet` run at a fixed ``strength`` (the zoo's cached network stays untouched)."""

    def __init__(self, model: BlindUNet, strength: float):
        super().__init__()
        self.model, self.strength = model, float(strength)
        for k in ("in_channels", "multiple", "receptive_margin"):
            setattr(self, k, getattr(model, k))

    def forward(self, x: torch.Tensor, sigma: torch.Tensor | None = None) -> torch.Tensor:
        if self.strength == 0.0:  # off means the input back, not the U-Net at sigma 0
            return x
        return self.model(x, sigma, strength=self.strength)


class BlindUNet(nn.Module):
    """Blind denoiser ``(x, sigma) -> clean``; ``sigma`` is ignored (the map is estimated).

    Examples
    --------
    >>> net = BlindUNet(channels=(8, 16), est_features=8, est_depth=3).eval()
    >>> net(torch.rand(1, 3, 20, 24)).shape
    torch.Size([1, 3, 20, 24])
    """

    def __init__(
        self,
        in_channels: int = 3,
        channels: tuple[int, ...] = (64, 128, 256, 384),
        blocks: int = 1,
        shuffle: int = 2,
        est_features: int = 32,
        est_depth: int = 5,
    ):
        super().__init__()
        self.in_channels = in_channels
        self.denoiser = UNetDenoiser(in_channels, channels, blocks, shuffle, map_channels=in_channels)
        c_in = in_channels * shuffle * shuffle
        layers: list[nn.Module] = [nn.Conv2d(c_in, est_features, 3, 1, 1), nn.ReLU(inplace=True)]
        for _ in range(est_depth - 2):
            layers += [nn.Conv2d(est_features, est_features, 3, 1, 1), nn.ReLU(inplace=True)]
        layers.append(nn.Conv2d(est_features, in_channels, 3, 1, 1))
        self.estimator = nn.Sequential(*layers)
        with torch.no_grad():  # start near sigma 15 everywhere: softplus(b) = 15/255
            self.estimator[-1].weight.mul_(0.1)
            self.estimator[-1].bias.fill_(math.log(math.expm1(15.0 / 255.0)))
        self.multiple = self.denoiser.multiple
        # the estimator widens the reach by its depth at the unshuffled scale
        reach = self.denoiser.receptive_margin + shuffle * est_depth
        self.receptive_margin = -(-reach // self.multiple) * self.multiple

    def estimate(self, y: torch.Tensor) -> torch.Tensor:
        """Noise-level map (N, C, h, w) on the 0..1 sigma scale from the unshuffled planes ``y``."""
        return F.softplus(self.estimator(y))

    def forward(self, x: torch.Tensor, sigma: torch.Tensor | None = None, strength: float = 1.0) -> torch.Tensor:
        """Denoise ``x`` (N, C, H, W); ``strength`` scales the estimated map (1: as estimated)."""
        xp, y = self.denoiser.prepare(x)
        noise_map = self.estimate(y) * strength
        return self.denoiser.denoise(xp, y, noise_map)[..., : x.shape[-2], : x.shape[-1]]

    @torch.no_grad()
    def noise_map(self, x: torch.Tensor) -> torch.Tensor:
        """The estimated noise level per pixel and channel, (N, C, H, W), on the 0..255 scale."""
        xp, y = self.denoiser.prepare(x)
        m = F.interpolate(self.estimate(y), scale_factor=self.denoiser.shuffle, mode="nearest")
        return 255.0 * m[..., : x.shape[-2], : x.shape[-1]]

    def load_unet_state(self, state: dict) -> None:
        """Start from a trained :class:`UNetDenoiser` with one sigma plane (the estimator stays as built)."""
        state = dict(state)
        k = self.denoiser.head.weight.shape[1] - self.in_channels  # image planes of the head
        head = state["head.weight"]
        if head.shape[1] != k + 1:
            raise ValueError(f"not a {self.in_channels}-channel U-Net head with one sigma plane: {tuple(head.shape)}")
        # equal maps in all channels then give exactly the source network's output
        plane = head[:, k:] / self.in_channels
        state["head.weight"] = torch.cat([head[:, :k]] + [plane] * self.in_channels, 1)
        self.denoiser.load_state_dict(state)
