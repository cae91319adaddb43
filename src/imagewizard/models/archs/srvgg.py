"""Real-ESRGAN's compact network, SRVGGNetCompact, in plain PyTorch.

This project's own code, modelled on the published architecture with the upstream parameter
names so that ``realesr-general-x4v3.pth`` / ``realesr-animevideov3.pth``-style files load: a flat
``body`` ModuleList of 3x3 convolutions and activations at the low resolution (``body.0`` the
first conv, ``body.1`` its activation, ..., the last conv producing ``num_out_ch * upscale**2``
maps), a pixel shuffle, plus the nearest-upsampled input (the net learns the residual).

Examples
--------
>>> import torch
>>> net = SRVGGNetCompact(num_feat=8, num_conv=2, upscale=4)
>>> net(torch.rand(1, 3, 5, 6)).shape
torch.Size([1, 3, 20, 24])
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import nn

ACTIVATIONS = ("prelu", "relu", "leakyrelu")


class SRVGGNetCompact(nn.Module):
    """``(N, num_in_ch, h, w)`` -> ``(N, num_out_ch, h*upscale, w*upscale)``.

    Parameters
    ----------
    num_in_ch, num_out_ch : int
        Image channels (3 for RGB).
    num_feat : int
        Feature channels (64 in the published models).
    num_conv : int
        Convolutions between the first and the last (32 in general-x4v3, 16 in animevideov3).
    upscale : int
        Factor of the pixel shuffle.
    act_type : str
        ``'prelu'`` (one learned slope per channel: the published models), ``'relu'`` or
        ``'leakyrelu'`` (slope 0.1).
    """

    def __init__(self, num_in_ch=3, num_out_ch=3, num_feat=64, num_conv=16, upscale=4, act_type="prelu"):
        super().__init__()
        if act_type not in ACTIVATIONS:
            raise ValueError(f"unknown activation {act_type!r} (known: {', '.join(ACTIVATIONS)})")
        self.upscale = upscale
        self.num_conv = num_conv

        def act():
            if act_type == "relu":
                return nn.ReLU(inplace=True)
            if act_type == "prelu":
                return nn.PReLU(num_parameters=num_feat)
            return nn.LeakyReLU(negative_slope=0.1, inplace=True)

        self.body = nn.ModuleList([nn.Conv2d(num_in_ch, num_feat, 3, 1, 1), act()])
        for _ in range(num_conv):
            self.body.extend([nn.Conv2d(num_feat, num_feat, 3, 1, 1), act()])
        self.body.append(nn.Conv2d(num_feat, num_out_ch * upscale * upscale, 3, 1, 1))
        self.upsampler = nn.PixelShuffle(upscale)

    def forward(self, x):
        out = x
        for layer in self.body:
            out = layer(out)
        return self.upsampler(out) + F.interpolate(x, scale_factor=self.upscale, mode="nearest")

    def receptive_radius(self) -> int:
        """Input pixels of context each output pixel depends on (each side): one per 3x3 conv.

        >>> SRVGGNetCompact(num_feat=8, num_conv=2).receptive_radius()
        4
        """
        return self.num_conv + 2
