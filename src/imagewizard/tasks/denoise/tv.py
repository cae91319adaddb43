"""Total-variation (ROF) denoising: Chambolle's projection or split Bregman."""

from __future__ import annotations

from typing import Callable

import numpy as np
from imagewizard.core.lazy import lazy
from imagewizard.core.registry import Param, register
from imagewizard.tasks.denoise.opponent import per_opponent_channel
from imagewizard.tasks.denoise.rules import rule

# heavy dependencies load when a method runs, not when it is declared (core.lazy)
denoise_tv_bregman = lazy("skimage.restoration", "denoise_tv_bregman")
denoise_tv_chambolle = lazy("skimage.restoration", "denoise_tv_chambolle")

#: Mirror views of an image (each is its own inverse): identity, 180-degree rotation, the two mirrors.
_FLIPS = (
    (slice(None), slice(None)),
    (slice(None, None, -1), slice(None, None, -1)),
    (slice(None, None, -1), slice(None)),
    (slice(None), slice(None, None, -1)),
)


def flip_average(func: Callable[[np.ndarray], np.ndarray], img: np.ndarray, flips: int) -> np.ndarray:
    """Mean of ``func`` applied to the first ``flips`` mirror views of ``img``, each mapped back.

    TV solvers use one-sided finite differences, so their result depends on
    the image's orientation; averaging over mirrored copies removes that
    bias (like cycle spinning does for a decimated wavelet transform).

    Examples
    --------
    >>> import numpy as np
    >>> x = np.arange(6.0).reshape(2, 3)
    >>> bool(np.allclose(flip_average(lambda a: a * 2, x, 4), 2 * x))
    True
    """
    acc = None
    for view in _FLIPS[:flips]:
        out = np.asarray(func(np.ascontiguousarray(img[view])), np.float64)[view]
        acc = out if acc is None else acc + out
    return (acc / flips).astype(np.float32)


@register(
    "denoise",
    "tv",
    "Total-variation denoising (ROF): flat regions and sharp edges, at the cost of fine texture.",
    params=[
        Param(
            "solver",
            str,
            "chambolle",
            "'chambolle' (dual projection) or 'bregman' (split Bregman)",
            choices=("chambolle", "bregman"),
        ),
        Param(
            "weight",
            float,
            None,
            "smoothing strength: lambda in min 1/2 |u - f|^2 + lambda TV(u) "
            "for images on [0, 1] (same units as the noise level / 255); larger = flatter; "
            "auto: fitted rule in sigma (per solver)",
            low=1e-4,
            high=10,
        ),
        Param(
            "flips",
            int,
            4,
            "average the solutions for the image and its mirror images: 1 (none), "
            "2 (and the 180-degree rotation) or 4 (and both mirrors); removes the orientation bias "
            "of the one-sided differences: +0.06 dB at sigma 25 for 4x the time",
            choices=(1, 2, 4),
        ),
        Param(
            "iterations",
            int,
            40,
            "chambolle only: iterations per solve (a fixed number: "
            "scikit-image's energy-change stopping rule sometimes stops after a few)",
            low=1,
            high=10000,
        ),
        Param(
            "isotropic",
            bool,
            True,
            "bregman only: isotropic TV (gradient magnitude) rather than "
            "anisotropic (|dx| + |dy|, favours axis-aligned edges)",
        ),
    ],
    sigma="auto",
    halo=32,
    tags=("variational", "edge-preserving"),
)
def tv(
    img: np.ndarray,
    *,
    sigma: float,
    solver: str = "chambolle",
    weight: float | None = None,
    flips: int = 4,
    iterations: int = 40,
    isotropic: bool = True,
) -> np.ndarray:
    """Total-variation denoising: ``argmin_u 1/2 |u - f|^2 + weight * TV(u)``.

    ``solver='chambolle'`` wraps :func:`skimage.restoration.denoise_tv_chambolle`
    (``weight`` passed as is) for a fixed number of iterations (``eps=0``):
    its default stopping rule watches the change of an energy that is not
    monotone and sometimes stops after a few iterations, which made PSNR
    jump by up to 1.7 dB for a 0.3% change of ``weight``; 40 iterations
    reach the converged PSNR within 0.01 dB near the fitted weights.
    ``solver='bregman'`` wraps :func:`skimage.restoration.denoise_tv_bregman`
    (its default stopping rule), whose parameter is the data-term weight,
    given as ``1 / (2 * weight)`` so that both solvers mean the same by
    ``weight``; it discretises TV differently and stays about 0.3 dB below
    Chambolle. Each solver has its own fitted ``weight`` rule.

    With ``flips`` > 1 the solver runs on mirrored copies and the results
    are averaged (:func:`flip_average`).

    Colour images are denoised per channel in an orthonormal opponent space
    (luminance and two chroma channels, see :mod:`.opponent`): the noise
    level is unchanged there and the smooth chroma channels flatten well,
    about 1.5 dB better than per-RGB-channel TV.

    Parameters
    ----------
    img : ndarray
        HxW or HxWx3 float image.
    sigma : float
        Noise standard deviation on the 0..255 scale.
    solver : {'chambolle', 'bregman'}
        Optimisation algorithm.
    weight : float, optional
        Smoothing strength (fitted rule when ``None``).
    flips : {1, 2, 4}
        Mirror views averaged.
    iterations : int
        Chambolle iterations per solve.
    isotropic : bool
        Isotropic TV (bregman only; Chambolle's is always isotropic).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> noisy = (0.5 + 0.1 * rng.standard_normal((32, 32))).astype(np.float32)
    >>> bool(tv(noisy, sigma=25.5).std() < noisy.std() / 2)
    True
    """
    if weight is None:
        weight = rule(f"tv.weight_{solver}", sigma, color=img.ndim == 3)
    if solver == "chambolle":

        def solve(ch: np.ndarray) -> np.ndarray:
            return denoise_tv_chambolle(ch, weight=weight, eps=0.0, max_num_iter=iterations)
    else:

        def solve(ch: np.ndarray) -> np.ndarray:
            return denoise_tv_bregman(ch, weight=1.0 / (2.0 * weight), isotropic=isotropic)

    return per_opponent_channel(lambda ch: flip_average(solve, ch, flips), img)
