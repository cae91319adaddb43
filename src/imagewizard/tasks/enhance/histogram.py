"""Histogram-based contrast: equalization, CLAHE, percentile stretching and histogram matching."""

from __future__ import annotations

import math

import numpy as np

from imagewizard.core.errors import ParameterError
from imagewizard.core.registry import Param, register
from imagewizard.tasks.enhance.luminance import luminance, on_luminance

_MODES = ("luminance", "per-channel", "gray")


def equalize_levels(img: np.ndarray, levels: int = 256) -> np.ndarray:
    r"""Histogram-equalize a gray image by the rule ``T(k) = floor((L-1) * sum_{n<=k} p_n)``.

    Values in [0, 1] are quantised to ``L = levels`` grey levels
    (``k = round(x (L-1))``, exact for 8-bit data when ``L = 256``), ``p_n``
    is the fraction of pixels at level ``n``, and level ``k`` becomes
    ``T(k) / (L-1)``. Integer arithmetic, so no rounding slips.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([[0, 0, 1, 3]], np.float32) / 3
    >>> equalize_levels(x, levels=4) * 3
    array([[1., 1., 2., 3.]], dtype=float32)
    """
    x = np.clip(np.asarray(img, dtype=np.float32), 0.0, 1.0)
    q = np.rint(x * (levels - 1)).astype(np.int64)
    counts = np.bincount(q.ravel(), minlength=levels)
    table = ((levels - 1) * np.cumsum(counts)) // q.size
    return (table[q] / np.float32(levels - 1)).astype(np.float32)


@register(
    "enhance",
    "equalize",
    "Histogram equalization: spreads grey levels so that their histogram is flat.",
    params=[
        Param(
            "mode",
            str,
            "luminance",
            "colour handling: luminance (equalize the luminance, keep "
            "hues), per-channel (each RGB channel on its own; shifts colours) or gray (equalized "
            "luminance, colour dropped)",
            choices=_MODES,
        ),
        Param("levels", int, 256, "number of grey levels L of the rule (256 for 8-bit)", low=2, high=65536),
    ],
    tags=("global", "fast"),
)
def equalize(img: np.ndarray, *, mode: str = "luminance", levels: int = 256) -> np.ndarray:
    """Global histogram equalization, ``T(k) = floor((L-1) * sum_{n<=k} p_n)`` (see :func:`equalize_levels`).

    Gray images are equalized directly (``mode`` does not matter). Colour:
    ``'luminance'`` equalizes the BT.601 luminance and keeps each pixel's
    hue (:mod:`imagewizard.tasks.enhance.luminance`); ``'per-channel'``
    equalizes R, G and B separately (the course-notes variant; colours
    shift); ``'gray'`` returns the equalized luminance in all three
    channels.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.linspace(0.4, 0.6, 64, dtype=np.float32).reshape(8, 8)
    >>> out = equalize(x)
    >>> float(out.min()) < 0.05 and float(out.max()) == 1.0
    True
    """
    if mode not in _MODES:
        raise ParameterError(f"parameter 'mode' must be one of {', '.join(_MODES)}; got {mode!r}")
    x = np.asarray(img, dtype=np.float32)
    if x.ndim == 2:
        return equalize_levels(x, levels)
    if mode == "per-channel":
        return np.stack([equalize_levels(x[:, :, c], levels) for c in range(3)], axis=2)
    if mode == "gray":
        return np.repeat(equalize_levels(luminance(np.clip(x, 0, 1)), levels)[:, :, None], 3, axis=2)
    return on_luminance(x, lambda y: equalize_levels(y, levels))


@register(
    "enhance",
    "clahe",
    "CLAHE: contrast-limited adaptive histogram equalization, tile by tile.",
    params=[
        Param(
            "clip_limit",
            float,
            2.0,
            "histogram bins are clipped at this multiple of a flat "
            "histogram's height before equalizing (OpenCV's clipLimit): 1 = almost no change, "
            "larger = stronger local contrast",
            low=1.0,
            high=256.0,
        ),
        Param(
            "tiles",
            int,
            8,
            "tiles along each image side (OpenCV's tileGridSize); smaller tiles = more local",
            low=1,
            high=64,
        ),
    ],
    tags=("local",),
)
def clahe(img: np.ndarray, *, clip_limit: float = 2.0, tiles: int = 8) -> np.ndarray:
    """Contrast-limited adaptive histogram equalization (Zuiderveld 1994).

    Each of ``tiles x tiles`` regions gets its own equalization, its
    histogram clipped at ``clip_limit`` times the flat height (the excess
    spread over all bins) to limit noise amplification; the mappings are
    interpolated between tile centres. Wraps
    :func:`skimage.exposure.equalize_adapthist` (float in and out, 256
    bins; it stretches the input and output to the full range), with
    ``clip_limit`` in OpenCV's units (scikit-image's is ``clip_limit /
    256``). Colour images: applied to the luminance, hues kept
    (:mod:`imagewizard.tasks.enhance.luminance`).

    Examples
    --------
    >>> import numpy as np
    >>> x = np.random.default_rng(0).uniform(0.4, 0.6, (64, 64)).astype(np.float32)
    >>> float(clahe(x).std()) > float(x.std())
    True
    """
    from skimage.exposure import equalize_adapthist

    def run(y: np.ndarray) -> np.ndarray:
        y = np.clip(y, 0.0, 1.0)
        if float(y.max()) <= float(y.min()):
            return y  # flat: nothing to equalize (scikit-image would divide by zero)
        size = (max(math.ceil(y.shape[0] / tiles), 1), max(math.ceil(y.shape[1] / tiles), 1))
        return equalize_adapthist(y, kernel_size=size, clip_limit=clip_limit / 256.0, nbins=256)

    return on_luminance(img, run)


@register(
    "enhance",
    "stretch",
    "Contrast stretching: maps the low/high percentiles to black and white.",
    params=[
        Param("low", float, 2.0, "percentile (0-100) of the values that becomes black", low=0, high=100),
        Param("high", float, 98.0, "percentile (0-100) of the values that becomes white", low=0, high=100),
        Param(
            "per_channel",
            bool,
            False,
            "stretch R, G and B separately (also balances colours) instead of one map for all three (keeps hues)",
        ),
        Param("black", float, 0.0, "output level (0-1) the low percentile maps to", low=0.0, high=1.0),
        Param("white", float, 1.0, "output level (0-1) the high percentile maps to", low=0.0, high=1.0),
        Param(
            "max_range",
            float,
            1.0,
            "stretch only when the low-high percentiles span less than this, measured on the image the step "
            "receives (e.g. after a denoiser); 1 = always",
            low=0.0,
            high=1.0,
        ),
    ],
    tags=("global", "fast"),
)
def stretch(
    img: np.ndarray,
    *,
    low: float = 2.0,
    high: float = 98.0,
    per_channel: bool = False,
    black: float = 0.0,
    white: float = 1.0,
    max_range: float = 1.0,
) -> np.ndarray:
    """Linear contrast stretch mapping ``p_low`` to ``black`` and ``p_high`` to ``white``, clipped to [0, 1].

    With the defaults (black 0, white 1) this is ``(x - p_low) / (p_high - p_low)``. Mapping the
    percentiles to the levels typical of well-exposed photos instead (the wizard uses the medians
    over BSDS500 training images: 1st percentile 0.04, 99th 0.95) restores a flattened image
    without pushing its tones to the limits.

    ``p_low``/``p_high`` are percentiles of all pixel values (of all
    channels together unless ``per_channel``; one affine map for the three
    channels keeps hues). As :func:`skimage.exposure.rescale_intensity`
    with ``in_range=(p_low, p_high)``. A flat image is returned unchanged.

    ``max_range`` below 1 makes the stretch conditional: an image whose ``p_high - p_low`` (all
    values together) is already ``max_range`` or more comes back unchanged. The wizard uses it after
    a denoiser, where the tonal range can only be judged once the noise is gone.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.linspace(0.25, 0.75, 101, dtype=np.float32).reshape(1, -1)
    >>> out = stretch(x, low=0, high=100)
    >>> float(out.min()), float(out.max())
    (0.0, 1.0)
    """
    if not low < high:
        raise ParameterError(f"parameter 'low' ({low:g}) must be below 'high' ({high:g})")
    if not black < white:
        raise ParameterError(f"parameter 'black' ({black:g}) must be below 'white' ({white:g})")
    x = np.asarray(img, dtype=np.float32)
    if max_range < 1.0:
        lo, hi = np.percentile(x, [low, high])
        if hi - lo >= max_range:
            return x.copy()

    def run(v: np.ndarray) -> np.ndarray:
        lo, hi = np.percentile(v, [low, high])
        if hi <= lo:
            return v
        scaled = (v - np.float32(lo)) / np.float32(hi - lo)
        return np.clip(np.float32(black) + np.float32(white - black) * scaled, 0.0, 1.0)

    if per_channel and x.ndim == 3:
        return np.stack([run(x[:, :, c]) for c in range(3)], axis=2)
    return run(x)


@register(
    "enhance",
    "match-histogram",
    "Histogram matching: gives the image the grey-level distribution of a reference.",
    needs=["reference"],
    tags=("global",),
)
def match_histogram(img: np.ndarray, *, reference: np.ndarray) -> np.ndarray:
    """Map grey levels so that their cumulative histogram follows the reference image's.

    Wraps :func:`skimage.exposure.match_histograms`. Colour image and colour
    reference: R, G and B matched separately. Gray image: matched to the
    reference's luminance. Colour image with a gray reference: its
    luminance is matched and hues are kept
    (:mod:`imagewizard.tasks.enhance.luminance`). The reference may have any size.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> x, ref = rng.random((16, 16)), rng.random((8, 8)) ** 3
    >>> out = match_histogram(x, reference=ref)
    >>> abs(float(np.median(out)) - float(np.median(ref))) < 0.05
    True
    """
    from skimage.exposure import match_histograms

    x = np.asarray(img, dtype=np.float32)
    ref = np.asarray(reference, dtype=np.float32)
    if x.ndim == 3 and ref.ndim == 3:
        return match_histograms(x, ref, channel_axis=-1).astype(np.float32)
    ref_y = luminance(ref)
    return on_luminance(x, lambda y: match_histograms(y, ref_y).astype(np.float32))
