"""Mask checks shared by the inpainting methods."""

from __future__ import annotations

import numpy as np

from imagewizard.core.errors import ParameterError


def check_mask(img: np.ndarray, mask) -> np.ndarray | None:
    """Return ``mask`` as a bool HxW array (True = missing), or None when nothing is missing.

    Raises ParameterError when the shapes differ or when every pixel is missing
    (there is nothing to fill from).
    """
    m = np.asarray(mask)
    if m.ndim == 3:
        m = m.any(axis=2)
    if m.shape != img.shape[:2]:
        raise ParameterError(f"mask shape {m.shape} does not match the image {img.shape[:2]}")
    m = m.astype(bool, copy=False)
    if not m.any():
        return None
    if m.all():
        raise ParameterError("mask marks every pixel as missing; there is nothing to inpaint from")
    return m


def keep_known(img: np.ndarray, filled: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Known pixels exactly as given, filled values only where the mask is set (float32)."""
    m = mask[:, :, None] if img.ndim == 3 else mask
    return np.where(m, filled, img).astype(np.float32)
