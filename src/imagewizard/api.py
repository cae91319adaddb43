"""Task functions of the Python API: ``denoise``, ``deblur``, ``inpaint``, ``enhance``.

They all go through :func:`apply`, which looks the method up in the
registry, validates parameters, resolves the noise level (``sigma='auto'``
estimates it), handles colour the way the method declares, carries an alpha
channel through untouched and returns float32 in [0, 1].
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from . import registry
from .arrays import as_float_image, join_alpha, per_channel, split_alpha
from .errors import ImageWizardWarning, ParameterError

#: Noise levels are on the 0..255 scale; beyond this nothing is recognisable.
MAX_SIGMA = 255.0

#: The method each task uses when none is named (the CLI reads this too).
DEFAULT_METHODS = {"denoise": "nlm", "deblur": "wiener", "inpaint": "telea", "enhance": "clahe"}


def resolve_sigma(img: np.ndarray, sigma: Any) -> float:
    """Return a noise level on the 0..255 scale: a number as given, or estimated for ``None``/``'auto'``."""
    if sigma is None or (isinstance(sigma, str) and sigma.strip().lower() == "auto"):
        from .estimate import noise_sigma

        return float(noise_sigma(img))
    try:
        value = float(sigma)
    except (TypeError, ValueError):
        raise ParameterError(f"sigma must be a number on the 0..255 scale or 'auto', got {sigma!r}") from None
    if not (0.0 <= value <= MAX_SIGMA):  # NaN fails this too
        raise ParameterError(f"sigma must be in [0, 255] (0..255 scale), got {value:g}")
    if 0.0 < value < 1.0:
        warnings.warn(f"sigma={value:g} is on the 0..255 scale (under one grey level); for a noise std of "
                      f"{value:g} on the 0..1 scale give sigma={value * 255:.4g}", ImageWizardWarning, stacklevel=3)
    return value


def sigma_for(method: "registry.Method", image: np.ndarray, sigma: Any) -> float | None:
    """The noise level ``method`` will receive: given, estimated (``None``/``'auto'``), or ``None``.

    Methods declared ``sigma='optional'`` get ``None`` when no level is given (their own default).
    """
    is_auto = sigma is None or (isinstance(sigma, str) and sigma.strip().lower() == "auto")
    if method.sigma == "none":
        if not is_auto:
            # A noise level given to a method that does not use one is almost surely a mistake.
            raise ParameterError(f"method '{method.name}' does not use a noise level; drop sigma")
        return None
    if method.sigma == "optional" and sigma is None:
        return None
    return resolve_sigma(image, sigma)


def apply(task: str, img, method: str, *, sigma: Any = None, kernel: Any = None, mask: Any = None,
          reference: Any = None, **params: Any) -> np.ndarray:
    """Run registered method ``method`` of ``task`` on ``img``.

    Parameters
    ----------
    task : str
        ``'denoise'``, ``'deblur'``, ``'inpaint'`` or ``'enhance'``.
    img : array_like
        HxW, HxWx3 or HxWx4 (alpha is carried through untouched); uint8,
        uint16 or float (float may leave [0, 1], e.g. unclipped noise).
    method : str
        Registered method name (``imagewizard methods`` lists them).
    sigma : float or 'auto', optional
        Noise standard deviation on the 0..255 scale, for methods that use
        it; ``None``/``'auto'`` estimates it from the image.
    kernel : array, str or path, optional
        Blur kernel for deblurring: an array, a spec such as
        ``'gaussian:2'`` or ``'motion:15,30'``, or an image/.npy file.
    mask : array or path, optional
        Inpainting mask, True (non-zero) where pixels are missing.
    reference : array or path, optional
        Reference image (e.g. for histogram matching).
    **params
        The method's own parameters (see its declaration).

    Returns
    -------
    numpy.ndarray
        float32 in [0, 1], same shape as ``img``, whatever the input's type: uint8 input (0..255)
        and uint16 input (0..65535) come back scaled to [0, 1], not in their own range.

    Raises
    ------
    ParameterError
        Unknown method or parameter, a value out of range, a missing kernel or mask, or an image
        smaller than the method's declared ``min_size``.
    """
    m = registry.get(task, method)
    m.check_available()
    image = as_float_image(img, allow_alpha=True)
    image, alpha = split_alpha(image)
    m.check_size(image.shape)
    bound = m.bind(params)
    if m.color == "gray" and image.ndim == 3:
        raise ParameterError(f"method '{m.name}' works on gray images only; convert with --gray or pick another method")
    kwargs: dict[str, Any] = dict(bound)
    if m.sigma != "none":
        kwargs["sigma"] = sigma_for(m, image, sigma)
    else:
        sigma_for(m, image, sigma)  # rejects a noise level given to a method that does not use one
    given = {"kernel": kernel, "mask": mask, "reference": reference}
    for what, value in given.items():
        if what in m.needs and value is None:
            raise ParameterError(f"method '{m.name}' needs {_NEED_HELP[what]}")
        if value is not None and what not in m.needs | m.accepts:
            raise ParameterError(f"method '{m.name}' does not use a {what}; drop it")
    if kernel is not None:
        from .kernels import resolve_kernel

        kwargs["kernel"] = resolve_kernel(kernel)
    if mask is not None:
        kwargs["mask"] = _resolve_mask(mask, image.shape[:2])
    if reference is not None:
        kwargs["reference"] = _resolve_reference(reference)

    if m.color == "per-channel" and image.ndim == 3:
        out = per_channel(lambda ch: m.func(ch, **kwargs), image)
    else:
        out = m.func(image, **kwargs)
    out = np.asarray(out, dtype=np.float32)
    if out.shape != image.shape:
        raise RuntimeError(f"{m.key} returned shape {out.shape} for input {image.shape}")
    out = np.clip(out, 0.0, 1.0, out=out)
    # alpha is carried through, but the result keeps the API's promise of [0, 1] in every channel
    return join_alpha(out, None if alpha is None else np.clip(alpha, 0.0, 1.0))


_NEED_HELP = {
    "kernel": "a blur kernel: kernel= an array, a spec such as 'gaussian:2' or 'motion:15,30', or a file",
    "mask": "a mask: mask= an array or an image file, non-zero where pixels are missing",
    "reference": "a reference image: reference= an array or an image file",
}


def _resolve_mask(mask: Any, shape: tuple[int, int]) -> np.ndarray:
    if isinstance(mask, (str, bytes)) or hasattr(mask, "__fspath__"):
        from .io import read

        arr, _ = read(mask)
        mask = arr
    try:
        arr = np.asarray(mask)
    except (TypeError, ValueError):
        arr = np.asarray(None, dtype=object)
    if arr.ndim not in (2, 3) or arr.dtype.kind not in "buif":
        raise ParameterError(f"mask must be a 2-D array or an image file, got {type(mask).__name__} "
                             f"{str(mask)[:40]!r}")
    if arr.ndim == 3:
        arr = arr.max(axis=2)
    if arr.shape != tuple(shape):
        raise ParameterError(f"mask shape {arr.shape} does not match the image {tuple(shape)}")
    if arr.dtype == bool:
        return arr
    if np.issubdtype(arr.dtype, np.integer):
        return arr > 0
    return arr > 0.5


def _resolve_reference(reference: Any) -> np.ndarray:
    if isinstance(reference, (str, bytes)) or hasattr(reference, "__fspath__"):
        from .io import read

        reference, _ = read(reference)
    ref, _alpha = split_alpha(as_float_image(reference, name="reference", allow_alpha=True))
    return ref


def denoise(img, method: str = DEFAULT_METHODS["denoise"], sigma: Any = None, **params: Any) -> np.ndarray:
    """Remove noise with a registered denoising method.

    ``sigma`` is the noise std on the 0..255 scale (``None``/``'auto'``: estimated). Returns
    float32 in [0, 1], also for uint8 input (scaled, not 0..255).

    Examples
    --------
    >>> import numpy as np, imagewizard as iw
    >>> noisy = np.random.default_rng(0).random((32, 32)).astype(np.float32)
    >>> iw.denoise(noisy, method="median", size=3).shape
    (32, 32)
    """
    return apply("denoise", img, method, sigma=sigma, **params)


def deblur(img, kernel: Any = None, method: str = DEFAULT_METHODS["deblur"], sigma: Any = None, **params: Any) -> np.ndarray:
    """Deconvolve ``img`` blurred by ``kernel`` (array, spec such as ``'motion:15,30'``, or file).

    Blind methods (``blind-rl``) estimate the kernel and take ``kernel`` only as an optional start.
    Returns float32 in [0, 1] (uint8 input comes back scaled, not in 0..255).
    """
    return apply("deblur", img, method, sigma=sigma, kernel=kernel, **params)


def inpaint(img, mask: Any = None, method: str = DEFAULT_METHODS["inpaint"], **params: Any) -> np.ndarray:
    """Fill the pixels where ``mask`` is True (non-zero); ``mask`` is required (an array or an image file).

    Returns float32 in [0, 1] (uint8 input comes back scaled, not in 0..255).
    """
    return apply("inpaint", img, method, mask=mask, **params)


def enhance(img, method: str = DEFAULT_METHODS["enhance"], reference: Any = None, **params: Any) -> np.ndarray:
    """Improve contrast, tone or colour with a registered enhancement method.

    Returns float32 in [0, 1] (uint8 input comes back scaled, not in 0..255).
    """
    return apply("enhance", img, method, reference=reference, **params)
