"""Wavelet shrinkage: BayesShrink or VisuShrink thresholds, soft or hard, with optional cycle spinning."""

from __future__ import annotations

import numpy as np
from imagewizard.core.lazy import lazy
from imagewizard.core.errors import ParameterError
from imagewizard.core.registry import Param, register
from imagewizard.tasks.denoise.opponent import per_opponent_channel
from imagewizard.tasks.denoise.rules import rule

# heavy dependencies load when a method runs, not when it is declared (core.lazy)
pywt = lazy("pywt")
cycle_spin = lazy("skimage.restoration", "cycle_spin")
denoise_wavelet = lazy("skimage.restoration", "denoise_wavelet")

#: Orthogonal discrete wavelets: thresholding assumes the noise stays white in the wavelet domain.
ORTHOGONAL = tuple(w for w in pywt.wavelist(kind="discrete") if pywt.Wavelet(w).orthogonal)


@register(
    "denoise",
    "wavelet",
    "Wavelet shrinkage (BayesShrink or VisuShrink, soft or hard) with cycle spinning against artefacts.",
    params=[
        Param(
            "shrink",
            str,
            "bayes",
            "threshold rule: 'bayes' (BayesShrink, one threshold per subband "
            "from its signal variance) or 'visu' (VisuShrink, the universal threshold "
            "sigma*sqrt(2 log n))",
            choices=("bayes", "visu"),
        ),
        Param(
            "mode",
            str,
            "soft",
            "'soft' (shrink towards zero) or 'hard' (keep or kill) thresholding",
            choices=("soft", "hard"),
        ),
        Param(
            "wavelet",
            str,
            "db2",
            "orthogonal PyWavelets wavelet name (haar/db1, db2..db38, sym2..sym20, coif1..coif17)",
        ),
        Param("levels", int, 4, "decomposition levels (reduced to what the image size allows)", low=1, high=12),
        Param(
            "shifts",
            int,
            3,
            "cycle spinning: average over all circular shifts 0..shifts pixels "
            "along each axis ((shifts+1)^2 transforms; 0 turns it off)",
            low=0,
            high=8,
        ),
        Param(
            "threshold_scale",
            float,
            None,
            "multiplies the noise level the thresholds are computed "
            "from; auto: fitted rule in sigma (per shrink rule and mode)",
            low=0.01,
            high=10,
        ),
    ],
    sigma="auto",
    halo=64,
    tags=("transform",),
)
def wavelet(
    img: np.ndarray,
    *,
    sigma: float,
    shrink: str = "bayes",
    mode: str = "soft",
    wavelet: str = "db2",
    levels: int = 4,
    shifts: int = 3,
    threshold_scale: float | None = None,
) -> np.ndarray:
    """Denoise by thresholding wavelet coefficients.

    Wraps :func:`skimage.restoration.denoise_wavelet` (given the noise level
    ``sigma * threshold_scale``) inside
    :func:`skimage.restoration.cycle_spin`: averaging the results over
    shifted copies removes the blocky artefacts of a decimated transform and
    gains about 1.5 dB at sigma 25. The universal threshold of VisuShrink
    over-smooths, so its fitted ``threshold_scale`` is well below 1.

    Colour images are thresholded per channel in an orthonormal opponent
    space (see :mod:`.opponent`), where every channel keeps the noise level
    of the RGB channels (unlike YCbCr, which rescales it per channel).

    Parameters
    ----------
    img : ndarray
        HxW or HxWx3 float image.
    sigma : float
        Noise standard deviation on the 0..255 scale.
    shrink : {'bayes', 'visu'}
        Threshold rule.
    mode : {'soft', 'hard'}
        Thresholding function.
    wavelet : str
        Orthogonal wavelet name.
    levels : int
        Decomposition levels (at most what the image size allows).
    shifts : int
        Largest cycle-spinning shift in pixels; 0 for none.
    threshold_scale : float, optional
        Multiplier of the noise level used for the thresholds (fitted when ``None``).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> noisy = (0.5 + 0.1 * rng.standard_normal((32, 32))).astype(np.float32)
    >>> bool(wavelet(noisy, sigma=25.5).std() < noisy.std() / 2)
    True
    """
    if wavelet not in ORTHOGONAL:
        raise ParameterError(
            f"parameter 'wavelet' must be an orthogonal wavelet such as db2, sym4 or coif1; got {wavelet!r}"
        )
    if threshold_scale is None:
        threshold_scale = rule(f"wavelet.threshold_scale_{shrink}_{mode}", sigma, color=img.ndim == 3)
    noise = max(sigma, 1e-3) * threshold_scale / 255.0
    max_level = pywt.dwtn_max_level(img.shape[:2], wavelet)
    kw = dict(
        sigma=noise,
        wavelet=wavelet,
        mode=mode,
        wavelet_levels=max(1, min(levels, max_level)),
        method="BayesShrink" if shrink == "bayes" else "VisuShrink",
    )

    def run(ch: np.ndarray) -> np.ndarray:
        if shifts == 0:
            return denoise_wavelet(ch, **kw)
        return cycle_spin(ch, denoise_wavelet, max_shifts=shifts, func_kw=kw, workers=1)

    return per_opponent_channel(lambda ch: np.asarray(run(ch), np.float32), img)
