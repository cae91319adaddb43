"""Changing the brightness of a colour image without changing its hues.

Tone operations on colour images (equalization, CLAHE, histogram matching to
a gray reference, sharpening) work on the luminance ``Y`` (BT.601 weights)
and then bring the colours along. Replacing ``Y`` in YCbCr and keeping the
chroma leaves the RGB gamut (then clipping shifts the hue). Here each pixel
gets ``rgb' = p * rgb + q``, the same ``p > 0`` and ``q`` for the three
channels, so HSV hue is unchanged exactly and the new luminance is exactly
``Y'``; with ``a = Y'/Y``:

* while ``a * max(rgb) <= 1``: ``rgb' = a * rgb``, a pure scaling, which also
  keeps HSV saturation exactly (darkening always is one);
* beyond, the pixel would leave the gamut: its brightest channel is put at 1
  and the others follow on the line through ``Y'`` (``p = (1 - Y')/(max - Y)``,
  ``q = 1 - p max``), the least desaturation that stays within [0, 1].

Naik & Murthy ("Hue-preserving color image enhancement without gamut
problem", IEEE TIP 12, 2003) brighten every pixel in the complementary space
instead (``1 - (1 - rgb)(1 - Y')/(1 - Y)``), which pulls all colours towards
white: lifting a dark photo with CLAHE that way dropped its mean saturation
from 0.33 to 0.14 (issue 18).
"""

from __future__ import annotations

import numpy as np

from imagewizard.core.arrays import to_gray


def luminance(img: np.ndarray) -> np.ndarray:
    """BT.601 luminance of an RGB image (gray images pass through), float32."""
    return to_gray(np.asarray(img, dtype=np.float32))


def with_luminance(rgb: np.ndarray, new_y: np.ndarray) -> np.ndarray:
    """Give RGB image ``rgb`` (values in [0, 1]) the luminance ``new_y`` (in [0, 1]), keeping its hues.

    Examples
    --------
    >>> import numpy as np
    >>> rgb = np.array([[[0.2, 0.4, 0.1]]], np.float32)
    >>> out = with_luminance(rgb, np.array([[0.6]], np.float32))
    >>> round(float(out[0, 0] @ np.array([0.299, 0.587, 0.114])), 4)
    0.6
    """
    x = np.clip(np.asarray(rgb, dtype=np.float64), 0.0, 1.0)
    y = x @ np.array([0.299, 0.587, 0.114])
    ny = np.clip(np.asarray(new_y, dtype=np.float64), 0.0, 1.0)
    top = x.max(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        a = np.where(y > 0, ny / np.where(y > 0, y, 1.0), 0.0)
        fits = a * top <= 1.0
        # out of gamut: the brightest channel at 1, the line p*rgb + q through the new luminance
        p = np.where(top > y, (1.0 - ny) / np.where(top > y, top - y, 1.0), 0.0)
    scaled = a[..., None] * x
    limited = p[..., None] * x + (1.0 - p * top)[..., None]
    out = np.where(fits[..., None], scaled, limited)
    grey_or_black = (y <= 0) | (~fits & (top <= y))  # no colour to keep: the new level in every channel
    out = np.where(grey_or_black[..., None], ny[..., None], out)
    return np.clip(out, 0.0, 1.0).astype(np.float32)


def on_luminance(img: np.ndarray, func) -> np.ndarray:
    """Apply a gray-image function to the luminance of ``img`` and keep hues; gray images directly."""
    x = np.asarray(img, dtype=np.float32)
    if x.ndim == 2:
        return np.asarray(func(x), dtype=np.float32)
    return with_luminance(x, func(luminance(np.clip(x, 0.0, 1.0))))
