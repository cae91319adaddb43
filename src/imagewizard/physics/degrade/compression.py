"""What saving and shrinking do: JPEG compression and integer downscaling."""

from __future__ import annotations

import math

import numpy as np

from imagewizard.core.arrays import as_float_image
from imagewizard.core.errors import ParameterError
from imagewizard.core.registry import Param


_P_JPEG = Param("quality", int, 75, "JPEG quality", low=1, high=100)


_P_FACTOR = Param("factor", int, 2, "integer downscaling factor", low=2, high=64)


_P_CONTRAST = Param("factor", float, 1.0, "contrast factor (tones toward mid-grey)", low=0.0, high=1.0)


_P_DOWNSCALE = Param("factor", int, 1, "integer downscaling factor (1: keep the size)", low=1, high=64)


def jpeg_compress(img, quality: int) -> np.ndarray:
    """Round-trip through an in-memory JPEG at ``quality`` (1..100): blocking and ringing artefacts.

    The image is clipped and rounded to 8 bits, encoded with OpenCV's
    libjpeg (baseline, 4:2:0 chroma subsampling for colour, the standard
    quantization tables scaled by ``quality``; gray stays one channel) and
    decoded. The result is float32 on 8-bit levels.

    Examples
    --------
    >>> jpeg_compress(np.full((16, 16), 0.5), 50).shape
    (16, 16)
    """
    import cv2

    quality = _P_JPEG.parse(quality, where="jpeg.")
    x = as_float_image(img)
    u8 = np.round(np.clip(x, 0.0, 1.0) * 255.0).astype(np.uint8)
    if u8.ndim == 3:
        u8 = cv2.cvtColor(u8, cv2.COLOR_RGB2BGR)
    ok, buf = cv2.imencode(".jpg", u8, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:  # pragma: no cover - libjpeg does not fail on valid 8-bit arrays
        raise RuntimeError("JPEG encoding failed")
    out = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)
    if out.ndim == 3:
        out = cv2.cvtColor(out, cv2.COLOR_BGR2RGB)
    return out.astype(np.float32) / 255.0


def _cubic(x: np.ndarray) -> np.ndarray:
    ax = np.abs(x)
    ax2, ax3 = ax * ax, ax * ax * ax
    return (1.5 * ax3 - 2.5 * ax2 + 1.0) * (ax <= 1) + (-0.5 * ax3 + 2.5 * ax2 - 4.0 * ax + 2.0) * (
        (ax > 1) & (ax <= 2)
    )


def _imresize_matrix(n_in: int, factor: int) -> np.ndarray:
    """MATLAB ``imresize`` bicubic weights for shrinking ``n_in`` samples by ``factor`` (a matrix out x in)."""
    scale = 1.0 / factor
    n_out = n_in // factor
    width = 4.0 / scale  # the cubic is stretched by 1/scale: the antialiasing low-pass
    u = np.arange(1, n_out + 1) / scale + 0.5 * (1 - 1 / scale)  # 1-based input coordinate of each output
    left = np.floor(u - width / 2)
    taps = int(math.ceil(width)) + 2
    ind = left[:, None] + np.arange(taps)[None, :]
    weights = scale * _cubic(scale * (u[:, None] - ind))
    weights /= weights.sum(axis=1, keepdims=True)
    aux = np.concatenate([np.arange(n_in), np.arange(n_in)[::-1]])  # symmetric extension
    cols = aux[np.mod(ind - 1, 2 * n_in).astype(np.int64)]
    m = np.zeros((n_out, n_in))
    np.add.at(m, (np.repeat(np.arange(n_out), taps), cols.ravel()), weights.ravel())
    return m


def downscale(img, factor: int) -> np.ndarray:
    """Bicubic downscaling by an integer ``factor``, as MATLAB ``imresize(img, 1/factor)``.

    This is the degradation of the super-resolution benchmarks (Set5/Set14,
    DIV2K "bicubic" LR images): the image is first cropped at the bottom and
    right to a multiple of ``factor`` (the usual ``modcrop``), then resized
    with the Keys cubic kernel (a = -0.5) stretched by ``factor`` (MATLAB's
    antialiasing), output pixel ``i`` centred at input position
    ``(i + 0.5) * factor`` (pixel-area convention) and the borders extended
    symmetrically. Computed in float64, separably (rows then columns);
    equal to MATLAB on double input up to round-off (MATLAB on uint8
    input also rounds between the two passes). Factors 2, 3 and 4 are the
    standard ones. Not clipped (bicubic overshoots slightly at edges).

    Returns
    -------
    numpy.ndarray
        float32, ``(H // factor, W // factor[, 3])``.

    Examples
    --------
    >>> downscale(np.ones((10, 9)), 3).shape
    (3, 3)
    """
    factor = _P_FACTOR.parse(factor, where="downscale.")
    x = as_float_image(img)
    h, w = x.shape[0] // factor, x.shape[1] // factor
    if h < 1 or w < 1:
        raise ParameterError(f"image {x.shape[:2]} is too small to downscale by {factor}")
    x = x[: h * factor, : w * factor].astype(np.float64)
    mh, mw = _imresize_matrix(x.shape[0], factor), _imresize_matrix(x.shape[1], factor)
    out = np.tensordot(mh, x, axes=(1, 0))  # rows: (h, W[, C])
    out = np.moveaxis(np.tensordot(mw, out, axes=(1, 1)), 0, 1)  # columns: (h, w[, C])
    return np.ascontiguousarray(out, dtype=np.float32)
