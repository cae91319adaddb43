"""The generative architectures by name, and loading their saved weights.

Files are written by :func:`imagewizard.models.weights.save_model` (safetensors
with ``arch`` and ``config`` in the metadata, a JSON card beside it) and found
by :mod:`imagewizard.models.zoo` like every model; the architectures are the
generation rows of :data:`imagewizard.models.archs.ARCHS`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from imagewizard.core.errors import ParameterError

from imagewizard.models.archs import ARCHS, GENERATORS

#: the generators' rows of the one architecture table
GEN_ARCHS = {name: ARCHS[name] for name in GENERATORS}


#: names users type (CLI --model) -> arch
KINDS = {"diffusion": "ddpm", "ddpm": "ddpm", "vae": "vae-gen", "vae-gen": "vae-gen", "gan": "dcgan", "dcgan": "dcgan"}

#: arch -> name of its shipped weights (found like every model's: $IMAGEWIZARD_WEIGHTS first, then the package)
SHIPPED = {"dcgan": "digits-dcgan", "vae-gen": "digits-vae", "ddpm": "digits-ddpm"}


def resolve(kind: str) -> str:
    """``'diffusion'``/``'gan'``/... -> arch name; unknown names raise a one-line ParameterError."""
    arch = KINDS.get(str(kind).strip().lower())
    if arch is None:
        raise ParameterError(f"unknown generative model '{kind}'; choose diffusion, vae or gan")
    return arch


def build(arch: str, **config: Any):
    """A fresh generator: the default config of ``arch`` updated by ``config``; returns ``(model, full_config)``."""
    if arch not in GENERATORS:
        raise ParameterError(f"unknown generative architecture '{arch}'; known: {', '.join(GENERATORS)}")
    from imagewizard.models.archs import build as build_arch

    return build_arch(arch, **config)


def shipped_path(arch: str) -> Path:
    """Where the weights named ``SHIPPED[arch]`` are: a user's folder in $IMAGEWIZARD_WEIGHTS wins over
    the package's, as for every model; the package path when neither has them (the caller reports it)."""
    from imagewizard.models import zoo

    return zoo.find(SHIPPED[arch]) or zoo.PACKAGE_WEIGHTS / f"{SHIPPED[arch]}.safetensors"


def load_generator(path: str | Path):
    """Load a generative model saved by ``save_model``; returns ``(model, card)`` in eval mode."""
    from imagewizard.models.weights import load_model

    return load_model(path, build=build, known=GENERATORS, kind="a generative model")


def grid(images, pad: int = 2):
    """(N, 1, H, W) in [0, 1] -> uint8 (rows*(H+pad)+pad, cols*(W+pad)+pad) mosaic, cols = ceil(sqrt(N))."""
    import math

    import numpy as np

    x = images.detach().cpu().clamp(0, 1).numpy()[:, 0]
    n, h, w = x.shape
    cols = math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    out = np.zeros((rows * (h + pad) + pad, cols * (w + pad) + pad), dtype=np.float32)
    for i, im in enumerate(x):
        r, c = divmod(i, cols)
        out[pad + r * (h + pad) : pad + r * (h + pad) + h, pad + c * (w + pad) : pad + c * (w + pad) + w] = im
    return (out * 255 + 0.5).astype(np.uint8)


def write_png(path: str | Path, array) -> Path:
    """Write a uint8 array as PNG atomically (temp file in the same folder, then renamed)."""
    import io

    from PIL import Image

    from imagewizard.io import atomic_write

    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG")
    atomic_write(Path(path), buf.getvalue())
    return Path(path)
