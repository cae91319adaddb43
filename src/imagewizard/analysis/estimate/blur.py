"""Blur: sharpness, the ratio of fine detail to what the noise level predicts, and whether an
image counts as blurred."""

from __future__ import annotations

import cv2
import numpy as np

from imagewizard.analysis.estimate.common import _image, _luma255
from imagewizard.analysis.estimate.noise import _noise_sigma


#: :func:`detail_ratio` below this: likely blurred. Calibrated on the 200 BSDS500
#: train images: as they are 0.13-0.53, after a Gaussian blur of sigma 2 0.024-0.061
#: (the threshold is their geometric middle; sigma 1.5 blur gives at most 0.08).
BLUR_THRESHOLD = 0.09


_LUMA_NOISE = float(np.sqrt(0.299**2 + 0.587**2 + 0.114**2))


def sharpness(img) -> float:
    """Variance of the Laplacian of the luminance (0..255 scale): the classic focus measure.

    Higher is sharper, but the value depends on contrast, content and
    noise, so it compares versions of one image better than different
    images; :func:`detail_ratio` and :func:`is_blurred` are normalised.

    Examples
    --------
    >>> from skimage import data
    >>> img = data.camera() / 255.0
    >>> sharpness(img) > sharpness(cv2.GaussianBlur(img, (0, 0), 2))
    True
    """
    return _sharpness(_luma255(_image(img)))


def _sharpness(g: np.ndarray) -> float:
    return float(cv2.Laplacian(g, cv2.CV_32F, ksize=1).astype(np.float64).var())


def _detail_energy(g: np.ndarray, s: float) -> tuple[float, float]:
    """Mean energy of g minus its Gaussian blur of std s, and the same for unit white noise."""
    ksize = int(round(s * 8 + 1)) | 1  # OpenCV's own choice for float images
    k = cv2.getGaussianKernel(ksize, s, cv2.CV_64F)
    k2 = k @ k.T
    c = ksize // 2
    noise = 1.0 - 2.0 * float(k2[c, c]) + float(np.sum(k2 * k2))  # ||delta - kernel||^2
    d = g - cv2.GaussianBlur(g, (ksize, ksize), s, borderType=cv2.BORDER_REFLECT)
    return float(np.mean(d * d, dtype=np.float64)), noise


def detail_ratio(img, *, sigma: float | None = None) -> float:
    """Share of the finest detail: a contrast-independent blur measure (about 0.1-0.5 sharp, < 0.09 blurred).

    The energy of the luminance minus its Gaussian blur of std 1 (the
    finest detail) over the same with std 3 (all detail up to ~3 pixels).
    A blur removes the first much more than the second. The part of both
    energies due to white noise of level ``sigma`` (estimated with
    :func:`noise_sigma` if not given; per channel for colour images) is
    subtracted, so noise does not pass for detail.

    Examples
    --------
    >>> from skimage import data
    >>> img = data.camera() / 255.0
    >>> detail_ratio(img) > BLUR_THRESHOLD > detail_ratio(cv2.GaussianBlur(img, (0, 0), 2))
    True
    """
    x = _image(img)
    return _detail_ratio(_luma255(x), x.ndim == 3, float(_noise_sigma(x) if sigma is None else sigma))


def _detail_ratio(g: np.ndarray, color: bool, s: float) -> float:
    if color:
        s *= _LUMA_NOISE  # the luminance averages independent channel noise
    e1, n1 = _detail_energy(g, 1.0)
    e3, n3 = _detail_energy(g, 3.0)
    fine, coarse = max(e1 - s * s * n1, 0.0), max(e3 - s * s * n3, 0.0)
    return float(fine / coarse) if coarse > 0 else 0.0


def is_blurred(img, *, sigma: float | None = None) -> bool:
    """True when :func:`detail_ratio` is below :data:`BLUR_THRESHOLD` (a blur of std ~1.5 px or more).

    Flat images (no detail at all) count as not blurred.
    """
    x = _image(img)
    g = _luma255(x)
    if float(g.std()) < 1.0:
        return False
    return _detail_ratio(g, x.ndim == 3, float(_noise_sigma(x) if sigma is None else sigma)) < BLUR_THRESHOLD
