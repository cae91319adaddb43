"""Deconvolution in the Fourier domain: pseudo-inverse, Wiener and unsupervised (self-tuned) Wiener filters."""

from __future__ import annotations

import numpy as np
from imagewizard.core.lazy import lazy
from imagewizard.core.errors import ParameterError
from imagewizard.core.registry import Param, register
from imagewizard.tasks.deblur.boundary import BOUNDARIES, BOUNDARY_HELP, Frame, laplacian_power, rfft_weights

# heavy dependencies load when a method runs, not when it is declared (core.lazy)
sfft = lazy("scipy.fft")
minimize_scalar = lazy("scipy.optimize", "minimize_scalar")

#: Quantisation noise of 8-bit data (1/sqrt(12) of a level): the least noise any stored image has.
MIN_SIGMA = 0.29

_REGS = ("laplacian", "identity")


@register(
    "deblur",
    "inverse",
    "Pseudo-inverse filter: divide by the blur's transfer function where it is not tiny.",
    params=[
        Param(
            "threshold",
            float,
            0.1,
            "frequencies where the blur keeps less than this fraction "
            "of the amplitude (|H| < threshold) are dropped instead of divided by",
            low=1e-8,
            high=1.0,
        ),
        Param(
            "boundary",
            str,
            "taper",
            "assumed scene beyond the frame: taper (mirrored and tapered margin) or periodic (circular blur)",
            choices=("taper", "periodic"),
        ),
    ],
    needs=["kernel"],
    tags=("fourier", "fast", "linear"),
)
def inverse(img: np.ndarray, *, kernel: np.ndarray, threshold: float = 0.1, boundary: str = "taper") -> np.ndarray:
    """Pseudo-inverse filtering: ``X = Y / H`` where ``|H| >= threshold``, 0 elsewhere.

    Exact for a noise-free circular blur whose transfer function never falls
    below ``threshold``; with noise it amplifies it by up to
    ``1/threshold`` (the textbook reason for the Wiener filter). Colour
    channels are filtered alike.

    Parameters
    ----------
    img : ndarray
        Blurred HxW or HxWx3 image.
    kernel : ndarray
        Blur kernel (point-spread function), normalised to sum 1 here.
    threshold : float
        Smallest ``|H|`` that is inverted.
    boundary : {'taper', 'periodic'}
        Border model, see :mod:`imagewizard.tasks.deblur.boundary`.

    Examples
    --------
    >>> import numpy as np
    >>> from scipy import ndimage
    >>> x = np.random.default_rng(0).random((32, 32))
    >>> k = np.outer([1, 4, 1], [1, 4, 1]) / 36.0  # |H| >= 1/9 everywhere
    >>> y = ndimage.convolve(x, k, mode="wrap")
    >>> bool(np.allclose(inverse(y, kernel=k, threshold=1e-3, boundary="periodic"), x))
    True
    """
    f = Frame(img, kernel, boundary)
    h = f.otf
    mag = np.abs(h)
    filt = np.zeros_like(h)
    keep = mag >= threshold
    filt[keep] = 1.0 / h[keep]
    return f.crop(sfft.irfft2(sfft.rfft2(f.data, axes=(0, 1)) * filt[:, :, None], s=f.fshape, axes=(0, 1)))


@register(
    "deblur",
    "wiener",
    "Wiener (Wiener-Hunt) deconvolution, regularisation set from the noise level.",
    params=[
        Param(
            "snr",
            float,
            None,
            "signal-to-noise power ratio in dB; if given, fixes the "
            "regularisation weight lambda = 10^(-snr/10) (with reg=identity the classic "
            "K = 1/SNR) instead of choosing it from the noise level",
            low=-20,
            high=100,
        ),
        Param(
            "reg",
            str,
            "laplacian",
            "regulariser: laplacian (penalises high frequencies, "
            "assumes smooth images) or identity (white signal spectrum, classic Wiener)",
            choices=_REGS,
        ),
        Param("boundary", str, "unknown", BOUNDARY_HELP, choices=BOUNDARIES),
    ],
    sigma="auto",
    needs=["kernel"],
    tags=("fourier", "linear"),
)
def wiener(
    img: np.ndarray,
    *,
    kernel: np.ndarray,
    sigma: float | None = None,
    snr: float | None = None,
    reg: str = "laplacian",
    boundary: str = "unknown",
) -> np.ndarray:
    r"""Wiener-Hunt deconvolution ``X = H^* Y / (|H|^2 + \lambda |D|^2)``.

    ``D`` is the regulariser: the discrete Laplacian (as
    :func:`skimage.restoration.wiener`) or the identity (the textbook
    ``H^* / (|H|^2 + K)``, except that the mean is left unregularised so
    the image is not darkened). Unless ``snr`` fixes it, the weight
    ``lambda`` is the maximum-likelihood one for the Gaussian model behind
    the filter: scene with ``D x`` white of unknown power, white noise of
    standard deviation ``sigma`` (0..255 scale, estimated from the image
    when not given; never below 8-bit quantisation noise). For the
    identity, ``K`` is the constant with the least expected error under
    that fitted model (:func:`mmse_constant`). With
    ``boundary='unknown'`` (default) the scene beyond the frame is solved
    for by preconditioned conjugate gradients (Reeves 2005), which removes
    border ringing; see :mod:`imagewizard.tasks.deblur.boundary`.

    Colour images: one ``lambda`` for the three channels, each channel
    deconvolved with it.

    Parameters
    ----------
    img : ndarray
        Blurred HxW or HxWx3 image.
    kernel : ndarray
        Blur kernel (point-spread function).
    sigma : float, optional
        Noise standard deviation on the 0..255 scale.
    snr : float, optional
        Signal-to-noise power ratio in dB; overrides the automatic weight.
    reg : {'laplacian', 'identity'}
        Regulariser.
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
    >>> err(wiener(y, kernel=k, sigma=1.0)) < err(y)
    True
    """
    if reg not in _REGS:
        raise ParameterError(f"parameter 'reg' must be one of {', '.join(_REGS)}; got {reg!r}")
    f = Frame(img, kernel, boundary)
    h2 = np.abs(f.otf) ** 2
    lap2 = laplacian_power(f.fshape)
    spectrum = sfft.rfft2(f.data, axes=(0, 1))
    if snr is not None:
        lam = 10.0 ** (-snr / 10.0)
    else:
        if sigma is None:
            sigma = estimate_noise(f.crop(f.data))
        noise = max(float(sigma), MIN_SIGMA) / 255.0
        lam = ml_balance(spectrum, h2, lap2, noise, f.fshape)
        if reg == "identity":
            lam = mmse_constant(h2, lap2, lam, f.fshape)
    if reg == "laplacian":
        d2 = lap2
    else:
        # The mean is well determined (H(0) = 1): leave it unregularised rather than darken the image.
        d2 = np.ones_like(h2)
        d2[0, 0] = 0.0
    if boundary == "unknown":
        x = solve_unknown_boundary(f, spectrum, lam, d2)
    else:
        x = np.conj(f.otf)[:, :, None] / (h2 + lam * d2)[:, :, None] * spectrum
    return f.crop(sfft.irfft2(x, s=f.fshape, axes=(0, 1)))


def estimate_noise(img: np.ndarray) -> float:
    """Noise standard deviation (0..255 scale) by wavelet MAD, for direct calls without ``sigma``."""
    from skimage.restoration import estimate_sigma

    return 255.0 * float(np.mean(np.atleast_1d(estimate_sigma(img, channel_axis=-1 if img.ndim == 3 else None))))


def mmse_constant(h2: np.ndarray, lap2: np.ndarray, lam_lap: float, shape: tuple[int, int]) -> float:
    r"""Constant ``K`` of the identity-regularised filter ``H^*/(|H|^2 + K)`` with least expected error.

    The expected squared error is evaluated under the Laplacian prior fitted
    by :func:`ml_balance` (scene spectrum ``noise^2 / (lam_lap |D|^2)``), the
    mean excluded. This stands in for the textbook ``K = 1/SNR``, which
    treats the scene as white and under-regularises natural images badly.
    """
    weight = np.broadcast_to(rfft_weights(shape)[None, :], h2.shape)
    ok = lap2 > 1e-12 * lap2.max()
    g, d, w = h2[ok], lam_lap * lap2[ok], weight[ok]

    def risk(log_k: float) -> float:
        k = 10.0**log_k
        return float(np.sum(w * (k * k / d + g) / (g + k) ** 2))

    res = minimize_scalar(risk, bounds=(-9.0, 3.0), method="bounded", options={"xatol": 0.02})
    return float(10.0**res.x)


def ml_balance(spectrum: np.ndarray, h2: np.ndarray, d2: np.ndarray, noise: float, shape: tuple[int, int]) -> float:
    r"""Maximum-likelihood regularisation weight of the Wiener-Hunt model.

    Under ``y = h * x + n`` with ``D x`` and ``n`` white Gaussian of
    variances ``s`` and ``noise^2``, each Fourier coefficient of ``y`` has
    variance ``N (s |H|^2 / |D|^2 + noise^2)``. ``s`` is fitted by maximum
    likelihood (a 1-D search) and ``lambda = noise^2 / s`` returned; this is
    the balance the MMSE (Wiener) estimate uses.

    Parameters
    ----------
    spectrum : ndarray
        ``rfft2`` of the data, shape ``(H, W//2+1, C)``.
    h2, d2 : ndarray
        ``|H|^2`` and ``|D|^2`` on the same grid.
    noise : float
        Noise standard deviation (image scale, not 0..255).
    shape : tuple of int
        Spatial shape the spectrum was computed on.
    """
    n = shape[0] * shape[1]
    power = (np.abs(spectrum) ** 2).mean(axis=2) / n
    weight = np.broadcast_to(rfft_weights(shape)[None, :], power.shape)
    ok = d2 > 1e-12 * d2.max()
    g, p, w = h2[ok] / d2[ok], power[ok], weight[ok]
    s2 = noise * noise

    def nll(log_lam: float) -> float:
        v = (s2 / 10.0**log_lam) * g + s2
        return float(np.sum(w * (np.log(v) + p / v)))

    res = minimize_scalar(nll, bounds=(-9.0, 3.0), method="bounded", options={"xatol": 0.02})
    return float(10.0**res.x)


def solve_unknown_boundary(
    f: Frame, spectrum: np.ndarray, lam: float, d2: np.ndarray, *, tol: float = 1e-4, max_iter: int = 100
) -> np.ndarray:
    r"""Wiener-Hunt solution when the scene beyond the frame is unknown; returns its ``rfft2``.

    Minimises ``||M (h * x) - y||^2 + lam ||D x||^2`` over ``x`` on the
    extended domain, ``M`` keeping only observed pixels, by conjugate
    gradients preconditioned with the circulant Wiener filter (Reeves,
    "Fast image restoration without boundary artifacts", IEEE TIP 2005),
    started from the tapered-margin solution and stopped when the residual
    has fallen by ``tol``. Vectors live in the Fourier domain, so each
    iteration costs one FFT pair; single precision, which is plenty for
    images and halves the time.
    """
    hh = f.otf.astype(np.complex64)[:, :, None]
    hc = np.conj(hh)
    reg = (lam * d2).astype(np.float32)[:, :, None]
    precond = (1.0 / (np.abs(f.otf) ** 2 + lam * d2)).astype(np.float32)[:, :, None]
    mask = f.mask().astype(np.float32)
    last = f.fshape[1] % 2 == 0  # the Nyquist column of an even width stands for itself only

    def normal(xf):
        blurred = sfft.irfft2(hh * xf, s=f.fshape, axes=(0, 1))
        blurred *= mask
        out = sfft.rfft2(blurred, axes=(0, 1))
        out *= hc
        out += reg * xf
        return out

    def dot(a, b):
        # <a, b> over the full spectrum from its half: columns other than 0 (and Nyquist) count twice.
        total = 2.0 * float(np.vdot(a.view(np.float32).ravel(), b.view(np.float32).ravel()))
        total -= float(
            np.vdot(np.ascontiguousarray(a[:, 0]).view(np.float32), np.ascontiguousarray(b[:, 0]).view(np.float32))
        )
        if last:
            total -= float(
                np.vdot(
                    np.ascontiguousarray(a[:, -1]).view(np.float32), np.ascontiguousarray(b[:, -1]).view(np.float32)
                )
            )
        return total

    rhs = hc * sfft.rfft2((f.data * mask).astype(np.float32), axes=(0, 1))
    x = (precond * hc) * spectrum.astype(np.complex64)
    r = rhs - normal(x)
    z = precond * r
    p = z.copy()
    rz = dot(r, z)
    # Stop on the preconditioned residual <r, P r>, which measures the error in the image rather than in
    # the blurred data (where frequencies the blur removed barely count).
    stop = tol * tol * dot(rhs, precond * rhs)
    for _ in range(max_iter):
        if rz <= stop:
            break
        ap = normal(p)
        alpha = np.float32(rz / dot(p, ap))
        x += alpha * p
        r -= alpha * ap
        z = precond * r
        rz_new = dot(r, z)
        p *= np.float32(rz_new / rz)
        p += z
        rz = rz_new
    return x


@register(
    "deblur",
    "unsupervised-wiener",
    "Unsupervised Wiener-Hunt deconvolution: noise and prior weights sampled by MCMC (scikit-image).",
    params=[
        Param("boundary", str, "unknown", BOUNDARY_HELP, choices=BOUNDARIES),
        Param("seed", int, 0, "seed of the Gibbs sampler (results are reproducible)", low=0),
    ],
    color="per-channel",
    sigma="auto",
    needs=["kernel"],
    tags=("fourier", "bayesian"),
)
def unsupervised_wiener(
    img: np.ndarray, *, kernel: np.ndarray, sigma: float | None = None, boundary: str = "unknown", seed: int = 0
) -> np.ndarray:
    """Wiener-Hunt deconvolution with self-tuned weights (Orieux, Giovannelli & Rodet 2010).

    Runs :func:`skimage.restoration.unsupervised_wiener` (Laplacian prior;
    noise and prior precisions sampled with the image by a seeded Gibbs
    sampler). The sampler starts from precision 1
    for both and drifts towards realistic values slowly (tens of iterations
    per decade), so scikit-image's stopping rule often ends it far from
    them; here the data are divided by the noise level ``sigma`` and the
    prior scaled by the maximum-likelihood weight of :func:`ml_balance`,
    which puts its starting point at that estimate: ``sigma`` only sets the
    start, the sampler estimates both precisions itself.

    With ``boundary='unknown'`` (default) the sampler runs on the frame and
    the result is the Wiener-Hunt solution for its posterior-mean weight,
    with the scene beyond the frame solved for
    (:func:`solve_unknown_boundary`); with ``'taper'`` or ``'periodic'`` it
    is scikit-image's posterior mean on the frame extended as in
    :mod:`imagewizard.tasks.deblur.boundary`. Colour images are deconvolved
    channel by channel (by the registry).

    Examples
    --------
    >>> import numpy as np
    >>> from scipy import ndimage
    >>> x = np.zeros((48, 48)); x[16:32, 16:32] = 1.0
    >>> k = np.ones((5, 5)) / 25.0
    >>> y = ndimage.convolve(x, k, mode="reflect")
    >>> err = lambda z: float(np.abs(z - x).mean())
    >>> err(unsupervised_wiener(y, kernel=k, sigma=1.0)) < err(y)
    True
    """
    from skimage.restoration import unsupervised_wiener as skimage_unsupervised_wiener

    f = Frame(img, kernel, boundary)
    if sigma is None:
        sigma = estimate_noise(f.crop(f.data))
    noise = max(float(sigma), MIN_SIGMA) / 255.0
    spectrum = sfft.rfft2(f.data, axes=(0, 1))
    lap2 = laplacian_power(f.fshape)
    lam0 = ml_balance(spectrum, np.abs(f.otf) ** 2, lap2, noise, f.fshape)
    # For 'unknown' the sampler only estimates the weight, which it does as well on the frame alone
    # (checked on BSDS500 training images) at the cost of the library call on the input itself.
    data = (f.crop(f.data) if boundary == "unknown" else f.data[:, :, 0]) / noise
    out, chains = skimage_unsupervised_wiener(
        data.astype(np.float32), f.kernel, reg=np.sqrt(lam0) * _LAPLACIAN, clip=False, rng=seed
    )
    if boundary != "unknown":
        return f.crop(out[:, :, None] * noise)
    burn = _SKIMAGE_BURNIN if len(chains["noise"]) > 2 * _SKIMAGE_BURNIN else 1
    lam = lam0 * float(np.mean(chains["prior"][burn:]) / np.mean(chains["noise"][burn:]))
    x = solve_unknown_boundary(f, spectrum, lam, lap2)
    return f.crop(sfft.irfft2(x, s=f.fshape, axes=(0, 1)))


#: The 5-point Laplacian, scikit-image's default Wiener-Hunt regulariser.
_LAPLACIAN = np.array([[0.0, -1.0, 0.0], [-1.0, 4.0, -1.0], [0.0, -1.0, 0.0]])
#: scikit-image's default burn-in of unsupervised_wiener (samples left out of the means).
_SKIMAGE_BURNIN = 15
