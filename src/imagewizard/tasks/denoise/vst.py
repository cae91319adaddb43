"""Shot-noise (Poisson) denoising through a variance-stabilising transform.

Photon noise grows with brightness (variance = intensity / peak), so a Gaussian denoiser told one
sigma over-smooths the shadows and under-smooths the highlights. The generalised Anscombe
transform makes the noise Gaussian with unit variance everywhere; any Gaussian denoiser then
runs at one known sigma, and the exact unbiased inverse maps back (Makitalo and Foi's closed-form
approximation, which avoids the bias of the algebraic inverse at low counts).

M. Makitalo and A. Foi, "Optimal inversion of the generalized Anscombe transformation for
Poisson-Gaussian noise", IEEE Trans. Image Processing 22(1), 91-103 (2013).
"""

from __future__ import annotations

import numpy as np

from imagewizard.core.registry import Param, register

#: Gaussian denoisers the transform can wrap, best first; "auto" takes the first installed.
INNER = ("unet", "bm3d", "nlm", "wavelet", "tv")
_S32 = float(np.sqrt(1.5))


def estimate_peak(img: np.ndarray) -> float | None:
    """Photon count of white (``var = x / peak``) from how noise grows with intensity.

    None unless :func:`imagewizard.analysis.estimate.noise_type` finds shot noise.
    """
    from imagewizard.analysis.estimate import noise_type

    kind, evidence = noise_type(img)
    fit = evidence.get("poisson_fit")
    # only when the classifier calls it shot noise: clipped Gaussian noise also varies with level
    if kind != "poisson" or not fit or fit[1] <= 0:
        return None
    return float(255.0 / fit[1])  # var255 = slope * level255  <=>  var = x / peak with peak = 255 / slope


def _inner(name: str | None) -> str:
    from imagewizard.core import registry

    if name is not None:
        registry.get("denoise", name).check_available()
        return name
    return registry.first_available("denoise", INNER)


def _forward(u: np.ndarray, read2: float) -> np.ndarray:
    return 2.0 * np.sqrt(np.maximum(u + 0.375 + read2, 0.0))


def _inverse(d: np.ndarray, read2: float) -> np.ndarray:
    d = np.maximum(d, 0.8)  # the closed form is meant for D above ~0.8 (counts near zero)
    return np.maximum(0.25 * d**2 + 0.25 * _S32 / d - 1.375 / d**2 + 0.625 * _S32 / d**3 - 0.125 - read2, 0.0)


@register(
    "denoise",
    "anscombe",
    "Shot (Poisson) noise: variance-stabilising Anscombe transform, a Gaussian denoiser at unit sigma, "
    "exact unbiased inverse.",
    params=[
        Param(
            "peak",
            float,
            None,
            "photon count of white (noise variance = intensity / peak); auto "
            "estimates it from how the noise grows with brightness",
            low=0.01,
            high=1e6,
        ),
        Param(
            "read_noise",
            float,
            0.0,
            "standard deviation (0-255 scale) of additive Gaussian noise on top of the shot noise (sensor read noise)",
            low=0.0,
            high=255.0,
        ),
        Param(
            "denoiser",
            str,
            None,
            "the Gaussian denoiser run in the stabilised domain; auto: the best installed of " + ", ".join(INNER),
            choices=INNER,
        ),
    ],
    halo=64,
    tags=("poisson", "transform"),
)
def anscombe(
    img: np.ndarray, *, peak: float | None = None, read_noise: float = 0.0, denoiser: str | None = None
) -> np.ndarray:
    """Denoise Poisson (shot) noise with the generalised Anscombe transform around a Gaussian denoiser.

    Parameters
    ----------
    img : ndarray
        HxW or HxWx3 float image whose noise variance grows with intensity as ``x / peak``.
    peak : float, optional
        Photon count of white; None estimates it (:func:`estimate_peak`). When the noise does not
        grow with brightness (no peak to estimate), the Gaussian denoiser runs directly at the
        estimated sigma, the transform's limit for an infinite peak.
    read_noise : float
        Additive Gaussian noise on the 0..255 scale, if any.
    denoiser : str, optional
        Registered Gaussian denoiser to run in the stabilised domain; None takes the best installed.

    Examples
    --------
    >>> from skimage import data
    >>> from imagewizard.physics.degrade import poisson_noise
    >>> from imagewizard.analysis.metrics import psnr
    >>> clean = data.camera()[:128, :128] / 255.0
    >>> noisy = poisson_noise(clean, peak=30, rng=0)
    >>> bool(psnr(clean, anscombe(noisy, peak=30, denoiser="wavelet")) > psnr(clean, noisy) + 5)
    True
    """
    from imagewizard.api import apply

    x = np.asarray(img, dtype=np.float64)
    inner = _inner(denoiser)
    if peak is None:
        peak = estimate_peak(np.clip(x, 0, 1).astype(np.float32))
        if peak is None:
            # no noise growing with brightness: the transform's limit for an infinite peak is the
            # Gaussian denoiser itself, at the estimated level
            return apply("denoise", np.asarray(img, dtype=np.float32), inner, sigma="auto")
    read2 = (read_noise / 255.0 * peak) ** 2  # read-noise variance in photon units
    u = x * peak
    f = _forward(u, read2)
    lo, hi = float(_forward(np.zeros(1), read2)[0]), float(_forward(np.array([peak]), read2)[0])
    span = hi - lo
    # unit noise in the stabilised domain: sigma 255/span once mapped onto [0, 1]
    z = apply("denoise", ((f - lo) / span).astype(np.float32), inner, sigma=255.0 / span)
    d = np.asarray(z, dtype=np.float64) * span + lo
    return (_inverse(d, read2) / peak).astype(np.float32)
