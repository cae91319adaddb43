"""ESRGAN's RRDBNet (Wang et al. 2018; Real-ESRGAN, Wang et al. 2021) in plain PyTorch.

This project's own code, modelled on the published architecture with the module and parameter
names of xinntao's BasicSR / Real-ESRGAN ``RRDBNet``, so that users' ``RealESRGAN_x4plus.pth``-style
files load key for key: ``conv_first``, ``body.N.rdb1..rdb3.conv1..conv5``, ``conv_body``,
``conv_up1``, ``conv_up2``, ``conv_hr``, ``conv_last``.

Residual-in-residual dense blocks (three dense blocks of five convolutions each, residuals scaled
by 0.2, LeakyReLU 0.2), then two nearest-neighbour x2 upsamplings. Scale 2 and scale 1 models
pixel-unshuffle their input first (by 2 and 4), as Real-ESRGAN's do, so the body always works at
a quarter of the output resolution. :func:`convert_old_esrgan` renames the original ESRGAN
release's keys (``model.0``, ``model.1.sub.N.RDB1.conv1.0``, ...) to these.

Examples
--------
>>> import torch
>>> net = RRDBNet(scale=2, num_feat=8, num_block=1, num_grow_ch=4)
>>> net(torch.rand(1, 3, 6, 8)).shape
torch.Size([1, 3, 12, 16])
"""

from __future__ import annotations

import re

import torch
import torch.nn.functional as F
from torch import nn

#: pixel-unshuffle factor of the input for each supported scale (the body runs at output / 4)
UNSHUFFLE = {4: 1, 2: 2, 1: 4}


class ResidualDenseBlock(nn.Module):
    """Five 3x3 convolutions, each fed all earlier outputs (dense), residual scaled by 0.2.

    Parameters
    ----------
    num_feat : int
        Channels in and out.
    num_grow_ch : int
        Channels each of the first four convolutions adds.
    """

    def __init__(self, num_feat: int = 64, num_grow_ch: int = 32):
        super().__init__()
        self.conv1 = nn.Conv2d(num_feat, num_grow_ch, 3, 1, 1)
        self.conv2 = nn.Conv2d(num_feat + num_grow_ch, num_grow_ch, 3, 1, 1)
        self.conv3 = nn.Conv2d(num_feat + 2 * num_grow_ch, num_grow_ch, 3, 1, 1)
        self.conv4 = nn.Conv2d(num_feat + 3 * num_grow_ch, num_grow_ch, 3, 1, 1)
        self.conv5 = nn.Conv2d(num_feat + 4 * num_grow_ch, num_feat, 3, 1, 1)
        self.lrelu = nn.LeakyReLU(negative_slope=0.2, inplace=True)

    def forward(self, x):
        x1 = self.lrelu(self.conv1(x))
        x2 = self.lrelu(self.conv2(torch.cat((x, x1), 1)))
        x3 = self.lrelu(self.conv3(torch.cat((x, x1, x2), 1)))
        x4 = self.lrelu(self.conv4(torch.cat((x, x1, x2, x3), 1)))
        x5 = self.conv5(torch.cat((x, x1, x2, x3, x4), 1))
        # the 0.2 scaling keeps the very deep residual stack stable (ESRGAN, section 3.1)
        return x5 * 0.2 + x


class RRDB(nn.Module):
    """Residual-in-residual dense block: three :class:`ResidualDenseBlock`, residual scaled by 0.2."""

    def __init__(self, num_feat: int, num_grow_ch: int = 32):
        super().__init__()
        self.rdb1 = ResidualDenseBlock(num_feat, num_grow_ch)
        self.rdb2 = ResidualDenseBlock(num_feat, num_grow_ch)
        self.rdb3 = ResidualDenseBlock(num_feat, num_grow_ch)

    def forward(self, x):
        return self.rdb3(self.rdb2(self.rdb1(x))) * 0.2 + x


class RRDBNet(nn.Module):
    """ESRGAN / Real-ESRGAN generator: ``(N, num_in_ch, h, w)`` -> ``(N, num_out_ch, h*scale, w*scale)``.

    Parameters
    ----------
    num_in_ch, num_out_ch : int
        Image channels (3 for RGB).
    scale : int
        1, 2 or 4. For 1 and 2 the input is pixel-unshuffled (``h`` and ``w`` must then be
        multiples of 4 and 2).
    num_feat : int
        Feature channels of the body (64 in the published models).
    num_block : int
        Number of RRDB blocks (23 in ESRGAN / RealESRGAN_x4plus, 6 in the anime model).
    num_grow_ch : int
        Growth channels of the dense blocks (32).

    Examples
    --------
    >>> import torch
    >>> RRDBNet(num_feat=8, num_block=1, num_grow_ch=4)(torch.rand(1, 3, 5, 7)).shape
    torch.Size([1, 3, 20, 28])
    """

    def __init__(self, num_in_ch=3, num_out_ch=3, scale=4, num_feat=64, num_block=23, num_grow_ch=32):
        super().__init__()
        if scale not in UNSHUFFLE:
            raise ValueError(f"RRDBNet upscales by 1, 2 or 4, not {scale}")
        self.scale = scale
        self.num_block = num_block
        self.conv_first = nn.Conv2d(num_in_ch * UNSHUFFLE[scale] ** 2, num_feat, 3, 1, 1)
        self.body = nn.Sequential(*[RRDB(num_feat, num_grow_ch) for _ in range(num_block)])
        self.conv_body = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.conv_up1 = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.conv_up2 = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.conv_hr = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.conv_last = nn.Conv2d(num_feat, num_out_ch, 3, 1, 1)
        self.lrelu = nn.LeakyReLU(negative_slope=0.2, inplace=True)

    def forward(self, x):
        f = UNSHUFFLE[self.scale]
        feat = self.conv_first(F.pixel_unshuffle(x, f) if f > 1 else x)
        feat = feat + self.conv_body(self.body(feat))
        feat = self.lrelu(self.conv_up1(F.interpolate(feat, scale_factor=2, mode="nearest")))
        feat = self.lrelu(self.conv_up2(F.interpolate(feat, scale_factor=2, mode="nearest")))
        return self.conv_last(self.lrelu(self.conv_hr(feat)))

    def receptive_radius(self) -> int:
        """Input pixels of context each output pixel depends on (each side): the exact tile margin.

        ``15 * num_block + 2`` 3x3 convolutions at the body's resolution, plus two body pixels for
        the four convolutions after the upsamplings; times the unshuffle factor, plus the pixels
        the factor's blocks span.

        >>> RRDBNet(num_feat=8, num_block=1, num_grow_ch=4).receptive_radius()
        19
        """
        f = UNSHUFFLE[self.scale]
        return f * (15 * self.num_block + 2 + 3) - 1


_OLD_TOP = {
    "model.0.": "conv_first.",
    "model.3.": "conv_up1.",
    "model.6.": "conv_up2.",
    "model.8.": "conv_hr.",
    "model.10.": "conv_last.",
}
_OLD_BLOCK = re.compile(r"^model\.1\.sub\.(\d+)\.RDB(\d)\.conv(\d)\.0\.(weight|bias)$")
_OLD_TRUNK = re.compile(r"^model\.1\.sub\.(\d+)\.(weight|bias)$")


def is_old_esrgan(state: dict) -> bool:
    """Whether ``state`` uses the original ESRGAN release's key layout (``model.0.weight``, ...)."""
    return "model.0.weight" in state and any(k.startswith("model.1.sub.") for k in state)


def convert_old_esrgan(state: dict) -> dict:
    """Rename the original ESRGAN release's keys (x4 models) to :class:`RRDBNet`'s.

    The old code was one ``nn.Sequential``: ``model.0`` the first conv, ``model.1.sub`` the
    blocks followed by the trunk conv (its last entry), then upsample / conv / LeakyReLU layers,
    so only the convolutions (``model.3``, ``.6``, ``.8``, ``.10``) hold weights. Each dense-block
    conv was a ``Sequential(conv, act)``, hence the ``.0``. Keys it does not know stay as they are
    (a strict load then names them).

    Examples
    --------
    >>> convert_old_esrgan({"model.1.sub.0.RDB2.conv5.0.weight": 1, "model.1.sub.1.bias": 2, "model.10.bias": 3})
    {'body.0.rdb2.conv5.weight': 1, 'conv_body.bias': 2, 'conv_last.bias': 3}
    """
    out = {}
    for k, v in state.items():
        m = _OLD_BLOCK.match(k)
        if m:
            out[f"body.{m.group(1)}.rdb{m.group(2)}.conv{m.group(3)}.{m.group(4)}"] = v
            continue
        m = _OLD_TRUNK.match(k)
        if m:  # the only parameterised entry of the trunk that is not a block: the conv after them
            out[f"conv_body.{m.group(2)}"] = v
            continue
        for old, new in _OLD_TOP.items():
            if k.startswith(old):
                out[new + k[len(old) :]] = v
                break
        else:
            out[k] = v
    return out
