"""Tone: histogram statistics, contrast and exposure."""

from __future__ import annotations

import numpy as np

from imagewizard.core.arrays import to_gray
from imagewizard.analysis.estimate.common import _image


_DARK, _BRIGHT = 1.0 / 255.0, 254.0 / 255.0  # clipped to black / white at 8 bits


_UNDER_MEAN, _OVER_MEAN = 0.25, 0.75  # mean luminance limits of a normal exposure


_CLIP_LIMIT = 0.05  # clipped fraction that makes an exposure bad


_LOW_SPREAD = 0.35  # 1st-99th percentile spread of low contrast


_SAMPLE = 2_000_000  # values a percentile is taken over at most


def _percentiles(v: np.ndarray, q) -> np.ndarray:
    """Percentiles of the values, from an evenly strided sample of at most 2 million of them."""
    return np.percentile(v.ravel()[:: max(1, v.size // _SAMPLE)], q)


def histogram_stats(img) -> dict:
    """Value statistics over all pixels and channels (on the image's own scale, nominally 0..1).

    Returns ``min``, ``max``, ``mean``, ``std``, ``p1``, ``p99`` (1st/99th
    percentiles) and ``range_used`` (``p99 - p1``: the fraction of [0, 1]
    the bulk of the values spans); colour images add ``channel_means``.

    Examples
    --------
    >>> histogram_stats(np.linspace(0, 1, 101).reshape(1, 101))["range_used"]
    0.98
    """
    return _histogram_stats(_image(img))


def _histogram_stats(x: np.ndarray) -> dict:
    p1, p99 = _percentiles(x, (1, 99))
    out = {
        "min": float(x.min()),
        "max": float(x.max()),
        "mean": float(x.mean(dtype=np.float64)),
        "std": float(x.std(dtype=np.float64)),
        "p1": float(p1),
        "p99": float(p99),
        "range_used": round(float(p99 - p1), 6),
    }
    if x.ndim == 3:
        out["channel_means"] = [float(v) for v in x.reshape(-1, x.shape[2]).mean(axis=0)]
    return out


def contrast(img) -> dict:
    """Whether the image is low in contrast.

    ``spread`` is the 1st-99th percentile range of the luminance (on
    [0, 1]); ``low_contrast`` is True when it is below 0.35 or when
    ``skimage.exposure.is_low_contrast`` (spread below 5% of the 8-bit
    range) says so. ``skimage_low_contrast`` is that second test alone.

    Examples
    --------
    >>> contrast(np.linspace(0.4, 0.6, 100).reshape(10, 10))["low_contrast"]
    True
    """
    return _contrast(to_gray(_image(img)))


def _contrast(y: np.ndarray) -> dict:
    from skimage.exposure import is_low_contrast

    p1, p99 = _percentiles(y, (1, 99))
    sample = y.ravel()[:: max(1, y.size // _SAMPLE)]  # percentiles need no more
    sk = bool(is_low_contrast(np.round(np.clip(sample, 0, 1) * 255).astype(np.uint8)))
    spread = float(p99 - p1)
    return {"spread": spread, "low_contrast": bool(sk or spread < _LOW_SPREAD), "skimage_low_contrast": sk}


def exposure(img) -> dict:
    """Exposure verdict from the mean luminance and the clipped fractions.

    ``dark_clipped``/``bright_clipped`` are the fractions of pixels whose
    luminance is at most 1/255 or at least 254/255. The verdict
    ``exposure`` is ``'under'`` when the mean luminance is below 0.25 or
    more than 5% of the pixels are crushed to black (and fewer to white),
    ``'over'`` symmetrically (above 0.75, or more than 5% blown to white),
    else ``'ok'``.

    Examples
    --------
    >>> exposure(np.full((8, 8), 0.1))["exposure"]
    'under'
    """
    return _exposure(to_gray(_image(img)))


def _exposure(y: np.ndarray) -> dict:
    mean = float(y.mean(dtype=np.float64))
    dark = float(np.mean(y <= _DARK))
    bright = float(np.mean(y >= _BRIGHT))
    under = mean < _UNDER_MEAN or dark > _CLIP_LIMIT
    over = mean > _OVER_MEAN or bright > _CLIP_LIMIT
    if under and over:  # both ends clipped: the larger loss decides
        under, over = dark >= bright, bright > dark
    verdict = "under" if under else "over" if over else "ok"
    return {"exposure": verdict, "mean_luminance": mean, "dark_clipped": dark, "bright_clipped": bright}
