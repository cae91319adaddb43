"""Local filters: box, Gaussian, median, centre-weighted median and bilateral.

The first four ignore the noise level (their one parameter is a window
size); the bilateral filter takes its range parameter from it.
"""

from __future__ import annotations

import numpy as np

from imagewizard.core.lazy import lazy
from imagewizard.core.errors import ParameterError
from imagewizard.core.registry import Param, register
from imagewizard.tasks.denoise.opponent import per_opponent_channel
from imagewizard.tasks.denoise.rules import rule

# heavy dependencies load when a method runs, not when it is declared (core.lazy)
cv2 = lazy("cv2")
ndimage = lazy("scipy.ndimage")


def _odd(size: int, name: str = "size") -> int:
    if size % 2 != 1:
        raise ParameterError(f"parameter '{name}' must be odd (a window centred on the pixel), got {size}")
    return size


@register(
    "denoise",
    "box",
    "Box (moving-average) filter: every pixel becomes the mean of its window.",
    params=[Param("size", int, 3, "window side in pixels (odd)", low=1, high=99)],
    color="per-channel",
    halo=50,
    tags=("linear", "fast"),
)
def box(img: np.ndarray, *, size: int = 3) -> np.ndarray:
    """Replace each pixel by the mean of the ``size`` x ``size`` window around it.

    Linear, so it blurs edges as much as it removes noise; borders are
    mirrored (``reflect``, as :func:`scipy.ndimage.uniform_filter`). Colour
    images are filtered per channel (by the registry).

    Parameters
    ----------
    img : ndarray
        HxW float image.
    size : int
        Window side in pixels, odd.

    Examples
    --------
    >>> import numpy as np
    >>> float(box(np.eye(3, dtype=np.float32), size=3)[1, 1])
    0.3333333432674408
    """
    _odd(size)
    return cv2.blur(np.asarray(img, np.float32), (size, size), borderType=cv2.BORDER_REFLECT)


@register(
    "denoise",
    "gaussian",
    "Gaussian blur: a linear low-pass filter, weights fall off with distance.",
    params=[
        Param(
            "sigma_px",
            float,
            1.0,
            "standard deviation of the Gaussian kernel in pixels (the kernel is cut at 4 standard deviations)",
            low=0.1,
            high=50,
        )
    ],
    color="per-channel",
    halo=64,
    tags=("linear", "fast"),
)
def gaussian(img: np.ndarray, *, sigma_px: float = 1.0) -> np.ndarray:
    """Convolve with an isotropic Gaussian of standard deviation ``sigma_px`` pixels.

    Same as :func:`scipy.ndimage.gaussian_filter` (mirrored borders, kernel
    truncated at 4 standard deviations). Colour images are filtered per
    channel (by the registry).

    Examples
    --------
    >>> import numpy as np
    >>> out = gaussian(np.ones((8, 8), np.float32), sigma_px=2.0)
    >>> bool(np.allclose(out, 1.0))
    True
    """
    return ndimage.gaussian_filter(np.asarray(img, np.float32), sigma_px, mode="reflect", truncate=4.0)


@register(
    "denoise",
    "median",
    "Median filter: the classic cure for salt-and-pepper noise.",
    params=[Param("size", int, 3, "window side in pixels (odd)", low=1, high=99)],
    color="per-channel",
    halo=50,
    tags=("nonlinear", "impulse", "fast"),
)
def median(img: np.ndarray, *, size: int = 3) -> np.ndarray:
    """Replace each pixel by the median of the ``size`` x ``size`` window around it.

    Isolated outliers (salt-and-pepper, dead pixels) never reach the output
    as long as they fill less than half of the window. Wraps
    :func:`scipy.ndimage.median_filter` (mirrored borders); colour images are
    filtered per channel (by the registry).

    Examples
    --------
    >>> import numpy as np
    >>> x = np.zeros((5, 5), np.float32); x[2, 2] = 1.0
    >>> float(median(x, size=3)[2, 2])
    0.0
    """
    _odd(size)
    return ndimage.median_filter(np.asarray(img, np.float32), size=size, mode="reflect")


def weighted_median(img: np.ndarray, weights: np.ndarray, *, block_rows: int | None = None) -> np.ndarray:
    """Weighted median of each pixel's neighbourhood.

    The output is the smallest window value ``theta`` minimising
    ``sum_k w_k |x_k - theta|``: the window values are sorted and the first
    whose cumulative weight reaches half the total is taken. Borders are
    mirrored (``reflect``). Vectorised over pixels, in row blocks to bound
    memory.

    Parameters
    ----------
    img : ndarray
        HxW float image.
    weights : ndarray
        Non-negative ``k`` x ``l`` weights (odd sides), e.g. the 5x5 mask
        of ones with 2 in the inner 3x3.
    block_rows : int, optional
        Rows per block (default: about 4 million window values per block).

    Returns
    -------
    ndarray
        float32, same shape as ``img``.

    Examples
    --------
    >>> import numpy as np
    >>> w = np.ones((3, 3)); w[1, 1] = 3
    >>> x = np.zeros((3, 3), np.float32); x[1, 1] = 1
    >>> float(weighted_median(x, w)[1, 1])
    0.0
    """
    img = np.asarray(img, np.float32)
    w = np.asarray(weights, np.float64)
    if w.ndim != 2 or w.shape[0] % 2 != 1 or w.shape[1] % 2 != 1:
        raise ParameterError(f"weights must be a 2-D mask with odd sides, got shape {w.shape}")
    if (w < 0).any() or w.sum() <= 0:
        raise ParameterError("weights must be non-negative with a positive sum")
    ry, rx = w.shape[0] // 2, w.shape[1] // 2
    keep = w.ravel() > 0
    wv = w.ravel()[keep]
    half = 0.5 * wv.sum()
    padded = np.pad(img, ((ry, ry), (rx, rx)), mode="symmetric")
    windows = np.lib.stride_tricks.sliding_window_view(padded, w.shape)  # H x W x k x l, a view
    h, width = img.shape
    if block_rows is None:
        block_rows = max(1, int(4e6 // max(1, width * wv.size)))
    out = np.empty_like(img)
    for r0 in range(0, h, block_rows):
        block = windows[r0 : r0 + block_rows].reshape(-1, w.size)[:, keep]
        order = np.argsort(block, axis=1, kind="stable")
        cum = np.cumsum(wv[order], axis=1)
        pick = np.argmax(cum >= half - 1e-9 * half, axis=1)
        vals = np.take_along_axis(block, np.take_along_axis(order, pick[:, None], axis=1), axis=1)
        out[r0 : r0 + block_rows] = vals.reshape(-1, width)
    return out


def center_weighted_mask(size: int, center_weight: int) -> np.ndarray:
    """Weights of ones with ``center_weight`` inside the window's one-pixel border.

    ``center_weighted_mask(5, 2)`` is the classic 5x5 mask with 2 in the inner 3x3.
    """
    mask = np.ones((size, size))
    if size >= 3:
        mask[1:-1, 1:-1] = center_weight
    else:
        mask[:] = center_weight
    return mask


@register(
    "denoise",
    "weighted-median",
    "Centre-weighted median: a median that favours the pixels nearest the centre (salt-and-pepper).",
    params=[
        Param("size", int, 5, "window side in pixels (odd)", low=3, high=15),
        Param(
            "center_weight",
            int,
            2,
            "weight of the pixels inside the window's one-pixel border "
            "(the border ring has weight 1); 1 gives the plain median",
            low=1,
            high=50,
        ),
    ],
    color="per-channel",
    halo=50,
    tags=("nonlinear", "impulse"),
)
def weighted_median_filter(img: np.ndarray, *, size: int = 5, center_weight: int = 2) -> np.ndarray:
    """Centre-weighted median filter (5x5 with weight 2 on the inner 3x3 by default).

    Keeps more fine detail than a plain median of the same size because the
    inner pixels count more, while outliers still need to outweigh half the
    window to survive. Colour images are filtered per channel (by the
    registry). See :func:`weighted_median` for arbitrary masks.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.zeros((7, 7), np.float32); x[3, 3] = 1.0
    >>> float(weighted_median_filter(x)[3, 3])
    0.0
    """
    _odd(size)
    return weighted_median(img, center_weighted_mask(size, center_weight))


@register(
    "denoise",
    "bilateral",
    "Bilateral filter: Gaussian smoothing that skips across edges (range weights from the noise level).",
    params=[
        Param(
            "sigma_range",
            float,
            None,
            "range (intensity) standard deviation on the 0..255 scale; "
            "differences much larger than this are treated as edges; auto: fitted rule in sigma",
            low=0.1,
            high=1000,
        ),
        Param(
            "sigma_px",
            float,
            None,
            "spatial standard deviation in pixels (window radius 1.5 x this); auto: fitted rule in sigma",
            low=0.3,
            high=30,
        ),
    ],
    sigma="auto",
    halo=32,
    tags=("nonlinear", "edge-preserving", "fast"),
)
def bilateral(
    img: np.ndarray, *, sigma: float, sigma_range: float | None = None, sigma_px: float | None = None
) -> np.ndarray:
    """Bilateral filter (:func:`cv2.bilateralFilter` on float32).

    Each output pixel is a mean of its neighbours weighted by
    ``exp(-d^2 / 2 sigma_px^2) * exp(-|I_p - I_q|^2 / 2 sigma_range^2)``.
    Colour images are filtered per channel in an orthonormal opponent space
    (see :mod:`.opponent`), with the colour rules: the smooth chroma
    channels are then flattened harder than joint RGB weights would allow.

    Parameters
    ----------
    img : ndarray
        HxW or HxWx3 float image (unclipped values are fine).
    sigma : float
        Noise standard deviation on the 0..255 scale.
    sigma_range, sigma_px : float, optional
        See the method declaration; ``None`` uses the fitted rules.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> noisy = (0.5 + 0.1 * rng.standard_normal((32, 32))).astype(np.float32)
    >>> bool(bilateral(noisy, sigma=25.5).std() < noisy.std())
    True
    """
    color = img.ndim == 3
    if sigma_range is None:
        sigma_range = rule("bilateral.sigma_range", sigma, color=color)
    if sigma_px is None:
        sigma_px = rule("bilateral.sigma_px", sigma, color=color)
    radius = max(1, int(round(1.5 * sigma_px)))
    return per_opponent_channel(
        lambda ch: cv2.bilateralFilter(
            ch, 2 * radius + 1, float(sigma_range) / 255.0, float(sigma_px), borderType=cv2.BORDER_REFLECT
        ),
        img,
    )
