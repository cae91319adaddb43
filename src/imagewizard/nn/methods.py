"""Registers the learned denoisers. Torch and the weights load on first use, not at import."""

from __future__ import annotations

import numpy as np

from ..registry import Param, register
from . import zoo

_COMMON = (
    Param("tile", int, 0, "core tile side in pixels (bounded memory for large images); 0 = chosen from free memory",
          low=0, high=16384),
    Param("weights", str, "", "zoo name or .safetensors file; default: the gray or colour model by the image's channels"),
    Param("threads", int, 0, "CPU threads for inference; 0 = all available", low=0, high=256),
)


def _learned_denoiser(name: str, summary: str, *, gray: str, color: str, note: str = "") -> None:
    """Declare a learned denoiser whose weights are ``gray``/``color`` in the zoo."""

    def run(img: np.ndarray, *, sigma: float, tile: int = 0, weights: str = "", threads: int = 0) -> np.ndarray:
        from .infer import default_threads, predict

        model, _card = zoo.load(weights or (color if img.ndim == 3 else gray))
        want = 3 if img.ndim == 3 else 1
        got = getattr(model, "in_channels", want)
        if got != want:
            from ..errors import ParameterError

            raise ParameterError(f"weights '{weights}' expect {got}-channel images, got {want}")
        return predict(model, img, sigma, tile=tile, threads=threads or default_threads())

    run.__name__ = name.replace("-", "_")
    run.__doc__ = f"{summary}\n\nColour images use the colour weights (joint RGB); gray images the gray weights."
    register("denoise", name, summary, params=_COMMON, sigma="auto", color="native", requires=("torch",),
             check=lambda: zoo.missing_reason(gray, color), note=note, tags=("learned",))(run)


_learned_denoiser(
    "unet", "Flagship CNN: multi-scale residual U-Net with a noise-level map; sigma 0..75, blind with sigma=auto.",
    gray="unet-gray", color="unet-color")
