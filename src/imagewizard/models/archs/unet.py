"""The flagship denoiser: a compact multi-scale residual U-Net with a noise-level map.

Design (after DRUNet, Zhang et al. 2021, scaled for a 2-core CPU):
- pixel-unshuffle by 2 first (as FFDNet does), so every convolution runs on a
  quarter of the pixels while the receptive field doubles;
- four scales (64, 128, 256, 384 channels), one residual block per scale on
  each side, strided 2x2 convolutions down, transposed 2x2 up, additive skips;
- the noise level sigma/255 enters as an extra constant input plane, so one
  network covers sigma 0..75 and can run blind with an estimated sigma;
- residual output: the network predicts the noise and subtracts it.

About 110k multiply-adds per pixel: ~0.6 MP/s on two CPU cores.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F


class ResBlock(nn.Module):
    def __init__(self, ch: int):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(ch, ch, 3, 1, 1), nn.ReLU(inplace=True), nn.Conv2d(ch, ch, 3, 1, 1))

    def forward(self, x):
        return x + self.body(x)


class UNetDenoiser(nn.Module):
    """Noise-level-conditioned U-Net. Input (N, C, H, W) in [0, 1] and sigma (N,) on the 0..1 scale."""

    def __init__(
        self,
        in_channels: int = 3,
        channels: tuple[int, ...] = (64, 128, 256, 384),
        blocks: int = 1,
        shuffle: int = 2,
        map_channels: int = 1,
    ):
        super().__init__()
        self.in_channels, self.shuffle, self.map_channels = in_channels, shuffle, map_channels
        self.channels, self.blocks = tuple(channels), blocks
        self.multiple = shuffle * 2 ** (len(channels) - 1)  # H and W must be multiples of this (padding handles it)
        # One-sided receptive field in input pixels (an upper bound: every conv and resampling step
        # widens it by its reach times its scale); tiled inference keeps this much context.
        levels = len(channels) - 1
        reach = shuffle * (1 + 1)  # head and tail 3x3 convs
        for i in range(levels):
            reach += shuffle * 2**i * (2 * 2 * blocks + 2)  # encoder+decoder blocks, down and up steps
        reach += shuffle * 2**levels * 2 * blocks  # bottleneck blocks
        self.receptive_margin = -(-reach // self.multiple) * self.multiple
        c_in = in_channels * shuffle * shuffle
        self.head = nn.Conv2d(c_in + map_channels, channels[0], 3, 1, 1)
        self.encoders = nn.ModuleList()
        self.downs = nn.ModuleList()
        for i in range(len(channels) - 1):
            self.encoders.append(nn.Sequential(*[ResBlock(channels[i]) for _ in range(blocks)]))
            self.downs.append(nn.Conv2d(channels[i], channels[i + 1], 2, 2))
        self.body = nn.Sequential(*[ResBlock(channels[-1]) for _ in range(blocks)])
        self.ups = nn.ModuleList()
        self.decoders = nn.ModuleList()
        for i in reversed(range(len(channels) - 1)):
            self.ups.append(nn.ConvTranspose2d(channels[i + 1], channels[i], 2, 2))
            self.decoders.append(nn.Sequential(*[ResBlock(channels[i]) for _ in range(blocks)]))
        self.tail = nn.Conv2d(channels[0], c_in, 3, 1, 1)

    def forward(self, x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        xp, y = self.prepare(x)
        noise_map = sigma.to(y.dtype).view(-1, 1, 1, 1).expand(y.shape[0], self.map_channels, y.shape[2], y.shape[3])
        return self.denoise(xp, y, noise_map)[..., : x.shape[-2], : x.shape[-1]]

    def prepare(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The input padded to a multiple of :attr:`multiple`, and its pixel-unshuffled planes."""
        h, w = x.shape[-2:]
        m = self.multiple
        ph, pw = (-h) % m, (-w) % m
        xp = F.pad(x, (0, pw, 0, ph), mode="replicate") if ph or pw else x
        return xp, (F.pixel_unshuffle(xp, self.shuffle) if self.shuffle > 1 else xp)

    def denoise(self, xp: torch.Tensor, y: torch.Tensor, noise_map: torch.Tensor) -> torch.Tensor:
        """Denoise the padded input given a noise-level map (N, map_channels) at the unshuffled size."""
        feat = self.head(torch.cat([y, noise_map], 1))
        skips = []
        for enc, down in zip(self.encoders, self.downs):
            feat = enc(feat)
            skips.append(feat)
            feat = down(feat)
        feat = self.body(feat)
        for up, dec in zip(self.ups, self.decoders):
            feat = dec(up(feat) + skips.pop())
        noise = self.tail(feat)
        if self.shuffle > 1:
            noise = F.pixel_shuffle(noise, self.shuffle)
        return xp - noise


def colour_state_from_gray(state: dict, shuffle: int = 2) -> dict:
    """Weights of a colour (RGB) UNetDenoiser that starts out as the gray model on the luminance.

    The head sees each colour plane at a third of the gray weight, i.e. the mean (R+G+B)/3, whose
    i.i.d. noise has sigma/sqrt(3): the noise-map weight is scaled by 1/sqrt(3) to say so (the map
    enters the head linearly). The tail subtracts the estimated luminance noise from all three
    planes. Fine-tuning from here then only has to learn the chroma, which trains far faster than
    a colour model from scratch.
    """
    out = dict(state)
    k = shuffle * shuffle
    head = state["head.weight"]  # (F, k + 1, 3, 3): k sub-pixel planes of one channel, then the noise map
    if head.shape[1] != k + 1:
        raise ValueError(f"not a gray U-Net head: {tuple(head.shape)}")
    out["head.weight"] = torch.cat([head[:, :k] / 3.0] * 3 + [head[:, k:] / 3.0**0.5], 1)
    out["tail.weight"] = torch.cat([state["tail.weight"]] * 3, 0)
    out["tail.bias"] = torch.cat([state["tail.bias"]] * 3, 0)
    return out


def prune_state(state: dict, channels: tuple[int, ...], blocks: int = 1) -> dict:
    """Weights of a narrower U-Net (``channels`` per scale) cut from a trained wider one.

    Structured L1 pruning (Li et al. 2017, "Pruning filters for efficient ConvNets"): each scale's
    residual stream keeps the channels whose weights, summed over every convolution that reads or
    writes them (each convolution's share normalised by its mean), weigh most; each residual block's
    inner channels keep those with the largest product of in- and out-going weights. The narrow net
    then starts close to the wide one, so a short fine-tune recovers most of the quality at a fraction
    of the multiply-adds (a leaner flagship for the CPU).
    """
    import torch

    levels = len(channels) - 1
    old = [int(state["head.weight"].shape[0])] + [int(state[f"downs.{i}.weight"].shape[0]) for i in range(levels)]
    if len(old) != len(channels) or any(n > o for n, o in zip(channels, old)):
        raise ValueError(
            f"can only narrow a U-Net of widths {tuple(old)} with as many scales, not to {tuple(channels)}"
        )

    def blocks_at(i):  # (prefix of each ResBlock at scale i)
        if i == levels:
            return [f"body.{b}" for b in range(blocks)]
        j = levels - 1 - i
        return [f"encoders.{i}.{b}" for b in range(blocks)] + [f"decoders.{j}.{b}" for b in range(blocks)]

    def l1(w, dim):  # per-channel L1 norm along ``dim``, normalised by its mean
        other = [d for d in range(w.dim()) if d != dim]
        n = w.abs().sum(dim=other)
        return n / n.mean().clamp_min(1e-12)

    keep = []
    for i, width in enumerate(channels):
        score = torch.zeros(old[i])
        score += l1(state["head.weight"] if i == 0 else state[f"downs.{i - 1}.weight"], 0)  # writers
        if i == 0:
            score += l1(state["tail.weight"], 1)
        else:
            score += l1(state[f"ups.{levels - i}.weight"], 0)  # ConvTranspose (in, out, k, k): reads scale i
        if i < levels:
            score += l1(state[f"downs.{i}.weight"], 1)
            score += l1(state[f"ups.{levels - 1 - i}.weight"], 1)  # writes scale i
        for p in blocks_at(i):
            score += l1(state[f"{p}.body.0.weight"], 1) + l1(state[f"{p}.body.2.weight"], 0)
        keep.append(torch.sort(torch.topk(score, width).indices).values)

    out = dict(state)

    def take(name, dim, idx):
        out[name] = out[name].index_select(dim, idx).contiguous()

    take("head.weight", 0, keep[0])
    take("head.bias", 0, keep[0])
    take("tail.weight", 1, keep[0])
    for i in range(levels):
        take(f"downs.{i}.weight", 0, keep[i + 1])
        take(f"downs.{i}.bias", 0, keep[i + 1])
        take(f"downs.{i}.weight", 1, keep[i])
        j = levels - 1 - i  # ups.j maps scale i+1 to scale i
        take(f"ups.{j}.weight", 0, keep[i + 1])
        take(f"ups.{j}.weight", 1, keep[i])
        take(f"ups.{j}.bias", 0, keep[i])
    for i, width in enumerate(channels):
        for p in blocks_at(i):
            w0, w2 = state[f"{p}.body.0.weight"], state[f"{p}.body.2.weight"]
            inner = torch.sort(torch.topk(l1(w0, 0) * l1(w2, 1), width).indices).values
            take(f"{p}.body.0.weight", 1, keep[i])
            take(f"{p}.body.0.weight", 0, inner)
            take(f"{p}.body.0.bias", 0, inner)
            take(f"{p}.body.2.weight", 1, inner)
            take(f"{p}.body.2.weight", 0, keep[i])
            take(f"{p}.body.2.bias", 0, keep[i])
    return out
