"""Inpainting by interpolation: biharmonic (smoothest fill) and k-nearest-neighbour regression."""

from __future__ import annotations

import numpy as np
from imagewizard.core.lazy import lazy
from imagewizard.core.registry import Param, register
from imagewizard.tasks.inpaint.common import check_mask, keep_known

# heavy dependencies load when a method runs, not when it is declared (core.lazy)
cKDTree = lazy("scipy.spatial", "cKDTree")


@register(
    "inpaint",
    "biharmonic",
    "Biharmonic inpainting: the smoothest fill (solves the biharmonic equation).",
    needs=["mask"],
    tags=("pde",),
)
def biharmonic(img: np.ndarray, *, mask: np.ndarray) -> np.ndarray:
    """Fill masked pixels with the solution of the biharmonic equation (Damelin & Hoang 2018).

    The filled surface is as smooth as possible (minimal thin-plate bending)
    and meets the known pixels and their slopes at the hole's border: good
    for thin scratches and scattered pixels, blurry in large holes. Wraps
    :func:`skimage.restoration.inpaint_biharmonic` (float, no quantisation;
    colour channels filled independently with ``channel_axis=-1``).

    Examples
    --------
    >>> import numpy as np
    >>> img = np.tile(np.linspace(0, 1, 16, dtype=np.float32), (16, 1))
    >>> mask = np.zeros((16, 16), bool); mask[6:9, 6:9] = True
    >>> bool(np.abs(biharmonic(img, mask=mask) - img).max() < 1e-3)
    True
    """
    from skimage.restoration import inpaint_biharmonic

    m = check_mask(img, mask)
    if m is None:
        return np.array(img, dtype=np.float32)
    x = np.asarray(img, dtype=np.float32)
    out = inpaint_biharmonic(x, m, channel_axis=-1 if x.ndim == 3 else None)
    return keep_known(x, out, m)


_WEIGHTS = ("uniform", "distance")


@register(
    "inpaint",
    "knn",
    "k-nearest-neighbour regression: each missing pixel averages its k nearest known pixels.",
    params=[
        Param("k", int, 5, "number of nearest known pixels averaged", low=1, high=1000),
        Param(
            "weights",
            str,
            "uniform",
            "uniform (plain mean) or distance (weights 1/distance, nearer pixels count more)",
            choices=_WEIGHTS,
        ),
    ],
    needs=["mask"],
    tags=("fast", "regression"),
)
def knn(img: np.ndarray, *, mask: np.ndarray, k: int = 5, weights: str = "uniform") -> np.ndarray:
    """Fill each masked pixel with the mean of its ``k`` nearest known pixels.

    Regression of intensity on pixel coordinates, as the book's
    ``KNeighborsRegressor`` example (k = 5, uniform weights by default),
    with :class:`scipy.spatial.cKDTree` for the neighbour search. Colour
    images use the same neighbours for the three channels. Known pixels are
    returned unchanged.

    Parameters
    ----------
    img : ndarray
        HxW or HxWx3 image.
    mask : ndarray of bool
        HxW, True where pixels are missing.
    k : int
        Neighbours averaged (fewer if fewer pixels are known).
    weights : {'uniform', 'distance'}
        Plain mean, or inverse-distance weighting.

    Examples
    --------
    >>> import numpy as np
    >>> img = np.zeros((8, 8), np.float32); img[:, 4:] = 1.0
    >>> mask = np.zeros((8, 8), bool); mask[3, 6] = True
    >>> float(knn(img, mask=mask, k=4)[3, 6])
    1.0
    """
    m = check_mask(img, mask)
    if m is None:
        return np.array(img, dtype=np.float32)
    x = np.asarray(img, dtype=np.float32)
    known = np.argwhere(~m)
    missing = np.argwhere(m)
    k = min(int(k), len(known))
    dist, idx = cKDTree(known).query(missing, k=k)
    if k == 1:
        dist, idx = dist[:, None], idx[:, None]
    values = x[~m]  # same (row-major) order as ``known``
    neigh = values[idx]  # (n_missing, k[, C])
    if weights == "distance":
        w = 1.0 / np.maximum(dist, 1e-12)
    else:
        w = np.ones_like(dist)
    w = (w / w.sum(axis=1, keepdims=True)).astype(np.float32)
    fill = np.einsum("nk,nk...->n...", w, neigh)
    out = x.copy()
    out[m] = fill
    return out
