"""The noise of real photos measured as what the real-photo denoiser removes.

:func:`~imagewizard.analysis.estimate.noise.noise_sigma` reads the noise from the finest scale of
weakly textured patches: exact for white noise, but camera noise is spatially correlated by
demosaicing and JPEG, so most of its energy sits at coarser scales and that estimate reads a
small fraction of it (docs/noise-estimation.md). The blind real-photo denoiser (``real``) was
trained on exactly that noise, so the RMS of what it removes, ``noisy - real(noisy)``, measures
the whole noise, correlated and signal-dependent alike. Under JPEG the error also holds what the
compression took away, which no denoiser returns: when the pixels show a JPEG grid and its
quality (:func:`~imagewizard.analysis.estimate.jpeg.jpeg_quality`), that part is estimated as what
the same compression takes from the denoised image, and added in quadrature. To stay quick on
large photos it runs on up to ``crops`` crops of ``side`` pixels spread over the image.
"""

from __future__ import annotations

import numpy as np


def available() -> bool:
    """Whether the real-photo denoiser is installed (torch and its weights)."""
    from imagewizard.core import registry

    registry.load_builtins()
    try:
        return registry.get("denoise", "real").unavailable_reason() is None
    except Exception:  # noqa: BLE001 - no such method: not available
        return False


def crops_of(x: np.ndarray, side: int = 256, crops: int = 4) -> list[np.ndarray]:
    """Up to ``crops`` ``side``-pixel crops on a grid over ``x`` (the whole image when it is small)."""
    h, w = x.shape[:2]
    if h * w <= crops * side * side:
        return [x]
    n = int(np.ceil(np.sqrt(crops)))
    ys = np.linspace(0, max(h - side, 0), n).astype(int)
    xs = np.linspace(0, max(w - side, 0), n).astype(int)
    return [x[y : y + side, x0 : x0 + side] for y in ys for x0 in xs][:crops]


def noise_rms(img, *, side: int = 256, crops: int = 4) -> float | None:
    """RMS (0..255 scale) of what the real-photo denoiser removes; None when it is not installed.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> flat = np.full((96, 96, 3), 0.5, np.float32)
    >>> est = noise_rms(flat + rng.normal(0, 10 / 255, flat.shape).astype(np.float32))
    >>> est is None or abs(est - 10) < 2
    True
    """
    if not available():
        return None
    from imagewizard.api import apply
    from imagewizard.core.arrays import as_float_image

    from imagewizard.analysis.estimate.jpeg import jpeg_quality
    from imagewizard.physics.degrade import jpeg_compress

    x = as_float_image(img)
    quality = jpeg_quality(x)[0]  # the grid's quantisation, read from the pixels; None: no JPEG seen
    total = lost = 0.0
    count = 0
    for c in crops_of(x, side, crops):
        den = apply("denoise", c, "real", threads=0)
        total += float(np.sum((np.asarray(c, np.float64) - den) ** 2))
        if quality:  # what JPEG itself took away, which no denoiser gives back: as much as it takes from den
            lost += float(np.sum((den.astype(np.float64) - jpeg_compress(den, quality)) ** 2))
        count += c.size
    return 255.0 * float(np.sqrt((total + lost) / max(count, 1)))
