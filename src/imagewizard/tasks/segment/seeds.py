"""Seeds for the interactive methods: a scribble/label image or a box, as an int32 map.

``0`` is unknown, ``1`` background, ``2..k`` the objects a person marked. A box
``box:x0,y0,x1,y1`` (pixels, or fractions of the width and height when every value is at most 1)
marks everything outside it as background and leaves the inside unknown: GrabCut's rectangle
(the random walker seeds the object at the box's centre).

Examples
--------
>>> s = resolve_seeds("box:0.25,0.25,0.75,0.75", (8, 8, 3))
>>> int(s[0, 0]), int(s[4, 4])
(1, 0)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from imagewizard.core.errors import ParameterError


def _box(spec: str, h: int, w: int) -> np.ndarray:
    try:
        vals = [float(v) for v in spec.split(":", 1)[1].split(",")]
    except ValueError:
        vals = []
    if len(vals) != 4:
        raise ParameterError(f"seeds '{spec}': a box is box:x0,y0,x1,y1 (pixels, or fractions 0..1)")
    if all(0.0 <= v <= 1.0 for v in vals):
        vals = [vals[0] * w, vals[1] * h, vals[2] * w, vals[3] * h]
    x0, y0, x1, y1 = (int(round(v)) for v in vals)
    x0, x1 = sorted((max(0, x0), min(w, x1)))
    y0, y1 = sorted((max(0, y0), min(h, y1)))
    if x1 - x0 < 2 or y1 - y0 < 2 or (x1 - x0) * (y1 - y0) >= h * w:
        raise ParameterError(f"seeds '{spec}': the box must be inside the {w}x{h} image and smaller than it")
    s = np.ones((h, w), np.int32)
    s[y0:y1, x0:x1] = 0
    return s


def resolve_seeds(seeds: Any, shape: tuple[int, ...]) -> np.ndarray:
    """Seeds from an array, a ``box:...`` spec or a label/scribble image file (black = unknown)."""
    h, w = shape[:2]
    if isinstance(seeds, str) and seeds.strip().lower().startswith("box:"):
        return _box(seeds.strip().lower(), h, w)
    if isinstance(seeds, (str, bytes)) or hasattr(seeds, "__fspath__"):
        from imagewizard.io.labels import read_labels

        arr = read_labels(seeds, black_is_zero=True)  # a colour scribble: black is "not marked"
    else:
        arr = np.asarray(seeds)
        if arr.dtype == bool:
            arr = arr.astype(np.int32) * 2
    if arr.shape != (h, w):
        raise ParameterError(f"seeds are {arr.shape[1]}x{arr.shape[0]}, the image {w}x{h}")
    if not np.issubdtype(arr.dtype, np.integer) or arr.min() < 0:
        raise ParameterError("seeds are whole numbers: 0 unknown, 1 background, 2.. objects")
    arr = arr.astype(np.int32)
    if len(np.unique(arr[arr > 0])) < 2 and not (arr.min() == 0 and arr.max() == 1):
        raise ParameterError("seeds need background (1) and an object (2..), or background around an unknown area")
    return arr


def check_seeds_field(value: Any, where: str) -> None:
    """A pipeline file's ``seeds``: a box spec is checked when the file loads, a file when it runs."""
    if isinstance(value, str) and value.strip().lower().startswith("box:"):
        _box(value.strip().lower(), 1000, 1000)
