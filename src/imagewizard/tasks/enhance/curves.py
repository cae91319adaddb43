"""Tone curves: gamma, logarithmic and sigmoid maps of each value.

Each is a fixed function of the value, applied to every pixel and, in
colour images, to every channel alike (as scikit-image's ``adjust_*``); the
input is clipped to [0, 1] first.
"""

from __future__ import annotations

import numpy as np

from imagewizard.core.registry import Param, register


def _unit(img: np.ndarray) -> np.ndarray:
    return np.clip(np.asarray(img, dtype=np.float32), 0.0, 1.0)


@register(
    "enhance",
    "gamma",
    "Gamma curve out = gain * in^gamma: gamma < 1 brightens shadows, > 1 darkens.",
    params=[
        Param(
            "gamma",
            float,
            0.5,
            "exponent of the power law (1 = unchanged; 1/2.2 undoes a display gamma of 2.2)",
            low=0.01,
            high=100.0,
        ),
        Param("gain", float, 1.0, "multiplier applied after the power law", low=0.0, high=100.0),
    ],
    tags=("curve", "fast"),
)
def gamma(img: np.ndarray, *, gamma: float = 0.5, gain: float = 1.0) -> np.ndarray:
    """Power-law (gamma) correction ``gain * x**gamma``, as :func:`skimage.exposure.adjust_gamma`.

    Examples
    --------
    >>> import numpy as np
    >>> float(gamma(np.full((1, 1), 0.25, np.float32), gamma=0.5)[0, 0])
    0.5
    """
    return (np.float32(gain) * np.power(_unit(img), np.float32(gamma))).astype(np.float32)


@register(
    "enhance",
    "log",
    "Logarithmic curve out = gain * log2(1 + in): expands dark tones, compresses bright ones.",
    params=[
        Param("gain", float, 1.0, "multiplier of the curve (1 maps 1 to 1)", low=0.0, high=100.0),
        Param("inverse", bool, False, "apply the inverse (exponential) curve gain * (2^in - 1)"),
    ],
    tags=("curve", "fast"),
)
def log(img: np.ndarray, *, gain: float = 1.0, inverse: bool = False) -> np.ndarray:
    """Logarithmic correction ``gain * log2(1 + x)`` (or its inverse), as :func:`skimage.exposure.adjust_log`.

    Examples
    --------
    >>> import numpy as np
    >>> float(log(np.ones((1, 1), np.float32))[0, 0])
    1.0
    """
    x = _unit(img)
    out = np.exp2(x) - 1.0 if inverse else np.log2(1.0 + x)
    return (np.float32(gain) * out).astype(np.float32)


@register(
    "enhance",
    "sigmoid",
    "Sigmoid curve: raises contrast around a cutoff level (S-shaped tone curve).",
    params=[
        Param(
            "cutoff", float, 0.5, "input level (0-1) that maps to mid-grey 0.5, the centre of the S", low=0.0, high=1.0
        ),
        Param("gain", float, 10.0, "steepness: the slope at the cutoff is gain/4", low=0.0, high=100.0),
        Param("negative", bool, False, "return 1 - curve, a tone-mapped negative (scikit-image's inv=True)"),
    ],
    tags=("curve", "fast"),
)
def sigmoid(img: np.ndarray, *, cutoff: float = 0.5, gain: float = 10.0, negative: bool = False) -> np.ndarray:
    """Sigmoid correction ``1 / (1 + exp(gain * (cutoff - x)))``, as :func:`skimage.exposure.adjust_sigmoid`.

    With ``negative`` it is ``1 - 1 / (1 + exp(gain * (cutoff - x)))``
    (scikit-image's ``inv=True``). The curve is not rescaled: with the
    defaults 0 and 1 map to 0.007 and 0.993.

    Examples
    --------
    >>> import numpy as np
    >>> float(sigmoid(np.full((1, 1), 0.5, np.float32))[0, 0])
    0.5
    """
    one = np.float32(1.0)
    out = one / (one + np.exp(np.float32(gain) * (np.float32(cutoff) - _unit(img))))
    return (one - out if negative else out).astype(np.float32, copy=False)
