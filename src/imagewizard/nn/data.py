"""Training data: images from any folder, random patches, on-the-fly degradation.

Images are decoded once into memory as uint8 (BSDS500's 432 training images
take about 200 MB in colour) and patches are cut at random with the eight
flips/rotations. Noise is added on the fly, so every step sees new noise.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from ..errors import ParameterError

_EXTS = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp"}
# ITU-R BT.601 luma, the weights of MATLAB's rgb2gray that made the gray test sets (BSD68).
_LUMA = np.array([0.2989, 0.5870, 0.1140], np.float32)


def list_image_files(folder: str | Path, exclude: str | Path | None = None) -> list[Path]:
    """Image files under ``folder`` (recursive, sorted), minus those whose stem is in ``exclude``.

    ``exclude`` is a folder of images (e.g. ``testsets/CBSD68``) whose names must never be trained on.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise ParameterError(f"{folder}: training data folder not found")
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in _EXTS and not p.name.startswith("."))
    if exclude is not None:
        banned = {p.stem for p in Path(exclude).rglob("*") if p.suffix.lower() in _EXTS}
        files = [p for p in files if p.stem not in banned]
    if not files:
        raise ParameterError(f"{folder}: no images found")
    return files


def load_uint8(path: Path, channels: int) -> np.ndarray:
    """Decode to HxWxC uint8 (C = 1 or 3); gray is BT.601 luma rounded to 8 bits like the gray test sets."""
    with Image.open(path) as im:
        rgb = np.asarray(im.convert("RGB"), dtype=np.uint8)
    if channels == 3:
        return rgb
    gray = np.rint(rgb.astype(np.float32) @ _LUMA).clip(0, 255).astype(np.uint8)
    return gray[:, :, None]


def split_files(files: list[Path], val_count: int) -> tuple[list[Path], list[Path]]:
    """Deterministic held-out split: every k-th file goes to validation."""
    val_count = min(val_count, len(files) // 4)  # never hold out more than a quarter
    if val_count <= 0:
        return files, []
    step = max(len(files) // val_count, 1)
    val = files[::step][:val_count]
    val_set = set(val)
    return [f for f in files if f not in val_set], val


def dihedral(x: np.ndarray, k: int) -> np.ndarray:
    """One of the 8 flips/rotations of an HxWxC array."""
    if k >= 4:
        x = x[:, ::-1]
    return np.rot90(x, k % 4)


@dataclass
class PatchSampler:
    """Random augmented patches from in-memory uint8 images."""

    images: list[np.ndarray]
    patch: int

    def __post_init__(self):
        if not self.images:
            raise ParameterError("no training images")
        small = [im.shape for im in self.images if min(im.shape[:2]) < self.patch]
        if small:
            raise ParameterError(f"patch size {self.patch} is larger than an image of shape {small[0][:2]}")

    def sample(self, batch: int, rng: np.random.Generator) -> np.ndarray:
        """Return (batch, C, patch, patch) float32 in [0, 1]."""
        out = np.empty((batch, self.images[0].shape[2], self.patch, self.patch), np.float32)
        idx = rng.integers(0, len(self.images), size=batch)
        for b, i in enumerate(idx):
            im = self.images[i]
            y = rng.integers(0, im.shape[0] - self.patch + 1)
            x = rng.integers(0, im.shape[1] - self.patch + 1)
            crop = dihedral(im[y:y + self.patch, x:x + self.patch], int(rng.integers(0, 8)))
            out[b] = crop.transpose(2, 0, 1).astype(np.float32) / 255.0
        return out


@dataclass
class GaussianNoise:
    """Additive white Gaussian noise with sigma drawn uniformly from [low, high] (0..255 scale), unclipped."""

    low: float = 0.0
    high: float = 75.0

    def __call__(self, clean: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        sig = rng.uniform(self.low, self.high, size=clean.shape[0]).astype(np.float32) / 255.0
        noisy = clean + rng.standard_normal(clean.shape, dtype=np.float32) * sig[:, None, None, None]
        return noisy, sig


def parse_sigma_range(text: str | float | tuple) -> tuple[float, float]:
    """'25' -> (25, 25); '0-75' -> (0, 75)."""
    if isinstance(text, tuple):
        low, high = text
    elif isinstance(text, (int, float)):
        low = high = float(text)
    else:
        parts = str(text).replace(":", "-").split("-")
        try:
            vals = [float(p) for p in parts if p.strip() != ""]
        except ValueError:
            raise ParameterError(f"sigma must be a number or a range like 0-75, got '{text}'") from None
        if len(vals) == 1:
            low = high = vals[0]
        elif len(vals) == 2:
            low, high = vals
        else:
            raise ParameterError(f"sigma must be a number or a range like 0-75, got '{text}'")
    if not (0 <= low <= high <= 255):
        raise ParameterError(f"sigma range must satisfy 0 <= low <= high <= 255, got {low:g}-{high:g}")
    return float(low), float(high)
