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


def _learned_denoiser(name: str, summary: str, *, gray: str, color: str, note: str = "", blind: bool = False) -> None:
    """Declare a learned denoiser whose weights are ``gray``/``color`` in the zoo.

    ``blind``: the network has no noise-level input (DnCNN-B style), so the method takes no sigma.
    """

    def run(img: np.ndarray, *, sigma: float = 0.0, tile: int = 0, weights: str = "", threads: int = 0) -> np.ndarray:
        from .infer import default_threads, predict

        if img.ndim == 3 and not weights and zoo.find(color) is None and zoo.find(gray) is not None:
            gray_model, _card = zoo.load(gray)
            return _gray_model_on_color(gray_model, img, sigma, tile=tile, threads=threads or default_threads())
        model, _card = zoo.load(weights or (color if img.ndim == 3 else gray))
        want = 3 if img.ndim == 3 else 1
        got = getattr(model, "in_channels", want)
        if got != want:
            from ..errors import ParameterError

            raise ParameterError(f"weights '{weights}' expect {got}-channel images, got {want}")
        return predict(model, img, sigma, tile=tile, threads=threads or default_threads())

    run.__name__ = name.replace("-", "_")
    run.__doc__ = (f"{summary}\n\nColour images use the colour weights (joint RGB), or the gray weights on each "
                   "opponent colour channel when only those are installed; gray images the gray weights.")
    register("denoise", name, summary, params=_COMMON, sigma="none" if blind else "auto", color="native",
             requires=("torch",),
             check=lambda: None if zoo.find(gray) or zoo.find(color) else zoo.missing_reason(gray, color),
             note=note, tags=("learned",))(run)


# Opponent channels mapped onto [0, 1] as (channel * scale + offset): luminance (R+G+B)/sqrt(3) spans
# [0, sqrt(3)]; (R-B)/sqrt(2) spans +-1/sqrt(2); (R-2G+B)/sqrt(6) spans +-2/sqrt(6). The noise std scales too.
_OPP_SCALE = np.array([1 / np.sqrt(3), 1 / np.sqrt(2), np.sqrt(6) / 4])
_OPP_OFFSET = np.array([0.0, 0.5, 0.5])


def _gray_model_on_color(model, img: np.ndarray, sigma: float, *, tile: int, threads: int) -> np.ndarray:
    """Denoise a colour image with a gray model, channel by channel in the orthonormal opponent space.

    The rotation keeps i.i.d. Gaussian noise i.i.d. with the same sigma, so each channel is a gray
    image with known noise; most detail sits in the luminance channel and the smooth chroma channels
    take strong denoising well (as in CBM3D), which beats filtering R, G and B separately.
    """
    from ..methods.denoise.opponent import opponent_to_rgb, rgb_to_opponent
    from .infer import predict

    opp = rgb_to_opponent(img)
    out = np.empty_like(opp)
    for c in range(3):
        chan = (opp[..., c] * _OPP_SCALE[c] + _OPP_OFFSET[c]).astype(np.float32)
        den = predict(model, chan, float(sigma) * _OPP_SCALE[c], tile=tile, threads=threads)
        out[..., c] = (den - _OPP_OFFSET[c]) / _OPP_SCALE[c]
    return opponent_to_rgb(out)


_learned_denoiser(
    "unet", "Flagship CNN: multi-scale residual U-Net with a noise-level map; sigma 0..75, blind with sigma=auto.",
    gray="unet-gray", color="unet-color")
_learned_denoiser(
    "dncnn", "DnCNN: residual CNN with batch norm, blind over sigma 0..55 (no noise level needed).",
    gray="dncnn-gray", color="dncnn-color", blind=True,
    note="a small DnCNN (12 layers, 48 features) on a short CPU budget: see its model card")
