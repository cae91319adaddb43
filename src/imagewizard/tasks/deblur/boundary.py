"""Fourier-domain helpers shared by the deconvolution methods: transfer functions and border handling.

The blur model is ``observed = kernel * scene + noise``. Fourier methods
compute convolutions as circular (periodic) ones, but a photograph is a
window onto a larger scene: its left and right (top and bottom) borders do
not match, and inverting a circular blur across that seam rings through
the whole image (worst for long motion kernels, whose inverse never decays).
The ``boundary`` option of the deblur methods chooses the assumed model:

``'unknown'``
    The scene continues beyond the frame and is unknown there (the
    realistic model for photographs). The restored scene is solved for on a
    domain larger than the frame by a kernel width, and only the observed
    pixels are compared with the data (Reeves 2005 for the Wiener filters;
    Bertero & Boccacci 2005 for Richardson-Lucy). No ringing from the
    borders, at the price of an iterative solve.
``'taper'``
    The frame is extended by mirroring by two kernel widths and the added
    margin is blended, from the frame outwards, into its own circular blur
    by the kernel (the idea of MATLAB's ``edgetaper`` and of the book's
    ``blur_edge``, but applied only to the added margin, so no observed
    pixel is altered). The data is then consistent with circular blur
    across the wrap-around seam. One pass; fine for Gaussian and defocus
    blur, but long motion kernels still ring (on BSDS500 crops with motion
    blur the Wiener filter lost up to 7 dB with it, where ``'unknown'``
    gained 2-3 dB).
``'periodic'``
    No extension: exact when the image really was blurred circularly
    (synthetic tests), rings on photographs.

The kernel is centred at index ``(kh // 2, kw // 2)``, as in
:func:`scipy.ndimage.convolve` and :mod:`skimage.restoration`.
"""

from __future__ import annotations

import numpy as np
from imagewizard.core.lazy import lazy
from imagewizard.core.errors import ParameterError

# heavy dependencies load when a method runs, not when it is declared (core.lazy)
sfft = lazy("scipy.fft")

BOUNDARIES = ("unknown", "taper", "periodic")
BOUNDARY_HELP = (
    "assumed scene beyond the frame: unknown (solved for, no border ringing), "
    "taper (mirrored and tapered margin, one pass) or periodic (circular blur)"
)


def check_kernel(kernel, shape: tuple[int, int] | None = None) -> np.ndarray:
    """Return ``kernel`` as a float64 2-D array summing to 1; ParameterError if it cannot be one."""
    k = np.asarray(kernel, dtype=np.float64)
    if k.ndim != 2 or k.size == 0:
        raise ParameterError(f"blur kernel must be a 2-D array, got shape {k.shape}")
    if not np.isfinite(k).all():
        raise ParameterError("blur kernel contains NaN or infinite values")
    total = k.sum()
    if not total > 0:
        raise ParameterError("blur kernel must have a positive sum")
    if shape is not None and (k.shape[0] > shape[0] or k.shape[1] > shape[1]):
        raise ParameterError(f"blur kernel {k.shape} is larger than the image {tuple(shape)}")
    return k / total


def psf2otf(kernel: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Transfer function (``rfft2`` half-plane) of ``kernel`` for circular convolution on ``shape``."""
    kh, kw = kernel.shape
    padded = np.zeros(shape, dtype=np.float64)
    padded[:kh, :kw] = kernel
    padded = np.roll(padded, (-(kh // 2), -(kw // 2)), axis=(0, 1))
    return sfft.rfft2(padded)


def laplacian_power(shape: tuple[int, int]) -> np.ndarray:
    """``|D|^2`` of the 5-point discrete Laplacian on ``shape`` (rfft half-plane), in closed form."""
    wy = 2.0 - 2.0 * np.cos(2 * np.pi * np.arange(shape[0]) / shape[0])
    wx = 2.0 - 2.0 * np.cos(2 * np.pi * np.arange(shape[1] // 2 + 1) / shape[1])
    return (wy[:, None] + wx[None, :]) ** 2


def rfft_weights(shape: tuple[int, int]) -> np.ndarray:
    """How many full-spectrum frequencies each ``rfft`` column stands for (1 or 2), for Parseval sums."""
    w = np.full(shape[1] // 2 + 1, 2.0)
    w[0] = 1.0
    if shape[1] % 2 == 0:
        w[-1] = 1.0
    return w


class Frame:
    """An image prepared for circular deconvolution, and how to crop the result back.

    Parameters
    ----------
    img : ndarray
        HxW or HxWxC image.
    kernel : ndarray
        Blur kernel (normalised here).
    boundary : str
        One of :data:`BOUNDARIES` (see the module docstring). ``'unknown'``
        gets the same tapered extension as ``'taper'`` (a starting point
        for the solvers) and :attr:`observed` to mask the data term.

    Attributes
    ----------
    data : ndarray
        The extended image, float64, shape ``(H', W', C)``.
    otf : ndarray
        ``rfft2`` transfer function of the kernel on ``(H', W')``.
    observed : tuple of slice
        Where the frame lies in :attr:`data`.
    """

    def __init__(self, img: np.ndarray, kernel: np.ndarray, boundary: str = "unknown"):
        if boundary not in BOUNDARIES:
            raise ParameterError(f"parameter 'boundary' must be one of {', '.join(BOUNDARIES)}; got {boundary!r}")
        x = np.asarray(img, dtype=np.float64)
        self.gray = x.ndim == 2
        if self.gray:
            x = x[:, :, None]
        h, w = x.shape[:2]
        self.boundary = boundary
        self.shape = (h, w)
        self.kernel = kernel = check_kernel(kernel, (h, w))
        if boundary == "periodic":
            self.observed = (slice(0, h), slice(0, w))
            self.otf = psf2otf(kernel, (h, w))
            self.data = x
            return
        # The unknown scene that reaches the frame lies within half a kernel of it; one kernel width
        # keeps its wrap-around copies apart. The taper alone needs more room to fall off gently.
        m = max(kernel.shape) * (1 if boundary == "unknown" else 2)
        hp, wp = sfft.next_fast_len(h + 2 * m, real=True), sfft.next_fast_len(w + 2 * m, real=True)
        top, left = (hp - h) // 2, (wp - w) // 2
        # np.pad repeats the mirroring when the margin is wider than the image.
        ext = np.pad(x, ((top, hp - h - top), (left, wp - w - left), (0, 0)), mode="symmetric")
        self.otf = psf2otf(kernel, (hp, wp))
        blurred = sfft.irfft2(sfft.rfft2(ext, axes=(0, 1)) * self.otf[:, :, None], s=(hp, wp), axes=(0, 1))
        weight = np.outer(_ramp(hp, top, hp - h - top), _ramp(wp, left, wp - w - left))[:, :, None]
        self.data = weight * ext + (1.0 - weight) * blurred
        self.observed = (slice(top, top + h), slice(left, left + w))

    @property
    def fshape(self) -> tuple[int, int]:
        """Spatial shape of :attr:`data` (the FFT size)."""
        return self.data.shape[:2]

    def mask(self) -> np.ndarray:
        """``(H', W', 1)`` float array, 1 on the observed frame and 0 on the added margin."""
        m = np.zeros(self.fshape + (1,))
        m[self.observed] = 1.0
        return m

    def crop(self, y: np.ndarray) -> np.ndarray:
        """Cut the frame out of a result shaped like :attr:`data`; gray images come back HxW."""
        out = y[self.observed]
        return out[:, :, 0] if self.gray else out


def _ramp(n: int, before: int, after: int) -> np.ndarray:
    """1 on the frame, a raised-cosine fall to 0 across each added border."""
    r = np.ones(n)
    if before:
        t = (np.arange(before) + 0.5) / before
        r[:before] = 0.5 - 0.5 * np.cos(np.pi * t)
    if after:
        t = (np.arange(after)[::-1] + 0.5) / after
        r[n - after :] = 0.5 - 0.5 * np.cos(np.pi * t)
    return r
