"""A compact boundary network: HED's shape (Xie & Tu 2015), sized for a CPU and trained from scratch.

Four VGG-like stages (3x3 conv + batch norm + ReLU, max-pool between stages); each stage has a
1x1 side output, upsampled to the input size; a 1x1 fusion of the side outputs is the answer.
Every side output is supervised too (deep supervision), so the shallow stages learn fine edges and
the deep ones object outlines. It returns logits; ``sigmoid`` gives the boundary probability.

Examples
--------
>>> import torch
>>> net = EdgeNet(widths=(4, 8, 8, 8))
>>> [o.shape[-2:] for o in net(torch.rand(1, 3, 20, 30))][-1]
torch.Size([20, 30])
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def _stage(cin: int, cout: int, convs: int) -> nn.Sequential:
    layers = []
    for i in range(convs):
        layers += [
            nn.Conv2d(cin if i == 0 else cout, cout, 3, padding=1, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU(inplace=True),
        ]
    return nn.Sequential(*layers)


class EdgeNet(nn.Module):
    """``(N, 3, H, W)`` RGB in [0, 1] -> side logits (one per stage) and the fused logits, each ``(N, 1, H, W)``."""

    def __init__(self, widths=(24, 48, 96, 128), convs=(2, 2, 3, 3)):
        super().__init__()
        self.stages = nn.ModuleList()
        cin = 3
        for w, c in zip(widths, convs):
            self.stages.append(_stage(cin, w, c))
            cin = w
        self.sides = nn.ModuleList(nn.Conv2d(w, 1, 1) for w in widths)
        self.fuse = nn.Conv2d(len(widths), 1, 1)
        nn.init.constant_(self.fuse.weight, 1.0 / len(widths))
        nn.init.zeros_(self.fuse.bias)

    def forward(self, x):
        h, w = x.shape[-2:]
        f = (x - 0.45) / 0.25
        outs = []
        for i, (stage, side) in enumerate(zip(self.stages, self.sides)):
            if i:
                f = F.max_pool2d(f, 2, ceil_mode=True)
            f = stage(f)
            s = side(f)
            if s.shape[-2:] != (h, w):
                s = F.interpolate(s, size=(h, w), mode="bilinear", align_corners=False)
            outs.append(s)
        outs.append(self.fuse(torch.cat(outs, 1)))
        return outs
