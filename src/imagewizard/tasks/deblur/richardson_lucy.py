"""Richardson-Lucy deconvolution, non-blind and blind (image and kernel refined in turn)."""

from __future__ import annotations

import numpy as np
from imagewizard.core.lazy import lazy
from imagewizard.core.errors import ParameterError
from imagewizard.core.registry import Param, register
from imagewizard.tasks.deblur.boundary import BOUNDARIES, BOUNDARY_HELP, Frame, check_kernel, psf2otf

# heavy dependencies load when a method runs, not when it is declared (core.lazy)
sfft = lazy("scipy.fft")

#: Guards the divisions by the re-blurred estimate, as scikit-image does.
_EPS = 1e-12


class _Model:
    """Blur on the (extended) frame: forward ``K x``, adjoint ``K^T r`` and the flux normaliser ``K^T M``.

    With ``boundary='unknown'`` only the observed pixels enter the data term
    and each update is divided by ``K^T M`` (Bertero & Boccacci, "A simple
    method for the reduction of boundary effects in the Richardson-Lucy
    approach to image deconvolution", A&A 437, 2005); elsewhere ``M = 1``
    and the normaliser is 1 (the kernel sums to 1).
    """

    def __init__(self, frame: Frame):
        self.frame = frame
        self.shape = frame.fshape
        self.set_otf(frame.otf)
        self.masked = frame.boundary == "unknown"
        self.mask = frame.mask().astype(np.float32) if self.masked else None
        # Counts cannot be negative, and RL's multiplicative update assumes they are not.
        self.data = np.maximum(frame.data, 0.0).astype(np.float32)
        if self.masked:
            self.data *= self.mask

    def set_otf(self, otf: np.ndarray) -> None:
        # Single precision: half the FFT time, and RL's multiplicative updates do not need more.
        self.otf = otf.astype(np.complex64)[:, :, None]
        self._norm = None  # K^T M changes with the kernel

    def forward(self, x: np.ndarray) -> np.ndarray:
        return sfft.irfft2(sfft.rfft2(x, axes=(0, 1)) * self.otf, s=self.shape, axes=(0, 1))

    def adjoint(self, r: np.ndarray) -> np.ndarray:
        return sfft.irfft2(sfft.rfft2(r, axes=(0, 1)) * np.conj(self.otf), s=self.shape, axes=(0, 1))

    def ratio(self, x: np.ndarray) -> np.ndarray:
        """Observed over predicted, 0 off the observed frame."""
        r = self.data / (self.forward(x) + _EPS)
        return r * self.mask if self.masked else r

    def norm(self) -> np.ndarray | None:
        """``K^T M``, floored so that pixels no observation depends on stay put at 0."""
        if not self.masked:
            return None
        if self._norm is None:
            n = self.adjoint(self.mask)
            self._norm = np.where(n > 1e-6, n, np.inf).astype(np.float32)
        return self._norm

    def image_step(self, x: np.ndarray) -> np.ndarray:
        x = x * self.adjoint(self.ratio(x))
        n = self.norm()
        return x if n is None else x / n


def _start(model: _Model) -> np.ndarray:
    # Any positive constant gives the same first iterate; the data mean keeps the scale sensible.
    level = max(float(model.frame.crop(model.data).mean()), 1e-3)
    x = np.full(model.data.shape, level, dtype=np.float32)
    n = model.norm()
    return x if n is None else np.where(np.isfinite(n), x, 0.0)


@register(
    "deblur",
    "richardson-lucy",
    "Richardson-Lucy deconvolution: iterative maximum likelihood for Poisson noise.",
    params=[
        Param(
            "iterations",
            int,
            30,
            "number of multiplicative updates; more sharpens more "
            "but amplifies noise (the iteration count is the regularisation)",
            low=1,
            high=10000,
        ),
        Param("boundary", str, "unknown", BOUNDARY_HELP, choices=BOUNDARIES),
    ],
    needs=["kernel"],
    tags=("iterative", "poisson"),
)
def richardson_lucy(
    img: np.ndarray, *, kernel: np.ndarray, iterations: int = 30, boundary: str = "unknown"
) -> np.ndarray:
    r"""Richardson-Lucy deconvolution ``x <- x * K^T (y / K x)``.

    The same iteration as :func:`skimage.restoration.richardson_lucy`
    (flat start, ``1e-12`` guard) computed with FFTs on the frame extended
    as in :mod:`imagewizard.tasks.deblur.boundary`; with ``boundary='unknown'``
    (default) the scene beyond the frame is estimated too and only observed
    pixels are fitted (Bertero & Boccacci 2005), so borders do not ring.
    Negative input values (unclipped noise) are treated as 0. Colour
    channels are deconvolved alike, each on its own.

    Parameters
    ----------
    img : ndarray
        Blurred HxW or HxWx3 image.
    kernel : ndarray
        Blur kernel (point-spread function).
    iterations : int
        Number of updates.
    boundary : {'unknown', 'taper', 'periodic'}
        Border model.

    Examples
    --------
    >>> import numpy as np
    >>> from scipy import ndimage
    >>> x = np.zeros((48, 48)); x[16:32, 16:32] = 1.0
    >>> k = np.ones((5, 5)) / 25.0
    >>> y = ndimage.convolve(x, k, mode="reflect")
    >>> err = lambda z: float(np.abs(z - x).mean())
    >>> err(richardson_lucy(y, kernel=k, iterations=20)) < err(y)
    True
    """
    f = Frame(img, kernel, boundary)
    model = _Model(f)
    x = _start(model)
    for _ in range(iterations):
        x = model.image_step(x)
    return f.crop(x)


_INITS = ("gaussian", "flat")


def initial_kernel(size: int, init: str = "gaussian") -> np.ndarray:
    """Starting kernel of blind deconvolution: ``size`` x ``size``, flat or Gaussian with ``sigma = size / 6``."""
    if size < 1 or size % 2 == 0:
        raise ParameterError(f"parameter 'size' must be a positive odd number of pixels, got {size}")
    if init == "flat":
        k = np.ones((size, size))
    elif init == "gaussian":
        r = np.arange(size) - size // 2
        g = np.exp(-0.5 * (r / max(size / 6.0, 0.3)) ** 2)
        k = np.outer(g, g)
    else:
        raise ParameterError(f"parameter 'init' must be one of {', '.join(_INITS)}; got {init!r}")
    return k / k.sum()


@register(
    "deblur",
    "blind-rl",
    "Blind Richardson-Lucy: refines the image and the blur kernel in turn from a guess of its size.",
    params=[
        Param(
            "size",
            int,
            9,
            "side of the estimated kernel in pixels (odd): about the visible "
            "extent of the blur; ignored when a kernel is given (its size is used)",
            low=1,
            high=151,
        ),
        Param("init", str, "gaussian", "starting kernel: gaussian (standard deviation size/6) or flat", choices=_INITS),
        Param("iterations", int, 10, "alternations between kernel and image updates", low=1, high=1000),
        Param("kernel_iterations", int, 5, "Richardson-Lucy updates of the kernel per alternation", low=1, high=100),
        Param("image_iterations", int, 2, "Richardson-Lucy updates of the image per alternation", low=1, high=100),
        Param("boundary", str, "unknown", BOUNDARY_HELP, choices=BOUNDARIES),
    ],
    tags=("iterative", "blind"),
    accepts=["kernel"],
)
def blind_rl(
    img: np.ndarray,
    *,
    kernel: np.ndarray | None = None,
    size: int = 9,
    init: str = "gaussian",
    iterations: int = 10,
    kernel_iterations: int = 5,
    image_iterations: int = 2,
    boundary: str = "unknown",
) -> np.ndarray:
    """Blind Richardson-Lucy deconvolution (Fish, Brinicombe, Pike & Walker, JOSA A 12, 1995).

    Alternates Richardson-Lucy updates of the kernel (image fixed; the
    kernel is kept non-negative, ``size`` x ``size`` and summing to 1) and of
    the image (kernel fixed), starting from the blurred image and a flat or
    Gaussian kernel guess, or from ``kernel`` when one is given. Borders are
    handled as in :func:`richardson_lucy`. Colour images share one kernel,
    estimated from all channels.

    Parameters
    ----------
    img : ndarray
        Blurred HxW or HxWx3 image.
    kernel : ndarray, optional
        Initial kernel guess; its shape replaces ``size``.
    size : int
        Side of the kernel estimate in pixels (odd).
    init : {'gaussian', 'flat'}
        Shape of the initial guess when no kernel is given.
    iterations, kernel_iterations, image_iterations : int
        Alternations, and kernel and image updates within each.
    boundary : {'unknown', 'taper', 'periodic'}
        Border model.

    Examples
    --------
    >>> import numpy as np
    >>> from scipy import ndimage
    >>> x = np.zeros((48, 48)); x[16:32, 16:32] = 1.0
    >>> y = ndimage.gaussian_filter(x, 1.5)
    >>> err = lambda z: float(np.abs(z - x).mean())
    >>> err(blind_rl(y, size=9)) < err(y)
    True
    """
    out, _kernel = blind_deconvolve(
        img,
        kernel,
        size=size,
        init=init,
        iterations=iterations,
        kernel_iterations=kernel_iterations,
        image_iterations=image_iterations,
        boundary=boundary,
    )
    return out


def blind_deconvolve(
    img: np.ndarray,
    kernel: np.ndarray | None = None,
    *,
    size: int = 9,
    init: str = "gaussian",
    iterations: int = 10,
    kernel_iterations: int = 5,
    image_iterations: int = 2,
    symmetric: bool = True,
    boundary: str = "unknown",
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`blind_rl`, also returning the estimated kernel (float64, sums to 1)."""
    g = initial_kernel(size, init) if kernel is None else check_kernel(kernel)
    f = Frame(img, g, boundary)
    model = _Model(f)
    kh, kw = g.shape
    # The image estimate starts as the observation (the usual choice for blind RL).
    x = np.maximum(f.data, 0.0).astype(np.float32)
    if model.masked:
        x = np.where(np.isfinite(model.norm()), x, 0.0).astype(np.float32)
    for _ in range(iterations):
        xf = sfft.rfft2(x, axes=(0, 1))
        for _ in range(kernel_iterations):
            predicted = sfft.irfft2(xf * model.otf, s=f.fshape, axes=(0, 1))
            r = model.data / (predicted + _EPS)
            if model.masked:
                r *= model.mask
            # Correlation of the ratio with the image, read at the kernel's offsets around the origin.
            corr = sfft.irfft2((sfft.rfft2(r, axes=(0, 1)) * np.conj(xf)).sum(axis=2), s=f.fshape)
            window = np.roll(corr, (kh // 2, kw // 2), axis=(0, 1))[:kh, :kw]
            g = np.maximum(g * window / max(float(x.sum()), _EPS), 0.0)
            if symmetric:
                # Point symmetry pins the kernel's centre: without it image and kernel drift apart.
                g = 0.5 * (g + g[::-1, ::-1])
            total = g.sum()
            if not total > 0:
                raise ParameterError("blind deconvolution lost the kernel (all zero); try a larger 'size'")
            g /= total
            model.set_otf(psf2otf(g, f.fshape))
        for _ in range(image_iterations):
            x = model.image_step(x)
    return f.crop(x), g
