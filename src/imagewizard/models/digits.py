"""Training data for the generative models: the 8x8 digits and MNIST IDX files.

Everything is returned as a float tensor (N, 1, 32, 32) in [0, 1]:

* :func:`load_digits32`: scikit-learn's 1797 8x8 digits (values 0..16,
  shipped with scikit-learn, so no download), scaled to [0, 1] and upscaled
  bilinearly to 32x32.
* :func:`load_mnist`: the standard MNIST ``*-idx3-ubyte`` file (optionally
  ``.gz``); :func:`mnist_32` zero-pads the 28x28 digits by 2 pixels to 32x32
  so the same 32x32 networks train on either (MNIST's own border is black,
  so padding adds nothing visible).
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from imagewizard.core.errors import ParameterError, plain_reason

IMAGES_MAGIC, LABELS_MAGIC = 2051, 2049


def load_digits32(size: int = 32) -> torch.Tensor:
    """All 1797 scikit-learn digits as (1797, 1, size, size) float32 in [0, 1]."""
    from sklearn.datasets import load_digits

    x = torch.from_numpy(load_digits().images.astype(np.float32) / 16.0)[:, None]
    return F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False).clamp(0, 1)


def to_digits8(x: torch.Tensor) -> np.ndarray:
    """(N, 1, H, W) in [0, 1] -> (N, 64) on the 0..16 scale of the 8x8 digits (area downscale)."""
    x8 = F.adaptive_avg_pool2d(x.float(), 8)
    return (x8.reshape(len(x), 64) * 16).numpy()


def _read(path: Path) -> bytes:
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as f:
                return f.read()
        return path.read_bytes()
    except FileNotFoundError:
        raise ParameterError(f"{path}: file not found") from None
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise ParameterError(f"{path}: cannot read ({plain_reason(exc)})") from None


def load_mnist(path: str | Path, labels: str | Path | None = None, limit: int | None = None):
    """Read an MNIST IDX images file (``train-images-idx3-ubyte`` or ``.gz``).

    Returns uint8 images (N, 28, 28) (any rows x cols the header gives), and
    ``(images, labels)`` when a labels file (magic 2049) is given. A wrong
    magic number, a header that disagrees with the file size or mismatched
    counts raise a one-line :class:`ParameterError`.
    """
    path = Path(path)
    raw = _read(path)
    if len(raw) < 16:
        raise ParameterError(f"{path}: too short for an MNIST IDX images header ({len(raw)} bytes)")
    magic, n, rows, cols = np.frombuffer(raw[:16], dtype=">u4")
    if magic != IMAGES_MAGIC:
        raise ParameterError(f"{path}: not an MNIST IDX images file (magic {magic}, expected {IMAGES_MAGIC})")
    if not (0 < rows <= 4096 and 0 < cols <= 4096):
        raise ParameterError(f"{path}: implausible image size {rows}x{cols} in the header")
    need = 16 + int(n) * int(rows) * int(cols)
    if len(raw) < need:
        raise ParameterError(
            f"{path}: truncated: header says {n} images of {rows}x{cols} ({need} bytes), file has {len(raw)}"
        )
    count = int(n) if limit is None else min(int(n), int(limit))
    images = np.frombuffer(raw, dtype=np.uint8, count=count * rows * cols, offset=16).reshape(count, rows, cols).copy()
    if labels is None:
        return images
    lpath = Path(labels)
    lraw = _read(lpath)
    if len(lraw) < 8:
        raise ParameterError(f"{lpath}: too short for an MNIST IDX labels header")
    lmagic, ln = np.frombuffer(lraw[:8], dtype=">u4")
    if lmagic != LABELS_MAGIC:
        raise ParameterError(f"{lpath}: not an MNIST IDX labels file (magic {lmagic}, expected {LABELS_MAGIC})")
    if ln != n or len(lraw) < 8 + int(ln):
        raise ParameterError(f"{lpath}: {ln} labels in a {len(lraw)}-byte file for {n} images")
    return images, np.frombuffer(lraw, dtype=np.uint8, count=count, offset=8).copy()


def mnist_32(path: str | Path, limit: int | None = None) -> torch.Tensor:
    """MNIST images as (N, 1, 32, 32) float32 in [0, 1], zero-padded from 28x28."""
    x = torch.from_numpy(load_mnist(path, limit=limit).astype(np.float32) / 255.0)[:, None]
    ph, pw = max(0, 32 - x.shape[-2]), max(0, 32 - x.shape[-1])
    return F.pad(x, (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2))


def write_idx_images(path: str | Path, images: np.ndarray) -> Path:
    """Write uint8 images (N, H, W) as an IDX images file (``.gz`` compresses); used by the tests."""
    images = np.asarray(images, dtype=np.uint8)
    raw = np.array([IMAGES_MAGIC, *images.shape], dtype=">u4").tobytes() + images.tobytes()
    path = Path(path)
    from imagewizard.io.files import atomic_write

    atomic_write(path, gzip.compress(raw) if path.suffix == ".gz" else raw, what="IDX file")
    return path
