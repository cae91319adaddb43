"""Array conventions shared by every module.

Images at the API are float32, HxW (gray) or HxWx3 (RGB), nominally in
[0, 1]. Degraded images may leave that range (noise added in float without
clipping is the published benchmark protocol), so values are not clipped on
the way in; they must be finite.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from imagewizard.core.errors import ParameterError


#: Float pixels beyond this magnitude are no image intensities (the file reader applies the same rule);
#: unclipped noise at sigma 255 stays below 10 and HDR radiance in [0, 1] units far below this.
FLOAT_LIMIT = 1e6


def as_float_image(img, *, name: str = "image", allow_alpha: bool = False) -> np.ndarray:
    """Return ``img`` as a float32 HxW or HxWxC array, checking shape and values.

    Integer arrays are scaled by their type's maximum (uint8 -> /255,
    uint16 -> /65535); float arrays are kept as they are. A trailing channel
    axis of 1 is dropped. With ``allow_alpha`` a 4th (alpha) channel is kept.

    Examples
    --------
    >>> float(as_float_image(np.full((2, 2), 255, np.uint8))[0, 0])
    1.0
    """
    if not isinstance(img, np.ndarray):
        try:
            img = np.asarray(img)
        except Exception:
            raise ParameterError(f"{name} must be an array, got {type(img).__name__}") from None
    if img.dtype == bool:
        img = img.astype(np.float32)
    elif np.issubdtype(img.dtype, np.integer):
        info = np.iinfo(img.dtype)
        if info.min < 0:
            raise ParameterError(f"{name} has signed integer dtype {img.dtype}; use uint8/uint16 or float in [0, 1]")
        img = img.astype(np.float32) / np.float32(info.max)
    elif np.issubdtype(img.dtype, np.floating):
        img = img.astype(np.float32, copy=False)
    else:
        raise ParameterError(f"{name} has unsupported dtype {img.dtype}")
    if img.ndim == 3 and img.shape[2] == 1:
        img = img[:, :, 0]
    channels_ok = (3, 4) if allow_alpha else (3,)
    if not (img.ndim == 2 or (img.ndim == 3 and img.shape[2] in channels_ok)):
        want = "HxW, HxWx3 or HxWx4" if allow_alpha else "HxW or HxWx3"
        raise ParameterError(f"{name} must be {want}, got shape {img.shape}")
    if img.shape[0] == 0 or img.shape[1] == 0:
        raise ParameterError(f"{name} is empty (shape {img.shape})")
    if not np.isfinite(img).all():
        raise ParameterError(f"{name} contains NaN or infinite values")
    if img.size and float(np.abs(img).max()) > FLOAT_LIMIT:
        raise ParameterError(
            f"{name} holds values up to {float(np.abs(img).max()):.3g}: not image intensities "
            f"(float images are in [0, 1], unclipped noise a little beyond)"
        )
    return img


def split_alpha(img: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """Split an HxWx4 image into (RGB, alpha); other images come back with ``None``."""
    if img.ndim == 3 and img.shape[2] == 4:
        return img[:, :, :3], img[:, :, 3]
    return img, None


def join_alpha(img: np.ndarray, alpha: np.ndarray | None) -> np.ndarray:
    """Re-attach an alpha plane split off by :func:`split_alpha`."""
    if alpha is None:
        return img
    if img.ndim == 2:
        img = np.repeat(img[:, :, None], 3, axis=2)
    return np.concatenate([img, alpha[:, :, None].astype(img.dtype)], axis=2)


def is_color(img: np.ndarray) -> bool:
    return img.ndim == 3


def per_channel(func: Callable[[np.ndarray], np.ndarray], img: np.ndarray) -> np.ndarray:
    """Apply a gray-image function to each channel of a colour image."""
    if img.ndim == 2:
        return func(img)
    return np.stack([func(np.ascontiguousarray(img[:, :, c])) for c in range(img.shape[2])], axis=2)


# BT.601 full-range YCbCr, the convention of JPEG and of super-resolution papers' "Y channel".
_RGB2YCC = np.array([[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]], dtype=np.float64)


def rgb_to_ycbcr(img: np.ndarray) -> np.ndarray:
    """RGB in [0, 1] to full-range YCbCr (Y in [0, 1], Cb/Cr centred on 0.5)."""
    out = img.astype(np.float64) @ _RGB2YCC.T
    out[..., 1:] += 0.5
    return out.astype(np.float32)


def ycbcr_to_rgb(img: np.ndarray) -> np.ndarray:
    """Inverse of :func:`rgb_to_ycbcr`."""
    x = img.astype(np.float64).copy()
    x[..., 1:] -= 0.5
    return (x @ np.linalg.inv(_RGB2YCC).T).astype(np.float32)


def to_gray(img: np.ndarray) -> np.ndarray:
    """Luminance (BT.601 luma weights) of an RGB image; gray images pass through."""
    if img.ndim == 2:
        return img
    return (img[..., :3].astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)).astype(np.float32)
