"""Every estimate at once (what ``imagewizard info`` and the wizard read)."""

from __future__ import annotations

import numpy as np

from imagewizard.core.arrays import as_float_image, split_alpha, to_gray
from imagewizard.analysis.estimate.jpeg import BLOCKY_THRESHOLD, _blockiness, jpeg_quality
from imagewizard.analysis.estimate.blur import BLUR_THRESHOLD, _detail_ratio, _sharpness
from imagewizard.analysis.estimate.tone import _contrast, _exposure, _histogram_stats
from imagewizard.analysis.estimate.noise import _noise_sigma, _noise_type


def analyze(img) -> dict:
    """Everything the blind analysis can say about an image, as a flat JSON-friendly dict.

    Size and channels, :func:`histogram_stats`, :func:`contrast`,
    :func:`exposure`, the noise level (:func:`noise_sigma`) and type
    (:func:`noise_type`), blur (:func:`sharpness`, :func:`detail_ratio`,
    :func:`is_blurred`) and JPEG blocking (:func:`blockiness`).

    Examples
    --------
    >>> from skimage import data
    >>> info = analyze(data.camera())
    >>> info["width"], info["channels"], info["noise_type"], info["likely_blurred"]
    (512, 1, 'none', False)
    """
    raw = img if isinstance(img, np.ndarray) else np.asarray(img)
    x, alpha = split_alpha(as_float_image(raw, allow_alpha=True))
    y = to_gray(x)
    g = y * np.float32(255.0)
    out: dict = {
        "height": int(x.shape[0]),
        "width": int(x.shape[1]),
        "channels": 1 if x.ndim == 2 else int(x.shape[2]),
        "alpha": alpha is not None,
        "dtype": str(raw.dtype),
    }
    out.update(_histogram_stats(x))
    out.update(_contrast(y))
    out.update(_exposure(y))
    from imagewizard.tasks.enhance.exposure import log_average

    out["key"] = log_average(x)  # log-average linear luminance: typical photos 0.05-0.26, median 0.13
    out["highlight_level"] = float(np.percentile(y, 99.5))  # where the brightest tones reach
    from imagewizard.tasks.denoise.dust import speck_stats

    out.update(speck_stats(x))  # isolated spots of contrast 0.3 (dust, hot pixels) and their spread
    sigma = _noise_sigma(x)
    kind, evidence = _noise_type(x, sigma)
    out.update(
        {
            "noise_sigma": sigma,
            "noise_type": kind,
            "noise_evidence": {k: v for k, v in evidence.items() if k not in ("sigma", "levels")},
        }
    )
    ratio = _detail_ratio(g, x.ndim == 3, sigma)
    out.update(
        {
            "sharpness": _sharpness(g),
            "detail_ratio": ratio,
            "likely_blurred": bool(float(g.std()) >= 1.0 and ratio < BLUR_THRESHOLD),
        }
    )
    b = _blockiness(g)
    out.update({"blockiness": b, "likely_blocky": b > BLOCKY_THRESHOLD})
    if out["likely_blocky"]:
        q, exact = jpeg_quality(x)
        out.update({"jpeg_quality": q, "jpeg_quality_exact": exact})
    return out
