"""Orthonormal opponent colour space, for denoising colour images channel by channel.

Gaussian noise that is independent with standard deviation ``sigma`` in
each RGB channel stays independent with the same ``sigma`` in each of
these channels (the transform is a rotation), so a gray denoiser can run
on each channel with the image's noise level. Natural images put most of
their detail in the first (luminance-like) channel; the two chroma
channels are smooth and take heavy denoising well, which is why this beats
filtering R, G and B separately.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

#: Rows: luminance (R+G+B)/sqrt(3), red-blue (R-B)/sqrt(2), green-magenta (R-2G+B)/sqrt(6).
OPPONENT = np.array([[1.0, 1.0, 1.0], [1.0, 0.0, -1.0], [1.0, -2.0, 1.0]])
OPPONENT /= np.linalg.norm(OPPONENT, axis=1, keepdims=True)


def rgb_to_opponent(img: np.ndarray) -> np.ndarray:
    """HxWx3 RGB to the orthonormal opponent space (float32)."""
    return (img.astype(np.float64) @ OPPONENT.T).astype(np.float32)


def opponent_to_rgb(img: np.ndarray) -> np.ndarray:
    """Inverse of :func:`rgb_to_opponent` (the matrix is orthogonal)."""
    return (img.astype(np.float64) @ OPPONENT).astype(np.float32)


def per_opponent_channel(func: Callable[[np.ndarray], np.ndarray], img: np.ndarray) -> np.ndarray:
    """Apply the gray-image ``func`` to ``img``, or to each opponent channel of a colour image."""
    if img.ndim == 2:
        return func(np.ascontiguousarray(img, dtype=np.float32))
    opp = rgb_to_opponent(img)
    out = np.stack([func(np.ascontiguousarray(opp[..., c])) for c in range(3)], axis=2)
    return opponent_to_rgb(out)
