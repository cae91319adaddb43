"""BM3D through the optional ``bm3d`` package (non-commercial licence)."""

from __future__ import annotations

import numpy as np

from imagewizard.core.registry import Param, register

PROFILES = ("np", "refilter", "vn", "vn_old", "high", "deb")


@register(
    "denoise",
    "bm3d",
    "BM3D: collaborative filtering of groups of similar blocks (CBM3D for colour); the classical best.",
    params=[
        Param(
            "profile",
            str,
            "np",
            "bm3d package settings: 'np' (normal), 'refilter', 'vn' (very "
            "noisy), 'vn_old', 'high' (slower, a little better), 'deb'",
            choices=PROFILES,
        ),
        Param(
            "stage",
            str,
            "all",
            "gray only: 'all' (hard thresholding then Wiener) or 'hard' (the first, faster stage only)",
            choices=("all", "hard"),
        ),
    ],
    sigma="auto",
    requires=("bm3d",),
    extra="bm3d",
    note="uses the bm3d package, licensed for non-commercial use only (pip install 'imagewizard[bm3d]')",
    halo=48,
    tags=("nonlocal", "transform"),
    min_size=16,
)  # 8x8 crashes the C code; 16 covers every profile's blocks
def bm3d(img: np.ndarray, *, sigma: float, profile: str = "np", stage: str = "all") -> np.ndarray:
    """Block-matching and 3-D filtering (Dabov et al. 2007) via :func:`bm3d.bm3d`.

    The noise level is the only setting that matters and is passed as is
    (``sigma / 255`` for images on [0, 1]); no rule is fitted. Colour images
    go to :func:`bm3d.bm3d_rgb` (CBM3D: block matching on luminance, in the
    package's opponent colour space).

    Parameters
    ----------
    img : ndarray
        HxW or HxWx3 float image.
    sigma : float
        Noise standard deviation on the 0..255 scale.
    profile : str
        Parameter profile of the bm3d package.
    stage : {'all', 'hard'}
        Both stages or hard thresholding only (gray images).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> noisy = (0.5 + 0.1 * rng.standard_normal((32, 32))).astype(np.float32)
    >>> bool(bm3d(noisy, sigma=25.5).std() < noisy.std() / 2)
    True
    """
    import bm3d as _bm3d

    s = max(float(sigma), 1e-3) / 255.0
    x = np.asarray(img, np.float64)
    if x.ndim == 3:
        out = _bm3d.bm3d_rgb(x, s, profile=profile)
    else:
        stages = _bm3d.BM3DStages.ALL_STAGES if stage == "all" else _bm3d.BM3DStages.HARD_THRESHOLDING
        out = _bm3d.bm3d(x, s, profile=profile, stage_arg=stages)
    return np.asarray(out, np.float32)
