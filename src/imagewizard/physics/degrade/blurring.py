"""Blur: convolution with a kernel (see :mod:`imagewizard.physics.kernels`) and its boundary modes."""

from __future__ import annotations

import numpy as np

from imagewizard.core.arrays import as_float_image
from imagewizard.core.errors import ParameterError
from imagewizard.physics.kernels import resolve_kernel
from imagewizard.physics.degrade.common import BLUR_MODES, _NP_PAD


def blur(img, kernel, mode: str = "reflect") -> np.ndarray:
    """Convolve each channel with a blur kernel (true convolution, same size out).

    Parameters
    ----------
    img : array_like
        HxW or HxWx3.
    kernel : array, str or path
        Anything :func:`imagewizard.physics.kernels.resolve_kernel` takes:
        ``'gaussian:2'``, ``'motion:15,30'``, an array, a .npy/image file.
        It is centred at ``(kh // 2, kw // 2)``.
    mode : str
        How the image is extended beyond its borders, as in
        :func:`scipy.ndimage.convolve` (the result equals
        ``scipy.ndimage.convolve(img, kernel, mode=mode)``):
        ``'reflect'`` (default; half-sample symmetric, ``d c b a | a b c d``,
        like MATLAB ``imfilter(..., 'symmetric')``), ``'mirror'``
        (``d c b | a b c d``), ``'nearest'`` (edge repeated), ``'constant'``
        (zeros) or ``'wrap'`` (periodic: exactly the circular convolution
        that FFT deconvolution assumes, so use it to test a deblurring
        method against its own model; ``'reflect'`` is closer to a photograph).

    Returns
    -------
    numpy.ndarray
        float32, same shape, not clipped.

    Examples
    --------
    >>> out = blur(np.eye(8), "box:3", mode="wrap")
    >>> round(float(out.sum()), 4)
    8.0
    """
    import cv2

    if mode not in BLUR_MODES:
        raise ParameterError(f"blur mode must be one of {', '.join(BLUR_MODES)}; got {mode!r}")
    x = as_float_image(img)
    k = resolve_kernel(kernel)
    ry, rx = k.shape[0] // 2, k.shape[1] // 2
    pad = ((ry, ry), (rx, rx)) + (((0, 0),) if x.ndim == 3 else ())
    padded = np.pad(x, pad, mode=_NP_PAD[mode])
    # filter2D correlates; flipping the kernel makes it a convolution. The padded
    # margin is cropped, so OpenCV's own border rule never touches the result.
    out = cv2.filter2D(padded, -1, np.ascontiguousarray(k[::-1, ::-1]), borderType=cv2.BORDER_CONSTANT)
    return np.ascontiguousarray(out[ry : ry + x.shape[0], rx : rx + x.shape[1]], dtype=np.float32)
