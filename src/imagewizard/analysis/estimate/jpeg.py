"""JPEG: 8x8 block artefacts and an estimate of the quality the image was saved with."""

from __future__ import annotations

import numpy as np

from imagewizard.analysis.estimate.common import _image, _luma255


#: :func:`blockiness` above this: likely visible JPEG blocking. On 40 BSDS500 train
#: images (themselves JPEGs) it is 1.01-1.14 as they are, 1.04-1.50 after
#: re-encoding at quality 75, 1.22-2.28 at quality 30 and 1.57-4.73 at quality 10.
BLOCKY_THRESHOLD = 1.3


def blockiness(img, *, block: int = 8) -> float:
    """How much stronger the jumps across an 8x8 block grid are than elsewhere (1 = none).

    For each axis the mean absolute difference between neighbouring
    pixels is taken at each of the ``block`` grid phases; the strongest
    phase (the grid need not start at pixel 0, e.g. after a crop) is
    divided by the mean of the others. The result is the mean of both
    axes: about 1 for unblocked images, above :data:`BLOCKY_THRESHOLD` for
    visibly blocky JPEGs.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> blocks = np.kron(rng.random((8, 8)), np.ones((8, 8)))  # 64x64 of flat 8x8 blocks
    >>> blockiness(blocks + rng.normal(0, 0.01, blocks.shape)) > 5
    True
    """
    return _blockiness(_luma255(_image(img)), block)


def _grid_phases(g: np.ndarray, block: int = 8) -> tuple[list[float], list[int]]:
    """Per axis (columns, then rows): the blockiness ratio and the offset of the strongest block grid."""
    ratios, offsets = [], []
    for axis in (1, 0):
        d = np.abs(np.diff(g, axis=axis)).astype(np.float64)
        n = d.shape[axis]
        if n < 2 * block:
            offsets.append(0)
            continue
        prof = d.mean(axis=1 - axis)
        usable = (n // block) * block
        phases = prof[:usable].reshape(-1, block).mean(axis=0)
        top = int(np.argmax(phases))
        rest = np.delete(phases, top).mean()
        ratios.append(phases[top] / rest if rest > 0 else 1.0)
        offsets.append((top + 1) % block)  # the jump after pixel `top` starts a block
    return ratios, offsets


#: Re-encoding a libjpeg image at its own quality changes it by less than this (mean squared error,
#: 0..255 scale): requantising already-quantised DCT coefficients is (nearly) exact.
_GHOST_EXACT = 0.05


_GHOST_SIDE = 512


#: A luma curve below :data:`_GHOST_EXACT` at more than this many qualities carries no evidence: flat
#: 8x8 blocks on the grid (pixel art, flat synthetic blocks) survive re-encoding at almost any quality.
_GHOST_FLAT = 8


#: Without an exact match, a dip counts only when it is this much below its neighbours' mean.
_GHOST_DIP = 0.35


def jpeg_quality(img) -> tuple[int | None, bool]:
    """Estimate the JPEG quality an image was last saved at, from its pixels alone (the "JPEG ghost").

    The image (a centre crop aligned to the strongest 8x8 grid; a colour image's luma first, then
    its colours) is re-encoded at every quality 1..100 with the standard libjpeg tables; at the
    quality it was saved with, re-encoding is (nearly) idempotent. Returns ``(quality, exact)``: ``exact`` is True when some quality
    reproduces the image to within rounding (an image saved by libjpeg with its standard tables,
    as almost every library does), False when only the deepest dip of the curve could be taken
    (camera JPEGs with their own tables). ``(None, False)`` when there is no dip (not a JPEG, or
    one re-saved since) or the image is too small to tell (under 32x32).

    Examples
    --------
    >>> from imagewizard.physics.degrade import jpeg_compress
    >>> rng = np.random.default_rng(0)
    >>> x = np.kron(rng.random((12, 12)), np.ones((8, 8))) * 0.5 + rng.random((96, 96)) * 0.5
    >>> jpeg_quality(jpeg_compress(x, 30))
    (30, True)
    """
    x = _image(img)
    g = _luma255(x)
    if min(g.shape) < 32:
        return None, False
    _, (ox, oy) = _grid_phases(g)
    found: tuple[int, bool] | None = None
    # Colour is tried on its luma first, re-encoded as a gray JPEG: libjpeg quantises Y with the same
    # table either way, while chroma-heavy noise (camera noise) keeps the colour round trip from
    # being idempotent (4:2:0 subsampling and upsampling): on camera noise under JPEG 75-85 the
    # colour curve found the quality in 12 of 40 BSDS images, the luma one in 39. The colour curve
    # stays as the fallback (very dark or flat images, whose luma rounding blurs the dip).
    candidates = [np.round(np.clip(g, 0.0, 255.0)) / np.float32(255.0), x] if x.ndim == 3 else [x]
    for cand in candidates:
        # the grid offset measured from blocking, then the uncropped one (weak blocking at high
        # quality leaves the measured offset to chance)
        for oy_, ox_ in dict.fromkeys([(oy, ox), (0, 0)]):
            curve = _ghost_curve(cand, oy_, ox_)
            if cand is not x and int(np.sum(curve[:95] < _GHOST_EXACT)) > _GHOST_FLAT:
                continue  # luma reproduced at many qualities (flat blocks on the grid): no evidence
            q, exact = _ghost_dip(curve)
            if q is not None and (found is None or (exact and not found[1])):
                found = (q, exact)
            if exact:
                return found
    return found if found is not None else (None, False)


def _ghost_dip(d: np.ndarray) -> tuple[int | None, bool]:
    """The first dip of the curve (quality 1..95; 96-100 reproduce almost anything) and whether it is exact."""
    d = d[:95]
    pad = np.r_[np.full(3, np.inf), d, np.full(3, np.inf)]
    near = np.minimum(pad[:-6], pad[6:])  # the curve 3 qualities either side: neighbouring tables agree closely
    dips = (d < _GHOST_EXACT) | (d < _GHOST_DIP * near)
    if not dips.any():
        return None, False
    start = int(np.argmax(dips))
    stop = start + (int(np.argmin(dips[start:])) if not dips[start:].all() else len(dips) - start)
    k = start + int(np.argmin(d[start:stop]))
    # re-encoding at the saved quality is exact up to rounding (colour: chroma subsampling and YCbCr
    # rounding leave a little more), far below the qualities around it
    return k + 1, bool(d[k] < _GHOST_EXACT or d[k] < 0.15 * near[k])


def _ghost_curve(x: np.ndarray, oy: int, ox: int) -> np.ndarray:
    """Mean squared change (0..255 scale) of a grid-aligned centre crop re-encoded at quality 1..100."""
    from imagewizard.physics.degrade import jpeg_compress

    h, w = x.shape[:2]
    side_y, side_x = min(_GHOST_SIDE, (h - oy) // 16 * 16), min(_GHOST_SIDE, (w - ox) // 16 * 16)
    # keep the crop on the 8x8 grid and on the 16x16 chroma macroblocks
    y0 = oy + ((h - oy - side_y) // 2) // 16 * 16
    x0 = ox + ((w - ox - side_x) // 2) // 16 * 16
    crop = np.round(np.clip(x[y0 : y0 + side_y, x0 : x0 + side_x], 0.0, 1.0) * 255.0) / 255.0
    return np.array([np.mean((jpeg_compress(crop, q) - crop) ** 2) for q in range(1, 101)]) * 255.0**2


def _blockiness(g: np.ndarray, block: int = 8) -> float:
    ratios, _ = _grid_phases(g, block)
    return float(np.mean(ratios)) if ratios else 1.0
