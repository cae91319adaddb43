"""What every estimate starts from: the image as float in [0, 1] and its luma on the 0..255 scale."""

from __future__ import annotations

import numpy as np

from imagewizard.core.arrays import as_float_image, split_alpha, to_gray


def _image(img) -> np.ndarray:
    """The colour (or gray) planes of any accepted image, float32, alpha dropped."""
    return split_alpha(as_float_image(img, allow_alpha=True))[0]


def _luma255(x: np.ndarray) -> np.ndarray:
    return to_gray(x) * np.float32(255.0)
