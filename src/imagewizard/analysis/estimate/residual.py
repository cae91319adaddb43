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
    lv = levels(img, side=side, crops=crops)
    return None if lv is None else lv["rms"]


def levels(img, *, side: int = 256, crops: int = 4) -> dict[str, float] | None:
    """What the real-photo denoiser removes, on up to ``crops`` crops: ``removed`` (RMS of ``noisy -
    real(noisy)``), ``jpeg_loss`` (what the image's own JPEG quality takes from the denoised crops,
    0 without a JPEG grid) and ``rms`` (both in quadrature: the noise level :func:`noise_rms`
    reports), all on the 0..255 scale; None when the denoiser is not installed."""
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
    n = max(count, 1)
    return {
        "removed": 255.0 * float(np.sqrt(total / n)),
        "jpeg_loss": 255.0 * float(np.sqrt(lost / n)),
        "rms": 255.0 * float(np.sqrt((total + lost) / n)),
    }


def map_rms(img, *, side: int = 256, crops: int = 4) -> float | None:
    """RMS (0..255 scale) of the real-photo denoiser's own estimated noise map on the crops of
    :func:`levels`; None without the weights or any backend. Its estimator runs on ONNX Runtime
    when installed (a small graph cached beside the denoiser's: no torch import), else on torch."""
    if not available():
        return None
    from imagewizard.core.arrays import as_float_image

    x = as_float_image(img)
    if x.ndim == 2:  # gray runs through the colour weights as three equal channels, as the method does
        x = np.repeat(x[..., None], 3, axis=2)
    estimate = _map_estimator()
    if estimate is None:
        return None
    total, count = 0.0, 0
    for c in crops_of(x, side, crops):
        total += float(np.sum(estimate(np.ascontiguousarray(c, dtype=np.float32)).astype(np.float64) ** 2))
        count += c.size
    return float(np.sqrt(total / max(count, 1)))


def _map_estimator():
    """HxWx3 image -> HxWx3 map (0..255) of the shipped real-photo denoiser: ONNX Runtime first."""
    from imagewizard.models import onnx_backend, zoo

    path = zoo.find("real-color")
    if path is None:
        return None
    if onnx_backend.available():
        try:
            return onnx_backend.load_map(path)
        except Exception:  # noqa: BLE001 - a graph that cannot be made here: torch below
            pass
    try:
        import torch

        net = zoo.load("real-color")[0]
    except Exception:  # noqa: BLE001 - no torch: no map
        return None

    def run(c: np.ndarray) -> np.ndarray:
        t = torch.from_numpy(c).permute(2, 0, 1)[None]
        with torch.no_grad():
            return net.noise_map(t.float())[0].permute(1, 2, 0).numpy()

    return run


#: The real-photo denoiser's map reads about 8 (0..255) even on nearly clean photos, where it then
#: smooths detail away. When the noise it measures (:func:`noise_rms`) is below its map's level, the
#: wizard scales the map by ``(rms / map) ** STRENGTH_POWER``, at least :data:`STRENGTH_MIN`. Chosen
#: on the four held-out package photos (never on a test set): over 14 noise cases (camera ISO
#: 100-6400 with and without JPEG, Gaussian 5 / 15+JPEG / 30, Poisson+JPEG) the power 2 gave +0.37 dB
#: on average over strength 1 (power 1: +0.24, 1.5: +0.32), up to +1.5 dB at ISO 100, and lost at
#: most 0.02 dB at high noise; on 11 more cases weighted to JPEG (quality 70-95) +0.14 on average,
#: the ratio with JPEG's loss counted slightly ahead of the one without it, the worst case Gaussian
#: 10 + JPEG 70 at -0.13 dB (docs/benchmarks.md).
STRENGTH_POWER = 2.0
STRENGTH_MIN = 0.25


def calibrated_strength(measured: float, map_level: float | None) -> float:
    """Strength for the real-photo denoiser from the noise measured on the image (:func:`noise_rms`)
    and its own map's level (:func:`map_rms`): 1 when the map is no higher, or unknown.

    Examples
    --------
    >>> calibrated_strength(4.0, 8.0)
    0.25
    >>> calibrated_strength(12.0, 10.0)
    1.0
    """
    if not map_level or map_level <= 0 or measured >= map_level:
        return 1.0
    return float(max(STRENGTH_MIN, (measured / map_level) ** STRENGTH_POWER))
