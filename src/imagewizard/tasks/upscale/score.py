"""The upscale task's inputs and scores: the factor, and the papers' Y-channel PSNR/SSIM."""

from __future__ import annotations

from typing import Any

import numpy as np

from imagewizard.core.errors import ParameterError

MAX_SCALE = 8


def resolve_scale(value: Any, shape=None) -> int:
    """An integer factor 2..8 from a number or a string ('2', '2x', 'x2')."""
    v = value
    if isinstance(v, str):
        v = v.strip().lower().strip("x")
    try:
        f = float(v)
    except (TypeError, ValueError):
        raise ParameterError(f"scale must be an integer 2-{MAX_SCALE}, got {value!r}") from None
    if isinstance(value, bool) or not f.is_integer() or not 2 <= f <= MAX_SCALE:
        raise ParameterError(f"scale must be an integer 2-{MAX_SCALE}, got {value!r}")
    return int(f)


def check_scale_field(value: Any, where: str) -> None:
    try:
        resolve_scale(value)
    except ParameterError as exc:
        raise ParameterError(f"{where}: field 'scale': {exc}") from None


def score(clean, out, *, scale: int | None = None) -> dict[str, float]:
    """PSNR/SSIM/MSE/MAE on the Y channel of YCbCr (BT.601, MATLAB's ``rgb2ycbcr``) with a border of
    ``scale`` pixels removed, as super-resolution papers report; ``psnr_rgb`` on all channels with
    the same border. Gray images are scored as they are. ``scale`` defaults to the ratio the
    benchmark recorded; without it, no border is removed."""
    from imagewizard.analysis.metrics import compare, psnr

    clean, out = np.asarray(clean), np.asarray(out)
    if clean.shape != out.shape:
        raise ParameterError(f"upscaled shape {out.shape} does not match the clean image {clean.shape}")
    border = int(scale or 0)
    y = clean.ndim == 3 and clean.shape[2] == 3
    scores = compare(clean, out, crop=border, y_channel=y)
    scores["psnr_rgb"] = psnr(clean, out, crop=border)
    return scores
