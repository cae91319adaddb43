"""Noise models: Gaussian, salt-and-pepper, speckle, Poisson (shot) and camera noise, each seeded."""

from __future__ import annotations

import numpy as np

from imagewizard.core.arrays import as_float_image
from imagewizard.physics.kernels import Declaration
from imagewizard.core.registry import Param
from imagewizard.physics.degrade.common import _bind, _rng
from imagewizard.physics.degrade.camera import _P_CAMERA, camera_noise


_P_GAUSS = (
    Param("sigma", float, 25.0, "standard deviation on the 0..255 scale", low=0.0, high=255.0),
    Param("mean", float, 0.0, "mean on the 0..255 scale", low=-255.0, high=255.0),
)


_P_SP = (
    Param("amount", float, 0.05, "fraction of pixels hit", low=0.0, high=1.0),
    Param("salt_ratio", float, 0.5, "fraction of hit pixels set to white (the rest black)", low=0.0, high=1.0),
)


_P_SPECKLE = (
    Param(
        "sigma", float, 0.2, "relative std of the multiplicative noise (x + x*n, n ~ N(0, sigma^2))", low=0.0, high=10.0
    ),
)


_P_POISSON = (Param("peak", float, 30.0, "expected photon count at white (1.0); lower is noisier", low=1e-3, high=1e9),)


def gaussian_noise(img, sigma: float, mean: float = 0.0, rng=None) -> np.ndarray:
    """Add white Gaussian noise, independent per pixel and channel, without clipping.

    Parameters
    ----------
    img : array_like
        HxW or HxWx3 (uint8/uint16 are scaled to [0, 1]).
    sigma, mean : float
        Standard deviation and mean on the 0..255 scale.
    rng : None, int or numpy.random.Generator
        Randomness; ``None`` draws fresh entropy (use :func:`degrade` or an int for reproducibility).

    Returns
    -------
    numpy.ndarray
        float32, ``img + (mean + sigma * N(0, 1)) / 255``, unclipped.

    Examples
    --------
    >>> noisy = gaussian_noise(np.zeros((256, 256)), 25, rng=0)
    >>> round(float(noisy.std() * 255))
    25
    """
    sigma, mean = _bind(_P_GAUSS, "gaussian", sigma=sigma, mean=mean)
    x = as_float_image(img)
    n = _rng(rng).standard_normal(x.shape)
    return (x + (mean + sigma * n) / 255.0).astype(np.float32)


def salt_pepper_noise(img, amount: float = 0.05, salt_ratio: float = 0.5, rng=None) -> np.ndarray:
    """Impulse noise: exactly ``round(amount * H * W)`` pixels set to white or black.

    Of the hit pixels, ``round(salt_ratio * hits)`` become 1.0 (salt), the
    rest 0.0 (pepper), all channels together.

    Examples
    --------
    >>> out = salt_pepper_noise(np.full((10, 10), 0.5), 0.2, 1.0, rng=0)
    >>> int((out == 1).sum())
    20
    """
    amount, salt_ratio = _bind(_P_SP, "salt-pepper", amount=amount, salt_ratio=salt_ratio)
    x = as_float_image(img).copy()
    h, w = x.shape[:2]
    hits = int(round(amount * h * w))
    idx = _rng(rng).permutation(h * w)[:hits]
    n_salt = int(round(salt_ratio * hits))
    flat = x.reshape(h * w, -1)
    flat[idx[:n_salt]] = 1.0
    flat[idx[n_salt:]] = 0.0
    return x


def speckle_noise(img, sigma: float = 0.2, rng=None) -> np.ndarray:
    """Multiplicative noise ``x + x * n``, ``n ~ N(0, sigma^2)`` per pixel and channel.

    The mean is preserved; the standard deviation is ``sigma * x`` (no clipping).

    Examples
    --------
    >>> out = speckle_noise(np.full((256, 256), 0.5), 0.2, rng=0)
    >>> round(float(out.std()), 2)
    0.1
    """
    (sigma,) = _bind(_P_SPECKLE, "speckle", sigma=sigma)
    x = as_float_image(img)
    n = _rng(rng).standard_normal(x.shape)
    return (x + x * (sigma * n)).astype(np.float32)


def poisson_noise(img, peak: float = 30.0, rng=None) -> np.ndarray:
    """Shot noise: ``poisson(x * peak) / peak`` per pixel and channel.

    ``peak`` is the expected photon count of a white pixel, so the noise
    std is ``sqrt(x / peak)``: 30 is a dim scene, 1000 a bright one.
    Negative input values (e.g. from earlier unclipped noise) count as 0.

    Examples
    --------
    >>> out = poisson_noise(np.full((256, 256), 0.5), 50, rng=0)
    >>> round(float(out.var()), 3)
    0.01
    """
    (peak,) = _bind(_P_POISSON, "poisson", peak=peak)
    x = as_float_image(img)
    lam = np.clip(x.astype(np.float64), 0.0, None) * peak
    return (_rng(rng).poisson(lam) / peak).astype(np.float32)


#: Noise declarations: name -> (params, function, one-line summary).
NOISES: dict[str, Declaration] = {
    "gaussian": Declaration(_P_GAUSS, gaussian_noise, "Additive white Gaussian noise (sensor read noise)."),
    "salt-pepper": Declaration(_P_SP, salt_pepper_noise, "Impulse noise: random pixels set to white or black."),
    "speckle": Declaration(_P_SPECKLE, speckle_noise, "Multiplicative noise x + x*n (radar, ultrasound, laser)."),
    "poisson": Declaration(_P_POISSON, poisson_noise, "Photon shot noise, stronger in bright areas."),
    "camera": Declaration(
        _P_CAMERA, camera_noise, "Camera noise: shot and read noise on the raw mosaic, then demosaiced and tone-mapped."
    ),
}
