"""Training data: images from any folder, random patches, on-the-fly degradation.

Images are decoded once into memory as uint8 (BSDS500's 432 training images
take about 200 MB in colour) and patches are cut at random with the eight
flips/rotations. Noise is added on the fly, so every step sees new noise.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from imagewizard.core.errors import ParameterError

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
        kept = [p for p in files if p.stem not in banned]
        if not banned or len(kept) == len(files):
            # an exclusion that removes nothing is a mistake (a missing folder, or a test set whose files
            # are renamed copies, as BSD68's test001.png of CBSD68's 101085.png): refuse rather than train
            # on what the user meant to keep out
            what = "has no images" if not banned else "matches no file name in the training data"
            raise ParameterError(f"--exclude {exclude}: {what}; nothing would be kept out (check the folder)")
        files = kept
    if not files:
        raise ParameterError(f"{folder}: no images found")
    return files


def load_uint8(path: Path, channels: int) -> np.ndarray:
    """Decode to HxWxC uint8 (C = 1 or 3); gray is BT.601 luma rounded to 8 bits like the gray test sets."""
    from imagewizard.io import read

    img, _info = read(path)  # the guarded reader: regular files, pixel and size limits, one-line errors
    img = np.clip(img, 0.0, 1.0)
    if img.ndim == 2:
        img = np.repeat(img[:, :, None], 3, axis=2)
    rgb = np.rint(img * 255.0).astype(np.uint8)
    if channels == 3:
        return rgb
    gray = np.rint(rgb.astype(np.float32) @ _LUMA).clip(0, 255).astype(np.uint8)
    return gray[:, :, None]


def load_images(paths: list[Path], channels: int, *, what: str = "training") -> list[np.ndarray]:
    """:func:`load_uint8` over ``paths``; an unreadable file is skipped with a one-line note on stderr.

    A folder of thousands of photos often holds one broken file; training goes on without it.
    """
    import sys

    from imagewizard.core.errors import ImageWizardError

    out = []
    for p in paths:
        try:
            out.append(load_uint8(p, channels))
        except ImageWizardError as exc:
            print(f"skipping {what} image: {exc}", file=sys.stderr, flush=True)
    if paths and not out:
        raise ParameterError(f"none of the {len(paths)} {what} images could be read")
    return out


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
            crop = dihedral(im[y : y + self.patch, x : x + self.patch], int(rng.integers(0, 8)))
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


@dataclass
class RealNoise:
    """The noise of real photo files, drawn per patch (the real-photo denoiser's training data).

    Half the patches get camera noise (``degrade.camera``: a drawn camera, ISO log-uniform in
    [``iso_low``, ``iso_high``]); a quarter white Gaussian noise (sigma uniform in 0..50) and a quarter
    signal-dependent noise (Poisson, peak log-uniform 20..2000, i.e. a dim to a bright scene). Half of
    all patches are then JPEG-compressed (quality 50..95, 4:2:0), as phones and cameras save them; every
    patch is clipped and rounded to 8 bits, as a file holds it. Returns the noisy batch and, per
    patch, the std of what was added (0..1 scale, for the log; the blind model is not told).
    """

    iso_low: float = 100.0
    iso_high: float = 12800.0
    jpeg: float = 0.5

    def __call__(self, clean: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        from imagewizard.physics.degrade import camera_noise, clip_round_8bit, jpeg_compress, poisson_noise

        noisy = np.empty_like(clean)
        for b in range(clean.shape[0]):
            x = clean[b].transpose(1, 2, 0)
            if x.shape[2] == 1:
                x = x[..., 0]
            u = rng.random()
            if u < 0.5:
                iso = float(np.exp(rng.uniform(np.log(self.iso_low), np.log(self.iso_high))))
                y = camera_noise(x, iso, rng=rng)
            elif u < 0.75:
                y = x + rng.standard_normal(x.shape, dtype=np.float32) * np.float32(rng.uniform(0.0, 50.0) / 255.0)
            else:
                y = poisson_noise(x, float(np.exp(rng.uniform(np.log(20.0), np.log(2000.0)))), rng=rng)
            y = clip_round_8bit(y)
            if rng.random() < self.jpeg:
                y = jpeg_compress(y, int(rng.integers(50, 96)))
            noisy[b] = (y[..., None] if y.ndim == 2 else y).transpose(2, 0, 1)
        sig = (noisy - clean).reshape(clean.shape[0], -1).std(axis=1).astype(np.float32)
        return noisy, sig


#: name -> training noise of ``imagewizard train denoiser --noise``
NOISE_MODELS = ("gaussian", "real")


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


def to_channels(rgb: np.ndarray, channels: int) -> np.ndarray:
    """HxWx3 uint8 to HxWxC (C = 1: BT.601 luma rounded to 8 bits, as :func:`load_uint8` does)."""
    if channels == 3:
        return rgb
    return np.rint(rgb.astype(np.float32) @ _LUMA).clip(0, 255).astype(np.uint8)[:, :, None]


# --------------------------------------------------------------------------- procedural images


def dead_leaves(
    size: int,
    rng: np.random.Generator,
    *,
    channels: int = 3,
    rmin: float = 2.0,
    rmax: float | None = None,
    texture: float = 0.3,
    max_shapes: int = 4000,
) -> np.ndarray:
    """A dead-leaves image: random occluding discs and rectangles with power-law sizes.

    Shapes fall one behind the other (drawn front to back, each covering only what is still
    bare) with radii distributed as ``r^-3`` between ``rmin`` and ``rmax``: the scale-invariant
    model of Lee, Mumford and Huang (2001), whose power spectrum, edge statistics and occlusions
    match natural images'. Colours are uniform in RGB, so saturated hues are as common as dull
    ones (what BSDS lacks). It is rendered at twice the size and averaged down, so edges are
    anti-aliased as an optical image's are.

    Parameters
    ----------
    size : int
        Side of the square image in pixels.
    rng : numpy.random.Generator
        Source of every random choice (the image is a function of its state).
    channels : int
        1 (gray) or 3 (colour).
    rmin, rmax : float
        Radius range in output pixels (default ``rmax``: ``size``).
    texture : float
        Probability that a shape carries a sinusoidal grating (random frequency, orientation and
        contrast) instead of a flat colour, for fine periodic structure.
    max_shapes : int
        Bound on the shapes drawn; pixels still bare then take one last colour.

    Returns
    -------
    ndarray
        ``(size, size, channels)`` uint8.
    """
    n = 2 * size  # supersampled canvas
    r_lo, r_hi = 2.0 * rmin, 2.0 * (rmax if rmax is not None else size)
    img = np.zeros((n, n, channels), np.float32)
    bare = np.ones((n, n), bool)
    left = n * n
    a, b = r_lo**-2.0, r_hi**-2.0  # inverse CDF of p(r) ~ r^-3 on [r_lo, r_hi]
    for _ in range(max_shapes):
        r = float((a - rng.random() * (a - b)) ** -0.5)
        cy, cx = rng.uniform(-r, n + r, size=2)
        y0, y1 = max(int(cy - r), 0), min(int(cy + r) + 1, n)
        x0, x1 = max(int(cx - r), 0), min(int(cx + r) + 1, n)
        rect, angle = rng.random() < 0.3, rng.uniform(0, np.pi)
        colour = rng.random(channels).astype(np.float32)
        grating = rng.random() < texture
        if y0 >= y1 or x0 >= x1:
            continue
        yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float32)
        dy, dx = yy - np.float32(cy), xx - np.float32(cx)
        if rect:  # a rotated square of half-side r / sqrt(2), the disc's inscribed square
            c, s = np.float32(np.cos(angle)), np.float32(np.sin(angle))
            u, v = c * dx + s * dy, -s * dx + c * dy
            inside = np.maximum(np.abs(u), np.abs(v)) <= r / np.sqrt(2.0)
        else:
            inside = dx * dx + dy * dy <= r * r
        m = inside & bare[y0:y1, x0:x1]
        k = int(m.sum())
        if k == 0:
            continue
        if grating:
            freq = rng.uniform(0.02, 0.25) / 2.0  # cycles per output pixel, on the 2x canvas
            theta, phase, amp = rng.uniform(0, np.pi), rng.uniform(0, 2 * np.pi), rng.uniform(0.05, 0.3)
            wave = np.sin(2 * np.pi * freq * (np.cos(theta) * dx[m] + np.sin(theta) * dy[m]) + phase)
            val = np.clip(colour[None, :] + np.float32(amp) * wave[:, None].astype(np.float32), 0.0, 1.0)
        else:
            val = colour[None, :]
        img[y0:y1, x0:x1][m] = val
        bare[y0:y1, x0:x1][m] = False
        left -= k
        if left == 0:
            break
    if left:
        img[bare] = rng.random(channels).astype(np.float32)
    img = img.reshape(size, 2, size, 2, channels).mean(axis=(1, 3))
    return np.rint(img * 255.0).clip(0, 255).astype(np.uint8)


@dataclass
class DeadLeavesSampler:
    """Patches of fresh :func:`dead_leaves` images, one per patch, with the same call as :class:`PatchSampler`."""

    patch: int
    channels: int = 3
    texture: float = 0.3

    def sample(self, batch: int, rng: np.random.Generator) -> np.ndarray:
        """Return (batch, C, patch, patch) float32 in [0, 1] (8-bit levels, like decoded files)."""
        out = np.empty((batch, self.channels, self.patch, self.patch), np.float32)
        for b in range(batch):
            img = dead_leaves(self.patch, rng, channels=self.channels, texture=self.texture)
            out[b] = img.transpose(2, 0, 1) / 255.0
        return out


# --------------------------------------------------------------------------- colour augmentation


def colour_augment(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Random colour change of one (C, H, W) patch in [0, 1]: channel order, hue, saturation, exposure, gamma.

    BSDS holds few strongly saturated colours; these changes reach them while keeping the
    patch's structure. Hue is a rotation of the chroma (the part orthogonal to gray) about the
    gray axis, saturation a scaling of it (x0.5 to x2.5, log-uniform), exposure a gain (x0.7 to
    x1.4), gamma an exponent (0.7 to 1.4); the result is clipped and rounded to 8-bit levels, as
    a clean 8-bit file would hold. Gray patches (C = 1) get only exposure and gamma.
    """
    c = x.shape[0]
    y = x.astype(np.float32)
    if c == 3:
        y = y[rng.permutation(3)]
        theta = rng.uniform(-np.pi, np.pi)
        sat = np.float32(np.exp(rng.uniform(np.log(0.5), np.log(2.5))))
        gray = y.mean(axis=0, keepdims=True)
        chroma = y - gray
        k = np.full(3, 1 / np.sqrt(3.0), np.float32)
        # Rodrigues' rotation about k; chroma is orthogonal to k, so the k (k . v) term vanishes.
        cross = np.stack(
            [
                k[1] * chroma[2] - k[2] * chroma[1],
                k[2] * chroma[0] - k[0] * chroma[2],
                k[0] * chroma[1] - k[1] * chroma[0],
            ]
        )
        y = gray + sat * (np.float32(np.cos(theta)) * chroma + np.float32(np.sin(theta)) * cross)
    gain = np.float32(np.exp(rng.uniform(np.log(0.7), np.log(1.4))))
    gamma = np.float32(np.exp(rng.uniform(np.log(0.7), np.log(1.4))))
    y = np.clip(y * gain, 0.0, 1.0) ** gamma
    return np.round(y * np.float32(255.0)) / np.float32(255.0)


# --------------------------------------------------------------------------- mixing sources

#: Training sources :class:`MixedSampler` knows: the ``--data`` folder, the package photos'
#: training split (:mod:`imagewizard.models.photos`) and procedural dead leaves.
SOURCES = ("folder", "photos", "dead-leaves")


def parse_mix(text: str | dict | None) -> dict[str, float]:
    """``'folder=0.6,photos=0.25,dead-leaves=0.15'`` -> weights per source (normalised to sum 1)."""
    if not text:
        return {}
    if isinstance(text, dict):
        items = list(text.items())
    else:
        items = []
        for part in str(text).split(","):
            key, sep, val = part.partition("=")
            if not sep:
                raise ParameterError(f"mix: expected SOURCE=WEIGHT, got '{part}'")
            try:
                items.append((key.strip(), float(val)))
            except ValueError:
                raise ParameterError(f"mix: weight of '{key.strip()}' must be a number, got '{val}'") from None
    out: dict[str, float] = {}
    for key, w in items:
        if key not in SOURCES:
            raise ParameterError(f"mix: unknown source '{key}' (known: {', '.join(SOURCES)})")
        if w < 0:
            raise ParameterError(f"mix: weight of '{key}' must be >= 0")
        out[key] = float(w)
    total = sum(out.values())
    if total <= 0:
        raise ParameterError("mix: the weights must not all be zero")
    return {k: w / total for k, w in out.items() if w > 0}


@dataclass
class MixedSampler:
    """Patches drawn from several samplers by weight, each patch on its own; optional colour augmentation.

    ``samplers`` maps a source name to an object with ``sample(batch, rng)`` (a
    :class:`PatchSampler` or :class:`DeadLeavesSampler`); ``weights`` gives each one's share of
    patches. ``colour_aug`` is the probability that a patch from a photograph source (every
    source but ``'dead-leaves'``, whose colours are random already) goes through
    :func:`colour_augment`.
    """

    samplers: dict
    weights: dict[str, float]
    colour_aug: float = 0.0

    def __post_init__(self):
        missing = set(self.weights) - set(self.samplers)
        if missing:
            raise ParameterError(f"no sampler for source(s) {', '.join(sorted(missing))}")
        self.names = [k for k in self.weights if self.weights[k] > 0]
        p = np.array([self.weights[k] for k in self.names], np.float64)
        self.p = p / p.sum()

    def sample(self, batch: int, rng: np.random.Generator) -> np.ndarray:
        """Return (batch, C, patch, patch) float32 in [0, 1]."""
        which = rng.choice(len(self.names), size=batch, p=self.p)
        out = None
        for k, name in enumerate(self.names):
            idx = np.flatnonzero(which == k)
            if idx.size == 0:
                continue
            part = self.samplers[name].sample(int(idx.size), rng)
            if out is None:
                out = np.empty((batch, *part.shape[1:]), np.float32)
            out[idx] = part
        if self.colour_aug > 0:
            for b in range(batch):
                if self.names[which[b]] != "dead-leaves" and rng.random() < self.colour_aug:
                    out[b] = colour_augment(out[b], rng)
        return out
