"""Inpainting with OpenCV: Telea fast marching, Navier-Stokes and frequency-selective reconstruction."""

from __future__ import annotations

import numpy as np

from imagewizard.core.lazy import lazy
from imagewizard.core.registry import Param, register
from imagewizard.tasks.inpaint.common import check_mask, keep_known

# heavy dependencies load when a method runs, not when it is declared (core.lazy)
cv2 = lazy("cv2")

# cv2.inpaint takes float32 only single-channel, so colour goes channel by channel, unquantised. Its
# float Telea adds a normalised gradient term of size up to sqrt(2) whatever the data's scale (values
# far outside [0, 1] on [0, 1] data, +-1.5 levels on 0..255 data); on a 0..65535 scale that term is
# negligible (< 0.01 of an 8-bit level) and the fill beats OpenCV's own 8-bit one.
_SCALE = np.float32(65535.0)


def _cv2_inpaint(img: np.ndarray, mask, radius: float, flag: int) -> np.ndarray:
    m = check_mask(img, mask)
    if m is None:
        return np.array(img, dtype=np.float32)
    m8 = m.astype(np.uint8)
    x = np.asarray(img, dtype=np.float32) * _SCALE
    if x.ndim == 2:
        out = cv2.inpaint(x, m8, float(radius), flag)
    else:
        out = np.stack(
            [cv2.inpaint(np.ascontiguousarray(x[:, :, c]), m8, float(radius), flag) for c in range(x.shape[2])], axis=2
        )
    return keep_known(img, out / _SCALE, m)


_RADIUS = Param(
    "radius",
    float,
    3.0,
    "radius in pixels of the known neighbourhood each filled pixel is computed from",
    low=1.0,
    high=100.0,
)


@register(
    "inpaint",
    "telea",
    "Telea fast-marching inpainting: fills inwards from the hole's border (OpenCV).",
    params=[_RADIUS],
    needs=["mask"],
    tags=("fast", "opencv"),
)
def telea(img: np.ndarray, *, mask: np.ndarray, radius: float = 3.0) -> np.ndarray:
    """Fill masked pixels by Telea's fast-marching method (J. Graphics Tools 9, 2004).

    Pixels are filled in order of distance to the hole's border, each as a
    weighted first-order extrapolation from the known pixels within
    ``radius``. Wraps :func:`cv2.inpaint` with ``INPAINT_TELEA`` on float32
    data (no 8-bit quantisation); colour images are filled channel by
    channel with the same order. Known pixels are returned unchanged.

    Parameters
    ----------
    img : ndarray
        HxW or HxWx3 image.
    mask : ndarray of bool
        HxW, True where pixels are missing.
    radius : float
        Neighbourhood radius in pixels.

    Examples
    --------
    >>> import numpy as np
    >>> img = np.tile(np.linspace(0, 1, 16, dtype=np.float32), (16, 1))
    >>> mask = np.zeros((16, 16), bool); mask[6:9, 6:9] = True
    >>> bool(np.abs(telea(img, mask=mask) - img).max() < 0.1)
    True
    """
    return _cv2_inpaint(img, mask, radius, cv2.INPAINT_TELEA)


@register(
    "inpaint",
    "navier-stokes",
    "Navier-Stokes inpainting: propagates isophotes into the hole (OpenCV).",
    params=[_RADIUS],
    needs=["mask"],
    tags=("fast", "opencv"),
)
def navier_stokes(img: np.ndarray, *, mask: np.ndarray, radius: float = 3.0) -> np.ndarray:
    """Fill masked pixels by the fluid-dynamics method of Bertalmio, Bertozzi & Sapiro (CVPR 2001).

    Smoothness is transported along isophotes (lines of equal brightness)
    into the hole. Wraps :func:`cv2.inpaint` with ``INPAINT_NS`` on float32
    data; colour images are filled channel by channel. Known pixels are
    returned unchanged.

    Examples
    --------
    >>> import numpy as np
    >>> img = np.tile(np.linspace(0, 1, 16, dtype=np.float32), (16, 1))
    >>> mask = np.zeros((16, 16), bool); mask[6:9, 6:9] = True
    >>> bool(np.abs(navier_stokes(img, mask=mask) - img).max() < 0.1)
    True
    """
    return _cv2_inpaint(img, mask, radius, cv2.INPAINT_NS)


_FSR = {"fast": "INPAINT_FSR_FAST", "best": "INPAINT_FSR_BEST"}


@register(
    "inpaint",
    "fsr",
    "Frequency-selective reconstruction: sparse Fourier model fitted block by block (OpenCV).",
    params=[
        Param(
            "mode",
            str,
            "fast",
            "fast (coarser model, far quicker) or best (OpenCV's "
            "highest-quality profile, very slow: minutes per 100k pixels)",
            choices=tuple(_FSR),
        )
    ],
    needs=["mask"],
    requires=("cv2.xphoto",),
    tags=("opencv", "slow"),
)
def fsr(img: np.ndarray, *, mask: np.ndarray, mode: str = "fast") -> np.ndarray:
    """Fill masked pixels by frequency-selective reconstruction (Seiler & Kaup 2015; Genser et al. 2018).

    Each block is modelled as a sparse sum of Fourier basis functions
    fitted to its known pixels. Wraps :func:`cv2.xphoto.inpaint`, whose mask
    convention is inverted (non-zero = *valid*) and which only computes
    correctly on 8-bit data: the image is clipped to [0, 1] and quantised to
    8 bits for the fill, while known pixels are returned unchanged (not
    quantised). Colour is passed to OpenCV as one BGR image.

    Examples
    --------
    >>> import numpy as np
    >>> img = np.tile(np.linspace(0, 1, 16, dtype=np.float32), (16, 1))
    >>> mask = np.zeros((16, 16), bool); mask[6:9, 6:9] = True
    >>> bool(np.abs(fsr(img, mask=mask) - img).max() < 0.1)
    True
    """
    m = check_mask(img, mask)
    if m is None:
        return np.array(img, dtype=np.float32)
    src = np.round(np.clip(np.asarray(img, np.float32), 0.0, 1.0) * 255.0).astype(np.uint8)
    if src.ndim == 3:
        src = np.ascontiguousarray(src[:, :, ::-1])
    dst = np.zeros_like(src)
    valid = (~m).astype(np.uint8)
    cv2.xphoto.inpaint(src, valid, dst, getattr(cv2.xphoto, _FSR[mode]))
    if dst.ndim == 3:
        dst = dst[:, :, ::-1]
    return keep_known(img, dst.astype(np.float32) / 255.0, m)
