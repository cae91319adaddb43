"""Masks of missing pixels for inpainting: random pixels, scribbles, boxes and text."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from imagewizard.core.arrays import as_float_image
from imagewizard.core.errors import ParameterError
from imagewizard.physics.kernels import Declaration
from imagewizard.core.registry import Param
from imagewizard.physics.degrade.common import _bind, _rng


def _shape2(shape: Any) -> tuple[int, int]:
    try:
        h, w = (int(v) for v in tuple(shape)[:2])
    except (TypeError, ValueError):
        raise ParameterError(f"mask shape must be (height, width), got {shape!r}") from None
    if h < 1 or w < 1:
        raise ParameterError(f"mask shape must be positive, got {shape!r}")
    return h, w


_P_PIXELS = (Param("fraction", float, 0.5, "fraction of pixels missing", low=0.0, high=1.0),)


_P_LINES = (
    Param("lines", int, 8, "number of strokes", low=0, high=1000),
    Param("width", int, 5, "stroke width in pixels", low=1, high=200),
)


_P_BOX = (
    Param("size", float, 0.25, "area of the box as a fraction of the image", low=0.0, high=1.0),
    Param("center", bool, False, "put the box in the middle instead of at a random place"),
)


_P_TEXT = (
    Param("text", str, "ImageWizard", "the words written over the image (ASCII; repeated to fill it)"),
    Param("size", float, 0.06, "letter height as a fraction of the image height", low=0.005, high=1.0),
)


def random_pixel_mask(shape, fraction: float = 0.5, rng=None) -> np.ndarray:
    """Exactly ``round(fraction * H * W)`` missing pixels at random places.

    Returns
    -------
    numpy.ndarray
        bool HxW, True where a pixel is missing.

    Examples
    --------
    >>> int(random_pixel_mask((10, 10), 0.3, rng=0).sum())
    30
    """
    (fraction,) = _bind(_P_PIXELS, "pixels", fraction=fraction)
    h, w = _shape2(shape)
    mask = np.zeros(h * w, dtype=bool)
    mask[_rng(rng).permutation(h * w)[: int(round(fraction * h * w))]] = True
    return mask.reshape(h, w)


def scribble_mask(shape, lines: int = 8, width: int = 5, rng=None) -> np.ndarray:
    """Random scratches: ``lines`` strokes of ``width`` pixels.

    Each stroke starts at a random point and has 1 to 3 straight segments,
    each 10-30 % of the longer image side long, turning by N(0, 30 deg)
    between segments. About ``lines * 0.4 * width / min(H, W)`` of a square
    image is covered (8 strokes of 5 px on 256x256: about 6 %).

    Examples
    --------
    >>> scribble_mask((64, 64), 4, 3, rng=0).dtype
    dtype('bool')
    """
    import cv2

    lines, width = _bind(_P_LINES, "lines", lines=lines, width=width)
    h, w = _shape2(shape)
    rng = _rng(rng)
    canvas = np.zeros((h, w), dtype=np.uint8)
    side = max(h, w)
    for _ in range(lines):
        p = rng.uniform((0.0, 0.0), (w, h))
        angle = rng.uniform(0.0, 2 * math.pi)
        pts = [p]
        for _ in range(int(rng.integers(1, 4))):
            angle += rng.normal(0.0, math.pi / 6)
            p = p + rng.uniform(0.1, 0.3) * side * np.array([math.cos(angle), math.sin(angle)])
            pts.append(p)
        poly = np.round(np.array(pts)).astype(np.int32).reshape(-1, 1, 2)
        cv2.polylines(canvas, [poly], False, 1, thickness=width, lineType=cv2.LINE_8)
    return canvas.astype(bool)


def box_mask(shape, size: float = 0.25, rng=None, *, center: bool = False) -> np.ndarray:
    """One missing box covering ``size`` of the image area, with the image's aspect ratio.

    Sides are ``round(sqrt(size) * H)`` by ``round(sqrt(size) * W)``; the box
    lies wholly inside the image at a random place (or centred).

    Examples
    --------
    >>> int(box_mask((8, 8), 0.25, center=True).sum())
    16
    """
    size, center = _bind(_P_BOX, "box", size=size, center=center)
    h, w = _shape2(shape)
    bh, bw = int(round(math.sqrt(size) * h)), int(round(math.sqrt(size) * w))
    if center:
        y, x = (h - bh) // 2, (w - bw) // 2
    else:
        gen = _rng(rng)
        y, x = int(gen.integers(0, h - bh + 1)), int(gen.integers(0, w - bw + 1))
    mask = np.zeros((h, w), dtype=bool)
    mask[y : y + bh, x : x + bw] = True
    return mask


def text_mask(shape, text: str = "ImageWizard", size: float = 0.06, rng=None) -> np.ndarray:
    """Text written over the whole image (the "remove the caption/watermark" task).

    ``text`` is repeated along rows spaced two line heights apart, each row
    shifted by a random amount; letters are ``size * H`` pixels tall
    (OpenCV Hershey simplex font, so it needs no font files). About 15 %
    of the image is covered at the default size.

    Examples
    --------
    >>> m = text_mask((128, 128), "Hello", rng=0)
    >>> bool(0.03 < m.mean() < 0.3)
    True
    """
    import cv2

    text, size = _bind(_P_TEXT, "text", text=text, size=size)
    if not text.strip() or not text.isascii() or not text.isprintable():
        raise ParameterError(f"mask text must be non-empty printable ASCII, got {text!r}")
    h, w = _shape2(shape)
    gen = _rng(rng)
    font = cv2.FONT_HERSHEY_SIMPLEX
    target = max(4.0, size * h)
    (_, h1), _ = cv2.getTextSize(text, font, 1.0, 1)
    scale = target / h1
    thickness = max(1, int(round(target / 8)))
    unit = text + "   "
    (uw, uh), _ = cv2.getTextSize(unit, font, scale, thickness)
    uw = max(uw, 1)
    pitch = 2 * uh
    canvas = np.zeros((h, w), dtype=np.uint8)
    line = unit * (w // uw + 2)
    for y in range(int(gen.integers(uh, uh + pitch)), h + uh, pitch):
        cv2.putText(canvas, line, (-int(gen.integers(0, uw)), y), font, scale, 1, thickness, cv2.LINE_8)
    return canvas.astype(bool)


#: Mask declarations: name -> (params, function(shape, ..., rng=), one-line summary).
MASKS: dict[str, Declaration] = {
    "pixels": Declaration(_P_PIXELS, random_pixel_mask, "Randomly missing pixels (a fraction of the image)."),
    "lines": Declaration(_P_LINES, scribble_mask, "Random scratches / scribbles."),
    "box": Declaration(_P_BOX, box_mask, "One missing rectangle (a hole)."),
    "text": Declaration(_P_TEXT, text_mask, "Text written over the image."),
}


def apply_mask(img, mask, fill: float = 0.0) -> np.ndarray:
    """Return a float32 copy of ``img`` with the pixels where ``mask`` is True set to ``fill`` (all channels).

    Examples
    --------
    >>> apply_mask(np.ones((2, 2)), np.array([[True, False], [False, False]])).tolist()
    [[0.0, 1.0], [1.0, 1.0]]
    """
    x = as_float_image(img).copy()
    m = np.asarray(mask)
    if m.shape != x.shape[:2]:
        raise ParameterError(f"mask shape {m.shape} does not match the image {x.shape[:2]}")
    x[m.astype(bool)] = float(fill)
    return x
