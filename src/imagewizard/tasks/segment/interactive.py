"""Segmentation from a person's seeds (a box or scribbles): random walker and GrabCut.

Seeds (:mod:`imagewizard.tasks.segment.seeds`): 0 unknown, 1 background, 2.. objects. Every
pixel gets the label of the seed it is most strongly tied to; seeded pixels keep theirs.
"""

from __future__ import annotations

import numpy as np

from imagewizard.core.registry import Param, register
from imagewizard.tasks.segment.classical import _lab, _rgb
from imagewizard.tasks.segment.render import relabel


@register(
    "segment",
    "random-walker",
    "Random walker (Grady 2006): each pixel joins the seed a random walk from it most likely reaches first.",
    params=(
        Param(
            "beta", float, 130.0, "edge sensitivity: larger = walks stop harder at colour edges", low=1.0, high=10000.0
        ),
    ),
    needs=("seeds",),
    tags=("interactive",),
)
def random_walker(img: np.ndarray, *, seeds: np.ndarray, beta: float = 130.0) -> np.ndarray:
    """scikit-image's random walker on Lab colour (scaled to about 0..1), conjugate gradients.

    Examples
    --------
    >>> x = np.zeros((20, 20, 3), np.float32); x[:, 10:] = 1
    >>> s = np.zeros((20, 20), np.int32); s[10, 2] = 1; s[10, 17] = 2
    >>> lab = random_walker(x, seeds=s); int(lab[0, 0]), int(lab[19, 19])
    (1, 2)
    """
    from skimage.segmentation import random_walker as rw

    data = _lab(img) / 100.0
    s = np.asarray(seeds, np.int32).copy()
    if s.max() == 1:  # background only (a box): the object is seeded at the centre of the unknown area
        ys, xs = np.nonzero(s == 0)
        cy, cx = int(np.median(ys)), int(np.median(xs))
        ry, rx = max(1, (ys.max() - ys.min()) // 10), max(1, (xs.max() - xs.min()) // 10)
        core = np.zeros(s.shape, bool)
        core[cy - ry : cy + ry + 1, cx - rx : cx + rx + 1] = True
        s[core & (s == 0)] = 2
    # classes are renumbered so unseeded pixels (0) stay to be labelled; labels keep the seeds' order
    import warnings

    with warnings.catch_warnings():  # cg's tolerance puts probabilities a hair outside [0, 1]: harmless
        warnings.filterwarnings("ignore", message="The probability range is outside")
        return relabel(rw(data, s, beta=beta, mode="cg_j", tol=1e-3, channel_axis=-1))


@register(
    "segment",
    "grabcut",
    "GrabCut (Rother et al. 2004): colour models of object and background refined with graph cuts.",
    params=(Param("iterations", int, 5, "graph-cut / colour-model rounds", low=1, high=30),),
    needs=("seeds",),
    tags=("interactive",),
)
def grabcut(img: np.ndarray, *, seeds: np.ndarray, iterations: int = 5) -> np.ndarray:
    """OpenCV's GrabCut: label 1 background, 2 the object (every seed above 1 counts as the object).

    Unknown pixels inside the bounding box of the object seeds and the unseeded area start as
    "probably object", the rest as "probably background".
    """
    import cv2

    s = np.asarray(seeds, np.int32)
    mask = np.full(s.shape, cv2.GC_PR_BGD, np.uint8)
    unknown = s == 0
    enclosed = unknown & _inside_background_frame(s)
    if enclosed.any():  # a box (or a closed stroke): the unknown inside it is probably the object
        mask[enclosed] = cv2.GC_PR_FGD
    else:  # scribbles only: each unknown pixel starts with the seeds whose mean colour is nearer
        rgb = _rgb(img)
        fg, bg = rgb[s >= 2].mean(0), rgb[s == 1].mean(0)
        nearer = np.linalg.norm(rgb - fg, axis=-1) < np.linalg.norm(rgb - bg, axis=-1)
        mask[unknown & nearer] = cv2.GC_PR_FGD
    mask[s == 1] = cv2.GC_BGD
    mask[s >= 2] = cv2.GC_FGD
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    img8 = np.ascontiguousarray(np.round(_rgb(img)[..., ::-1] * 255).astype(np.uint8))
    cv2.setRNGSeed(0)
    cv2.grabCut(img8, mask, None, bgd, fgd, int(iterations), cv2.GC_INIT_WITH_MASK)
    fg = (mask == cv2.GC_FGD) | (mask == cv2.GC_PR_FGD)
    return np.where(fg, 2, 1).astype(np.int32)


def _inside_background_frame(s: np.ndarray) -> np.ndarray:
    """Unknown pixels enclosed by background seeds (a box given as seeds): the object's area."""
    from scipy import ndimage as ndi

    return ndi.binary_fill_holes(s == 1) & (s != 1)
