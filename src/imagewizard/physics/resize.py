"""MATLAB-compatible ``imresize`` (bicubic), the resampling every super-resolution table uses.

Published super-resolution figures shrink the clean image with MATLAB's ``imresize(img, 1/s)``
and compare against ``imresize(lr, s)`` as "bicubic"; OpenCV's and Pillow's bicubic differ from
it (another cubic, no antialiasing, other pixel centres) by tenths of a dB, enough to make a
table wrong. This is MATLAB's algorithm: the Keys cubic (a = -0.5), output pixel ``i`` centred
at input coordinate ``(i + 0.5) / scale - 0.5`` (pixel areas aligned), the kernel stretched by
``1/scale`` when shrinking (antialiasing), weights normalised per output pixel, borders
extended symmetrically; separable, rows then columns, as sparse matrices so a large image needs
no more than its input and output.

Examples
--------
>>> import numpy as np
>>> imresize(np.ones((4, 6)), 2).shape
(8, 12)
>>> float(imresize(np.ones((4, 6)), 2).mean())
1.0
"""

from __future__ import annotations

import math

import numpy as np

from imagewizard.core.errors import ParameterError


def _cubic(x: np.ndarray) -> np.ndarray:
    ax = np.abs(x)
    ax2, ax3 = ax * ax, ax * ax * ax
    return (1.5 * ax3 - 2.5 * ax2 + 1.0) * (ax <= 1) + (-0.5 * ax3 + 2.5 * ax2 - 4.0 * ax + 2.0) * (
        (ax > 1) & (ax <= 2)
    )


def weights(n_in: int, n_out: int, scale: float, *, antialias: bool = True):
    """The (n_out x n_in) sparse matrix of MATLAB's bicubic ``imresize`` along one axis."""
    from scipy import sparse

    kernel_width = 4.0
    if scale < 1 and antialias:
        kernel = lambda x: scale * _cubic(scale * x)  # noqa: E731 - MATLAB's stretched kernel
        kernel_width = kernel_width / scale
    else:
        kernel = _cubic
    x = np.arange(1, n_out + 1, dtype=np.float64)
    u = x / scale + 0.5 * (1 - 1 / scale)  # 1-based input coordinate of each output sample
    left = np.floor(u - kernel_width / 2)
    taps = int(math.ceil(kernel_width)) + 2
    ind = left[:, None] + np.arange(taps)[None, :]
    w = kernel(u[:, None] - ind)
    w /= w.sum(axis=1, keepdims=True)
    aux = np.concatenate([np.arange(n_in), np.arange(n_in)[::-1]])  # symmetric extension
    cols = aux[np.mod(ind - 1, 2 * n_in).astype(np.int64)]
    rows = np.repeat(np.arange(n_out), taps)
    m = sparse.coo_matrix((w.ravel(), (rows, cols.ravel())), shape=(n_out, n_in)).tocsr()
    m.sum_duplicates()
    return m


def imresize(
    img, scale: float | None = None, *, output_shape: tuple[int, int] | None = None, dtype=np.float32
) -> np.ndarray:
    """Resize ``img`` (HxW or HxWxC) by ``scale``, or to ``output_shape`` (rows, cols), as MATLAB does.

    The output size is ``ceil(H * scale) x ceil(W * scale)`` (MATLAB's rule). Not clipped: bicubic
    overshoots slightly at edges. Computed in ``dtype`` (float64 for bit-exact tables).
    """
    x = np.asarray(img)
    if x.ndim not in (2, 3):
        raise ParameterError(f"imresize needs an HxW or HxWxC image, got shape {x.shape}")
    h, w = x.shape[:2]
    if output_shape is None:
        if scale is None or not (isinstance(scale, (int, float)) and math.isfinite(scale) and scale > 0):
            raise ParameterError(f"imresize: scale must be a positive number, got {scale!r}")
        sh = sw = float(scale)
        oh, ow = int(math.ceil(h * sh - 1e-9)), int(math.ceil(w * sw - 1e-9))
    else:
        oh, ow = int(output_shape[0]), int(output_shape[1])
        sh, sw = (float(scale), float(scale)) if scale is not None else (oh / h, ow / w)
    if oh < 1 or ow < 1:
        raise ParameterError(f"imresize: image {h}x{w} is too small for scale {scale}")
    a = x.astype(dtype, copy=False)
    rest = a.shape[2:]
    out = weights(h, oh, sh).astype(dtype) @ a.reshape(h, -1)  # rows
    out = out.reshape(oh, w, *rest)
    out = np.moveaxis(out, 1, 0).reshape(w, -1)
    out = weights(w, ow, sw).astype(dtype) @ out  # columns
    out = np.moveaxis(out.reshape(ow, oh, *rest), 0, 1)
    return np.ascontiguousarray(out, dtype=dtype)


def resize_plane(plane, shape: tuple[int, int]) -> np.ndarray:
    """One plane (an alpha channel) resized to ``shape`` with MATLAB bicubic, clipped to [0, 1]."""
    return np.clip(imresize(np.asarray(plane, np.float32), output_shape=tuple(shape)), 0.0, 1.0)
