"""Bounded-memory processing of large images: run a local method tile by tile.

A method declared with a ``halo`` in the registry needs only that many pixels of context around
each output pixel. :func:`apply_tiled` cuts the image into tiles of at most ``tile`` x ``tile``
output pixels, gives each its halo of real neighbouring pixels (the image's own border where the
tile touches it), runs the method, and keeps the tile's interior. Peak memory then follows the
tile, not the photo: a 50-megapixel image costs the input, the output and one tile's working set.

Automatic parameters that depend on the whole image (the noise level) are resolved once on the
whole image before tiling (:class:`imagewizard.run.pipeline.Pipeline` does this), so every tile is
processed with the same settings.

Examples
--------
>>> import numpy as np
>>> from imagewizard.run.tiling import apply_tiled
>>> from scipy import ndimage
>>> x = np.random.default_rng(0).random((300, 200)).astype(np.float32)
>>> out = apply_tiled(lambda t: ndimage.uniform_filter(t, 5, mode="reflect"), x, tile=64, halo=2)
>>> bool(np.allclose(out, ndimage.uniform_filter(x, 5, mode="reflect")))
True
"""

from __future__ import annotations

from typing import Callable

import numpy as np

#: Images with more pixels than this are processed in tiles by pipelines and batches (about
#: 16 MP: larger photos would otherwise need many GB in the heavier methods).
TILE_ABOVE = 16_000_000
#: Output pixels per tile side.
TILE = 2048


def apply_tiled(
    func: Callable[[np.ndarray], np.ndarray], img: np.ndarray, *, tile: int = TILE, halo: int = 32
) -> np.ndarray:
    """``func`` applied to ``img`` tile by tile (see the module docstring); same shape and dtype as ``func`` gives."""
    from imagewizard.core.progress import report, reporting

    h, w = img.shape[:2]
    out: np.ndarray | None = None
    total, done = -(-h // tile) * -(-w // tile), 0
    for y0 in range(0, h, tile):
        for x0 in range(0, w, tile):
            y1, x1 = min(y0 + tile, h), min(x0 + tile, w)
            ya, xa = max(0, y0 - halo), max(0, x0 - halo)
            yb, xb = min(h, y1 + halo), min(w, x1 + halo)
            with reporting(None):  # these tiles are the count; a method's own inner tiles are not
                res = np.asarray(func(np.ascontiguousarray(img[ya:yb, xa:xb])))
            done += 1
            report(done, total)
            if out is None:
                out = np.empty(img.shape[:2] + res.shape[2:], dtype=res.dtype)
            out[y0:y1, x0:x1] = res[y0 - ya : y1 - ya, x0 - xa : x1 - xa]
    assert out is not None
    return out
