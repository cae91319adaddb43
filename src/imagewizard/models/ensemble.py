"""Geometric self-ensemble: average a denoiser over flipped and rotated copies of its input.

Natural images have no preferred orientation, so each of the eight dihedral transforms gives an
equally good estimate whose errors are partly independent; their mean gains about 0.1 dB PSNR
(Lim et al. 2017, EDSR+; KAIR's ``test_mode=3``) for N times the compute.
"""

from __future__ import annotations

import torch
import torch.nn as nn

#: (quarter turns, mirrored) in the order used: the first two, four or all eight.
TRANSFORMS = ((0, False), (0, True), (1, False), (1, True), (2, False), (2, True), (3, False), (3, True))


class SelfEnsemble(nn.Module):
    """Mean of ``model`` over the first ``copies`` of :data:`TRANSFORMS` (1 = the model itself)."""

    def __init__(self, model: nn.Module, copies: int = 8):
        super().__init__()
        if not 1 <= copies <= len(TRANSFORMS):
            raise ValueError(f"copies must be 1..{len(TRANSFORMS)}, got {copies}")
        self.model, self.copies = model, int(copies)
        for k in ("in_channels", "multiple", "receptive_margin"):
            if hasattr(model, k):
                setattr(self, k, getattr(model, k))

    def forward(self, x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        total = None
        for turns, mirror in TRANSFORMS[: self.copies]:
            t = torch.flip(x, (-1,)) if mirror else x
            y = self.model(torch.rot90(t, turns, (-2, -1)), sigma)
            y = torch.rot90(y, -turns, (-2, -1))
            y = torch.flip(y, (-1,)) if mirror else y
            total = y if total is None else total + y
        return total / self.copies
