"""Unsharp masking: sharpening by adding back the detail a Gaussian blur removes."""

from __future__ import annotations

import numpy as np
from imagewizard.core.lazy import lazy
from imagewizard.core.registry import Param, register
from imagewizard.tasks.enhance.luminance import luminance

# heavy dependencies load when a method runs, not when it is declared (core.lazy)
ndimage = lazy("scipy.ndimage")


@register(
    "enhance",
    "unsharp",
    "Unsharp masking: adds amount x (image - blurred image) to sharpen edges.",
    params=[
        Param(
            "radius",
            float,
            1.0,
            "standard deviation in pixels of the Gaussian blur that "
            "defines detail: about the width of the edges to sharpen",
            low=0.1,
            high=100.0,
        ),
        Param("amount", float, 1.0, "gain of the added detail (1 = edges' contrast doubled)", low=0.0, high=20.0),
        Param(
            "threshold",
            float,
            0.0,
            "detail weaker than this many 8-bit levels (0-255) is left "
            "alone, so flat areas' noise is not amplified (as Photoshop's threshold)",
            low=0.0,
            high=255.0,
        ),
    ],
    halo=64,
    tags=("fast", "sharpen"),
)
def unsharp(img: np.ndarray, *, radius: float = 1.0, amount: float = 1.0, threshold: float = 0.0) -> np.ndarray:
    """Unsharp mask ``x + amount * (x - G_radius * x)`` where ``|x - G * x| >= threshold / 255``.

    ``G`` is a Gaussian of standard deviation ``radius`` (mirrored borders,
    truncated at 4 standard deviations, as
    :func:`skimage.filters.unsharp_mask`, which this equals for gray images
    and ``threshold=0``). Colour images: the detail is taken from the
    luminance and added to R, G and B alike, which sharpens without colour
    fringes and keeps hues.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.zeros((9, 9), np.float32); x[:, 5:] = 0.5
    >>> out = unsharp(x, radius=1.0, amount=1.0)
    >>> float(out[4, 5]) > 0.5 and float(out[4, 4]) < 0.0
    True
    """
    x = np.asarray(img, dtype=np.float32)
    base = luminance(x) if x.ndim == 3 else x
    detail = base - ndimage.gaussian_filter(base, radius, mode="reflect", truncate=4.0)
    if threshold > 0:
        detail = np.where(np.abs(detail) >= np.float32(threshold / 255.0), detail, np.float32(0.0))
    boost = np.float32(amount) * detail
    return (x + (boost[:, :, None] if x.ndim == 3 else boost)).astype(np.float32)
