"""The generative architectures by name, and loading their saved weights.

Files are written by :func:`imagewizard.models.weights.save_model` (safetensors
with ``arch`` and ``config`` in the metadata, a JSON card beside it); this
module reads the same format but builds from :data:`GEN_ARCHS` instead of the
denoiser registry.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from imagewizard.core.errors import ParameterError

WEIGHTS_DIR = Path(__file__).parent / "weights"


def _dcgan(**cfg):
    from imagewizard.models.archs.dcgan import Generator

    return Generator(**cfg)


def _vae(**cfg):
    from imagewizard.models.archs.digits_vae import ConvVAE

    return ConvVAE(**cfg)


def _ddpm(**cfg):
    from imagewizard.models.archs.ddpm import Diffusion

    return Diffusion(**cfg)


#: arch name -> (builder, default config, one-line summary). For the GAN only the generator is saved.
GEN_ARCHS: dict[str, tuple[Callable[..., Any], dict[str, Any], str]] = {
    "dcgan": (_dcgan, {"in_channels": 1, "size": 32, "nz": 64, "features": 32},
              "DCGAN generator: transposed convs + BN + ReLU, tanh output"),
    "vae-gen": (_vae, {"in_channels": 1, "size": 32, "latent": 16, "features": 32, "beta": 1.0},
                "convolutional VAE with a 16-dim latent; samples decode z ~ N(0, I)"),
    "ddpm": (_ddpm, {"in_channels": 1, "size": 32, "channels": (32, 64, 64), "fold": 2, "timesteps": 1000,
                     "beta_schedule": "squaredcos_cap_v2"},
             "DDPM-trained step-conditioned U-Net, sampled with DDIM"),
}

#: names users type (CLI --model) -> arch
KINDS = {"diffusion": "ddpm", "ddpm": "ddpm", "vae": "vae-gen", "vae-gen": "vae-gen", "gan": "dcgan", "dcgan": "dcgan"}

#: arch -> shipped weights name in ``gen/weights``
SHIPPED = {"dcgan": "digits-dcgan", "vae-gen": "digits-vae", "ddpm": "digits-ddpm"}


def resolve(kind: str) -> str:
    """``'diffusion'``/``'gan'``/... -> arch name; unknown names raise a one-line ParameterError."""
    arch = KINDS.get(str(kind).strip().lower())
    if arch is None:
        raise ParameterError(f"unknown generative model '{kind}'; choose diffusion, vae or gan")
    return arch


def build(arch: str, **config: Any):
    """A fresh model: the default config of ``arch`` updated by ``config``; returns ``(model, full_config)``."""
    if arch not in GEN_ARCHS:
        raise ParameterError(f"unknown generative architecture '{arch}'; known: {', '.join(GEN_ARCHS)}")
    builder, defaults, _ = GEN_ARCHS[arch]
    cfg = {**defaults, **config}
    try:
        return builder(**cfg), cfg
    except (TypeError, ValueError) as exc:
        raise ParameterError(f"{arch}: bad configuration ({exc})") from None


def shipped_path(arch: str) -> Path:
    return WEIGHTS_DIR / f"{SHIPPED[arch]}.safetensors"


def load_generator(path: str | Path):
    """Load a generative model saved by ``save_model``; returns ``(model, card)`` in eval mode."""
    from imagewizard.models.weights import load_model

    return load_model(path, build=build, known=GEN_ARCHS, kind="a generative model")


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
        out[pad + r * (h + pad):pad + r * (h + pad) + h, pad + c * (w + pad):pad + c * (w + pad) + w] = im
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
