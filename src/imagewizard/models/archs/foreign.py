"""The wrapper that gives users' own upscalers (RRDBNet, SRVGGNetCompact, SwinIR) the project's upscaler
interface; kept apart from :mod:`imagewizard.models.foreign_sr` so that listing methods never imports torch."""

from __future__ import annotations

import torch
from torch import nn

from imagewizard.models.foreign_sr import MAX_MARGIN, MIN_MARGIN, _round_up


class ForeignUpscaler(nn.Module):
    """A loaded RRDBNet / SRVGGNetCompact / SwinIR with the project's upscaler interface.

    Parameters
    ----------
    net : torch.nn.Module
        The network (``net.scale`` or ``net.upscale`` its factor).
    arch : str
        ``'RRDBNet'``, ``'SRVGGNetCompact'`` or ``'SwinIR'``.

    Attributes
    ----------
    scales : tuple of int
        ``(scale,)``: the one factor the weights upscale by.
    multiple : int
        Input sides must be multiples of this for the network (the pixel-unshuffle of x2 / x1
        RRDBNets); :meth:`forward` pads by reflection and crops, and tiles should start on it.
        (SwinIR pads to its window itself.)
    channels : int
        Image channels the network takes (3; 1 for a gray model, run on each channel in turn).
    radius : int
        Exact receptive-field radius in input pixels.
    margin : int
        Tile margin used by the ``model`` method: ``radius`` clipped to [16, 32], rounded up to
        ``multiple``.
    """

    def __init__(self, net, arch: str):
        super().__init__()
        self.net, self.arch = net, arch
        self.scale = int(getattr(net, "scale", None) or net.upscale)
        self.scales = (self.scale,)
        self.multiple = 4 // self.scale if arch == "RRDBNet" else 1
        self.radius = int(net.receptive_radius())
        if arch == "RRDBNet":  # its first conv sees the unshuffled input: count the output channels
            self.channels = int(net.conv_last.weight.shape[0])
        else:
            self.channels = int((net.conv_first if arch == "SwinIR" else net.body[0]).weight.shape[1])
        self.margin = _round_up(min(max(self.radius, MIN_MARGIN), MAX_MARGIN), self.multiple)

    def forward(self, x, sigma=None, scale=None):
        """``(N, C, h, w)`` float in [0, 1] -> ``(N, C, h*scale, w*scale)``; ``sigma`` is ignored."""
        if scale is not None and int(scale) != self.scale:
            raise ValueError(f"this network upscales by {self.scale}, not {scale}")
        h, w = x.shape[-2:]
        ph, pw = -h % self.multiple, -w % self.multiple
        if ph or pw:  # as Real-ESRGAN's pre-processing: reflect to the unshuffle's multiple, crop after
            mode = "reflect" if h > ph and w > pw else "replicate"
            x = torch.nn.functional.pad(x, (0, pw, 0, ph), mode=mode)
        if self.channels == 1 and x.shape[1] > 1:
            # a gray model: once when the channels are equal (a gray image), else each in turn
            if bool((x == x[:, :1]).all()):
                out = self.net(x[:, :1]).expand(-1, x.shape[1], -1, -1)
            else:
                out = torch.cat([self.net(x[:, c : c + 1]) for c in range(x.shape[1])], 1)
        else:
            out = self.net(x)
        return out[..., : h * self.scale, : w * self.scale]
