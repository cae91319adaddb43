"""Sample images that ship with the package's dependencies (scikit-image), so demos and the
built-in benchmark set work offline with nothing to download."""

from __future__ import annotations

import numpy as np

from imagewizard.core.errors import ParameterError

#: name -> (scikit-image loader, what it is)
SAMPLES = {
    "astronaut": ("astronaut", "Eileen Collins, NASA portrait (colour, 512x512)"),
    "camera": ("camera", "the cameraman (gray, 512x512)"),
    "coffee": ("coffee", "a cup of coffee (colour, 400x600)"),
    "chelsea": ("chelsea", "Chelsea the cat (colour, 300x451)"),
    "rocket": ("rocket", "a rocket launch (colour, 427x640)"),
    "brick": ("brick", "brick wall texture (gray, 512x512)"),
    "grass": ("grass", "grass texture (gray, 512x512)"),
    "moon": ("moon", "the lunar surface (gray, 512x512)"),
}

#: The built-in tiny benchmark set: (sample, top, left, size) crops, small enough to run anywhere in seconds.
TINY_SET = {
    "astronaut-face": ("astronaut", 30, 150, 128),
    "camera-man": ("camera", 60, 180, 128),
    "coffee-cup": ("coffee", 120, 200, 128),
    "chelsea-eye": ("chelsea", 60, 80, 128),
    "brick": ("brick", 200, 200, 96),
    "grass": ("grass", 100, 100, 96),
}


def sample(name: str) -> np.ndarray:
    """A bundled sample image as float32 in [0, 1] (HxW or HxWx3).

    Examples
    --------
    >>> sample("camera").shape
    (512, 512)
    """
    import skimage.data

    if name not in SAMPLES:
        raise ParameterError(f"unknown sample '{name}' (known: {', '.join(SAMPLES)})")
    img = getattr(skimage.data, SAMPLES[name][0])()
    return img.astype(np.float32) / 255.0


def tiny_set() -> dict[str, np.ndarray]:
    """The built-in benchmark set: a few small crops (8-bit levels, float32)."""
    out = {}
    for key, (name, top, left, size) in TINY_SET.items():
        img = sample(name)
        out[key] = np.ascontiguousarray(img[top : top + size, left : left + size])
    return out
