"""Colour balance."""

from __future__ import annotations

import numpy as np

from imagewizard.core.registry import register


@register(
    "enhance",
    "gray-world",
    "Gray-world white balance: scales R, G, B so that their means are equal.",
    tags=("color", "fast"),
)
def gray_world(img: np.ndarray) -> np.ndarray:
    """White balance under the gray-world assumption (Buchsbaum 1980): the scene averages to gray.

    Each channel is multiplied by ``m / m_c``, ``m_c`` its mean and ``m``
    the mean of the three means, so the overall brightness is kept and the
    channel means become equal (up to clipping of values pushed above 1).
    Gray images are returned unchanged.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.dstack([np.full((4, 4), v, np.float32) for v in (0.2, 0.4, 0.6)])
    >>> gray_world(x)[0, 0].round(4)
    array([0.4, 0.4, 0.4], dtype=float32)
    """
    x = np.asarray(img, dtype=np.float32)
    if x.ndim == 2:
        return x.copy()
    means = x.reshape(-1, 3).mean(axis=0, dtype=np.float64)
    target = means.mean()
    gains = np.where(means > 0, target / np.where(means > 0, means, 1.0), 1.0)
    return (x * gains.astype(np.float32)).astype(np.float32)
