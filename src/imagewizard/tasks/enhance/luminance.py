"""Changing the brightness of a colour image without changing its hues.

Tone operations on colour images (equalization, CLAHE, histogram matching to
a gray reference, sharpening) work on the luminance ``Y`` (BT.601 weights)
and then bring the colours along. Replacing ``Y`` in YCbCr and keeping the
chroma leaves the RGB gamut (then clipping shifts the hue). Here each pixel
gets the hue-preserving, gamut-safe map of Naik & Murthy ("Hue-preserving
color image enhancement without gamut problem", IEEE TIP 12, 2003): with
``a = Y'/Y``,

* ``a <= 1``: ``rgb' = a * rgb`` (darken by scaling);
* ``a > 1``:  ``rgb' = 1 - (1 - rgb) (1 - Y') / (1 - Y)`` (brighten in the
  complementary space, which cannot leave [0, 1]).

Both are ``p * rgb + q`` with the same ``p > 0`` and ``q`` for the three
channels, so HSV hue is unchanged exactly, the new luminance is exactly
``Y'``, and the result stays within [0, 1].
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
    darker = ny <= y
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.where(darker, ny / np.where(y > 0, y, 1.0), (1.0 - ny) / np.where(y < 1, 1.0 - y, 1.0))
    scale = np.where(darker & (y <= 0), 0.0, scale)[..., None]
    out = np.where(darker[..., None], scale * x, 1.0 - (1.0 - x) * scale)
    return np.clip(out, 0.0, 1.0).astype(np.float32)


def on_luminance(img: np.ndarray, func) -> np.ndarray:
    """Apply a gray-image function to the luminance of ``img`` and keep hues; gray images directly."""
    x = np.asarray(img, dtype=np.float32)
    if x.ndim == 2:
        return np.asarray(func(x), dtype=np.float32)
    return with_luminance(x, func(luminance(np.clip(x, 0.0, 1.0))))
