"""Full-reference image quality: MSE, MAE, PSNR and SSIM.

Scores are computed in float64 (a strip of rows at a time, so that a 12 MP photo needs no
full-size float64 copy) on the values as given, with an explicit
``data_range`` (the peak-to-peak range of the signal: 1.0 for the
package's [0, 1] arrays, 255 for 8-bit data on the 0..255 scale; the same
image gives the same PSNR/SSIM either way). Integer arrays are first
scaled to [0, 1] like everywhere else in the package (uint8 / 255,
uint16 / 65535), so ``data_range`` stays 1 for them.

Two options reproduce the protocols of published tables:

``crop``
    Ignore a border of that many pixels (super-resolution papers crop
    ``scale`` pixels).
``y_channel``
    Score the luma of RGB images only, with MATLAB's ``rgb2ycbcr``
    (BT.601, studio swing) that super-resolution papers use: for RGB in
    [0, 1], ``Y = 16/255 + (65.481 R + 128.553 G + 24.966 B) / 255``, so Y
    lies in [16/255, 235/255] and is still scored with ``data_range`` 1
    (what BasicSR does on the 0..255 scale). Gray images are scored as
    they are.

SSIM follows Wang, Bovik, Sheikh & Simoncelli (IEEE TIP 2004): an 11x11
Gaussian window with sigma 1.5, K1 = 0.01, K2 = 0.03, population
(biased) variances, the mean of the SSIM map over the pixels whose window
lies inside the image, and for colour the mean of the per-channel SSIMs.
It equals ``skimage.metrics.structural_similarity(..., gaussian_weights=True,
sigma=1.5, use_sample_covariance=False, data_range=...)`` and is several
times faster (OpenCV's separable Gaussian filter).
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from imagewizard.core.errors import ParameterError

__all__ = ["mse", "mae", "psnr", "ssim", "compare", "rgb_to_y"]

_SSIM_SIGMA = 1.5
_SSIM_WIN = 11  # skimage: 2 * int(3.5 * 1.5 + 0.5) + 1
_K1, _K2 = 0.01, 0.03

# MATLAB rgb2ycbcr luma row for [0, 1] input, and its offset.
_Y_WEIGHTS = np.array([65.481, 128.553, 24.966]) / 255.0
_Y_OFFSET = 16.0 / 255.0


def rgb_to_y(img: np.ndarray) -> np.ndarray:
    """Luma of an RGB image in [0, 1] as MATLAB's ``rgb2ycbcr`` computes it (BT.601 studio swing).

    ``Y = 16/255 + (65.481 R + 128.553 G + 24.966 B) / 255``; the result lies
    in [16/255, 235/255] for inputs in [0, 1]. This is the "Y channel" of
    super-resolution tables (not the full-range luma of JPEG).

    Examples
    --------
    >>> float(rgb_to_y(np.ones((1, 1, 3)))[0, 0]) * 255
    235.0
    """
    img = np.asarray(img, dtype=np.float64)
    if img.ndim != 3 or img.shape[2] != 3:
        raise ParameterError(f"y_channel needs an HxWx3 RGB image, got shape {img.shape}")
    return img @ _Y_WEIGHTS + _Y_OFFSET


class _Rows:
    """An image read a strip of rows at a time, as float64 (scaled to [0, 1] if integer, luma if
    ``y_channel``): the scores of a 12 MP photo never hold a full float64 copy of it."""

    def __init__(self, arr: np.ndarray, scale: float, y_channel: bool):
        self.arr, self.scale, self.y = arr, scale, y_channel and arr.ndim == 3

    @property
    def shape(self) -> tuple[int, ...]:
        return self.arr.shape[:2] if self.y else self.arr.shape

    def rows(self, r0: int, r1: int) -> np.ndarray:
        x = self.arr[r0:r1].astype(np.float64)
        if self.scale != 1.0:
            x /= self.scale
        return rgb_to_y(x) if self.y else x


#: rows per strip: small enough that a strip's float64 temporaries stay in the tens of megabytes
_STRIP = 256


def _prepare(ref, img, crop: int, y_channel: bool, data_range: float | None = None) -> tuple[_Rows, _Rows]:
    a, sa = _as_array(ref, "ref")
    b, sb = _as_array(img, "img")
    if a.shape != b.shape:
        raise ParameterError(f"ref and img must have the same shape, got {a.shape} and {b.shape}")
    if data_range is not None:
        if not (isinstance(data_range, (int, float, np.number)) and math.isfinite(data_range) and data_range > 0):
            raise ParameterError(f"data_range must be a positive number, got {data_range!r}")
        if data_range != 1 and (_is_int(ref) or _is_int(img)):
            raise ParameterError(f"integer images are scaled to [0, 1]; leave data_range at 1 (got {data_range:g})")
    crop = int(crop)
    if crop < 0:
        raise ParameterError(f"crop must be >= 0, got {crop}")
    if crop:
        if 2 * crop >= min(a.shape[:2]):
            raise ParameterError(f"crop={crop} removes the whole {a.shape[0]}x{a.shape[1]} image")
        a = a[crop:-crop, crop:-crop]
        b = b[crop:-crop, crop:-crop]
    if y_channel and a.ndim == 3 and a.shape[2] != 3:
        raise ParameterError(f"y_channel needs an HxWx3 RGB image, got shape {a.shape}")
    return _Rows(a, sa, y_channel), _Rows(b, sb, y_channel)


def _is_int(x) -> bool:
    return isinstance(x, np.ndarray) and (np.issubdtype(x.dtype, np.integer) or x.dtype == bool)


def _as_array(x, name: str) -> tuple[np.ndarray, float]:
    """The array as given (no copy) and the divisor that brings it to [0, 1] (integers)."""
    arr = np.asarray(x)
    if arr.dtype == bool:
        scale = 1.0
    elif np.issubdtype(arr.dtype, np.integer):
        scale = float(np.iinfo(arr.dtype).max)
    elif np.issubdtype(arr.dtype, np.floating):
        scale = 1.0
    else:
        raise ParameterError(f"{name} has unsupported dtype {arr.dtype}")
    if arr.ndim not in (2, 3) or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ParameterError(f"{name} must be HxW or HxWxC, got shape {arr.shape}")
    return arr, scale


def _errors(a: _Rows, b: _Rows) -> tuple[float, float]:
    """(MSE, MAE) over all pixels and channels, strip by strip."""
    sq = ab = 0.0
    h = a.shape[0]
    for r0 in range(0, h, _STRIP):
        d = a.rows(r0, r0 + _STRIP)
        d -= b.rows(r0, r0 + _STRIP)
        ab += float(np.abs(d).sum())
        d *= d
        sq += float(d.sum())
    n = float(np.prod(a.shape))
    return sq / n, ab / n


def mse(ref, img, *, crop: int = 0, y_channel: bool = False) -> float:
    """Mean squared error over all pixels and channels.

    Examples
    --------
    >>> a = np.zeros((4, 4)); round(mse(a, a + 0.1), 12)
    0.01
    """
    a, b = _prepare(ref, img, crop, y_channel)
    return _errors(a, b)[0]


def mae(ref, img, *, crop: int = 0, y_channel: bool = False) -> float:
    """Mean absolute error over all pixels and channels.

    Examples
    --------
    >>> a = np.zeros((4, 4)); round(mae(a, a - 0.1), 12)
    0.1
    """
    a, b = _prepare(ref, img, crop, y_channel)
    return _errors(a, b)[1]


def psnr(ref, img, *, data_range: float = 1.0, crop: int = 0, y_channel: bool = False) -> float:
    """Peak signal-to-noise ratio in dB: ``10 log10(data_range**2 / MSE)``.

    The MSE is taken over all pixels and channels (the colour PSNR of the
    published tables). Identical images give ``inf``.

    Parameters
    ----------
    ref, img : array_like
        Reference and test image, same shape (HxW or HxWxC).
    data_range : float
        Peak-to-peak range of the signal (1 for [0, 1] data, 255 for 0..255).
    crop : int
        Border width in pixels to ignore.
    y_channel : bool
        Score the MATLAB ``rgb2ycbcr`` luma of RGB inputs (see the module notes).

    Examples
    --------
    >>> a = np.zeros((4, 4)); round(psnr(a, a + 0.1), 9)
    20.0
    """
    a, b = _prepare(ref, img, crop, y_channel, data_range)
    err = _errors(a, b)[0]
    if err == 0.0:
        return math.inf
    return 10.0 * math.log10(float(data_range) ** 2 / err)


def _blur(x: np.ndarray) -> np.ndarray:
    # Borders are cut off afterwards, so the border mode does not matter.
    return cv2.GaussianBlur(x, (_SSIM_WIN, _SSIM_WIN), _SSIM_SIGMA, borderType=cv2.BORDER_REFLECT)


def _ssim_mean(a: _Rows, b: _Rows, c1: float, c2: float) -> float:
    # The map over the pixels whose window lies inside the image, in strips of rows: each strip
    # reads its rows plus the window's half-height above and below, so every value is the one the
    # whole image would give. HxWxC at once (OpenCV filters each channel); the per-channel means of
    # equal-sized maps average to the mean of the whole map.
    h = a.shape[0]
    half = (_SSIM_WIN - 1) // 2
    total, count = 0.0, 0
    for o0 in range(0, h - 2 * half, _STRIP):
        o1 = min(o0 + _STRIP, h - 2 * half)
        m = _ssim_map(a.rows(o0, o1 + 2 * half), b.rows(o0, o1 + 2 * half), c1, c2)
        total += float(m.sum())
        count += m.size
    return total / count


def _ssim_map(x: np.ndarray, y: np.ndarray, c1: float, c2: float) -> np.ndarray:
    x = np.ascontiguousarray(x)
    y = np.ascontiguousarray(y)
    inner = (slice((_SSIM_WIN - 1) // 2, -((_SSIM_WIN - 1) // 2)),) * 2
    mx, my = _blur(x)[inner], _blur(y)[inner]
    sxx, syy, sxy = _blur(x * x)[inner], _blur(y * y)[inner], _blur(x * y)[inner]
    mxy = mx * my
    mx *= mx
    my *= my
    sxx += syy
    sxx -= mx
    sxx -= my
    sxx += c2  # sigma_x^2 + sigma_y^2 + C2
    mx += my
    mx += c1  # mu_x^2 + mu_y^2 + C1
    sxy -= mxy
    sxy *= 2
    sxy += c2  # 2 sigma_xy + C2
    mxy *= 2
    mxy += c1  # 2 mu_x mu_y + C1
    mxy *= sxy
    mx *= sxx
    mxy /= mx
    return mxy


def ssim(ref, img, *, data_range: float = 1.0, crop: int = 0, y_channel: bool = False) -> float:
    """Structural similarity index (Wang et al. 2004), mean over the image.

    11x11 Gaussian window (sigma 1.5), K1 = 0.01, K2 = 0.03, population
    covariances; the map is averaged over pixels whose whole window lies in
    the image; colour images give the mean of the per-channel SSIMs. Images
    must be at least 11x11 after ``crop``.

    Parameters
    ----------
    ref, img : array_like
        Reference and test image, same shape (HxW or HxWxC).
    data_range : float
        Peak-to-peak range of the signal (1 for [0, 1] data, 255 for 0..255).
    crop : int
        Border width in pixels to ignore.
    y_channel : bool
        Score the MATLAB ``rgb2ycbcr`` luma of RGB inputs (see the module notes).

    Examples
    --------
    >>> a = np.random.default_rng(0).random((32, 32))
    >>> ssim(a, a)
    1.0
    """
    a, b = _prepare(ref, img, crop, y_channel, data_range)
    if min(a.shape[:2]) < _SSIM_WIN:
        raise ParameterError(f"ssim needs images of at least {_SSIM_WIN}x{_SSIM_WIN} pixels, got {a.shape[:2]}")
    c1 = (_K1 * data_range) ** 2
    c2 = (_K2 * data_range) ** 2
    return _ssim_mean(a, b, c1, c2)


def compare(ref, img, *, data_range: float = 1.0, crop: int = 0, y_channel: bool = False) -> dict:
    """All four scores at once: ``{'psnr', 'ssim', 'mse', 'mae'}`` (MSE/MAE on the data's own scale).

    Same definitions and options as :func:`psnr`, :func:`ssim`, :func:`mse`
    and :func:`mae`; the inputs are converted once.

    Examples
    --------
    >>> a = np.zeros((16, 16)); sorted(compare(a, a + 0.1))
    ['mae', 'mse', 'psnr', 'ssim']
    """
    a, b = _prepare(ref, img, crop, y_channel, data_range)
    if min(a.shape[:2]) < _SSIM_WIN:
        raise ParameterError(f"ssim needs images of at least {_SSIM_WIN}x{_SSIM_WIN} pixels, got {a.shape[:2]}")
    err, abs_err = _errors(a, b)
    return {
        "psnr": math.inf if err == 0.0 else 10.0 * math.log10(float(data_range) ** 2 / err),
        "ssim": _ssim_mean(a, b, (_K1 * data_range) ** 2, (_K2 * data_range) ** 2),
        "mse": err,
        "mae": abs_err,
    }
