"""Blind image analysis: noise level and type, blur, blockiness, exposure, contrast.

These functions look at one image with no reference and report what is
wrong with it. ``imagewizard info`` and ``estimate-noise`` print their
results, ``sigma='auto'`` uses :func:`noise_sigma`, and an automatic
repair can decide from :func:`analyze` what to fix.

All take an image as the rest of the package does (HxW or HxWx3, float in
nominally [0, 1], or uint8/uint16); noise levels are on the 0..255 scale.

The package: ``noise``, ``blur``, ``jpeg``, ``tone`` and ``overview`` (:func:`analyze`).
"""

from __future__ import annotations

from imagewizard.analysis.estimate.noise import noise_levels, noise_sigma, noise_type
from imagewizard.analysis.estimate.blur import BLUR_THRESHOLD, detail_ratio, is_blurred, sharpness
from imagewizard.analysis.estimate.jpeg import BLOCKY_THRESHOLD, blockiness, jpeg_quality
from imagewizard.analysis.estimate.tone import contrast, exposure, histogram_stats
from imagewizard.analysis.estimate.overview import analyze

__all__ = [
    "BLOCKY_THRESHOLD",
    "BLUR_THRESHOLD",
    "analyze",
    "blockiness",
    "contrast",
    "detail_ratio",
    "exposure",
    "histogram_stats",
    "is_blurred",
    "jpeg_quality",
    "noise_levels",
    "noise_sigma",
    "noise_type",
    "sharpness",
]
