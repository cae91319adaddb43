"""The learned upscaler (``upscale --method learned``): the project's own ``srnet`` weights.

Run tile by tile on large images: each low-resolution tile with a margin of context, its
``scale``-times larger interior kept, so a 4x of a 12 MP photo needs the output and one tile's
working set, not tens of GB.
"""

from __future__ import annotations

import numpy as np

from imagewizard.core.errors import ParameterError
from imagewizard.core.registry import Param, register
from imagewizard.models import zoo

WEIGHTS = "srnet-color"
PERCEPTUAL_WEIGHTS = "srnet-perceptual"
REAL_WEIGHTS = "srnet-real"
#: Low-resolution pixels of context around each tile (the network sees 2 * (blocks + 2) + 1 pixels).
MARGIN = 16
#: Low-resolution tile side.
TILE = 256


def upscale_tiled(model, img: np.ndarray, scale: int, *, tile: int = TILE, margin: int = MARGIN) -> np.ndarray:
    """``model(x, scale=scale)`` on an HxW or HxWx3 float32 image, in tiles; gray runs as three equal channels."""
    import torch

    from imagewizard.core.progress import report
    from imagewizard.run.jobs import limit_torch_threads

    limit_torch_threads()
    gray = img.ndim == 2
    x = np.repeat(img[..., None], 3, axis=2) if gray else img
    h, w = x.shape[:2]
    out = np.empty((h * scale, w * scale, 3), np.float32)
    total, done = -(-h // tile) * -(-w // tile), 0
    with torch.inference_mode():
        for y0 in range(0, h, tile):
            for x0 in range(0, w, tile):
                y1, x1 = min(y0 + tile, h), min(x0 + tile, w)
                ya, xa, yb, xb = max(0, y0 - margin), max(0, x0 - margin), min(h, y1 + margin), min(w, x1 + margin)
                t = torch.from_numpy(np.ascontiguousarray(x[ya:yb, xa:xb].transpose(2, 0, 1)))[None]
                r = model(t, scale=scale)[0].numpy().transpose(1, 2, 0)
                out[y0 * scale : y1 * scale, x0 * scale : x1 * scale] = r[
                    (y0 - ya) * scale : (y1 - ya) * scale, (x0 - xa) * scale : (x1 - xa) * scale
                ]
                done += 1
                report(done, total)
    out = np.clip(out, 0.0, 1.0)
    return out.mean(axis=2) if gray else out


def _register(name: str, weights: str, summary: str) -> None:
    def run(img: np.ndarray, *, scale: int, tile: int = TILE) -> np.ndarray:
        model, card = zoo.load(weights)
        if scale not in tuple(model.scales):
            raise ParameterError(
                f"method '{name}' upscales by {', '.join(map(str, model.scales))}; for x{scale} use bicubic or lanczos"
            )
        return upscale_tiled(model, np.asarray(img, np.float32), scale, tile=tile)

    run.__name__ = name
    register(
        "upscale",
        name,
        summary,
        params=(
            Param(
                "tile",
                int,
                TILE,
                "low-resolution tile side in pixels (memory bound for large images)",
                low=32,
                high=4096,
            ),
        ),
        needs=("scale",),
        requires=("torch",),
        check=lambda: None if zoo.find(weights) else zoo.missing_reason(weights, train="imagewizard train upscaler"),
        tags=("learned",),
    )(run)


_register(
    "learned",
    WEIGHTS,
    "Compact residual network trained here (EDSR-baseline shape, x2/x3/x4): sharper than bicubic by 1-2 dB.",
)
_register(
    "perceptual",
    PERCEPTUAL_WEIGHTS,
    "The learned upscaler fine-tuned with a discriminator and a perceptual loss (ESRGAN recipe): "
    "crisper texture, lower PSNR.",
)
_register(
    "real",
    REAL_WEIGHTS,
    "The learned upscaler fine-tuned on blurred, noisy and JPEG-compressed inputs (Real-ESRGAN's chain): "
    "for real photos rather than clean bicubic ones.",
)
