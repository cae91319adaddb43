"""Classical upscalers: nearest, bilinear, bicubic (MATLAB-compatible, the tables' baseline),
OpenCV's bicubic and Lanczos. Each takes any integer factor and any number of channels."""

from __future__ import annotations

import numpy as np

from imagewizard.core.registry import register
from imagewizard.physics.resize import imresize

_CV = {
    "nearest": "INTER_NEAREST",
    "bilinear": "INTER_LINEAR",
    "opencv-bicubic": "INTER_CUBIC",
    "lanczos": "INTER_LANCZOS4",
}


def _cv_resize(img: np.ndarray, scale: int, how: str) -> np.ndarray:
    import cv2

    h, w = img.shape[:2]
    x = np.ascontiguousarray(img, dtype=np.float32)
    out = cv2.resize(x, (w * scale, h * scale), interpolation=getattr(cv2, _CV[how]))
    return out.reshape(h * scale, w * scale, *img.shape[2:])


@register(
    "upscale",
    "bicubic",
    "Bicubic as MATLAB's imresize: the baseline every super-resolution table prints.",
    needs=("scale",),
    tags=("fast",),
)
def bicubic(img: np.ndarray, *, scale: int) -> np.ndarray:
    """MATLAB-compatible bicubic upscaling (Keys cubic a=-0.5, symmetric borders).

    Examples
    --------
    >>> bicubic(np.zeros((4, 5, 3), np.float32), scale=2).shape
    (8, 10, 3)
    """
    return np.clip(imresize(img, scale), 0.0, 1.0)


def _make(name: str, summary: str):
    def run(img: np.ndarray, *, scale: int) -> np.ndarray:
        return np.clip(_cv_resize(img, scale, name), 0.0, 1.0)

    run.__name__ = name.replace("-", "_")
    register("upscale", name, summary, needs=("scale",), tags=("fast",))(run)


_make("nearest", "Nearest neighbour: each pixel becomes a block (pixel art, label maps).")
_make("bilinear", "Bilinear interpolation (OpenCV): smooth and soft.")
_make(
    "opencv-bicubic",
    "OpenCV's bicubic (a = -0.75, no antialiasing): a little sharper than MATLAB's, with more ringing.",
)
_make("lanczos", "Lanczos over 8x8 pixels (OpenCV): the sharpest classical interpolation, some ringing.")
