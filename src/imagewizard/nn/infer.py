"""Inference for any image size with bounded memory.

Large images are cut into core tiles whose origins are multiples of the
network's down-sampling factor; each tile is processed with a margin of
context at least as wide as the network's receptive field, and only the core
is kept. Because the network is translation-equivariant on that grid, the
result equals a whole-image pass (up to float rounding): no seams, no
blending artefacts.
"""

from __future__ import annotations

import math
import os

import numpy as np

#: Bytes of activation memory per input pixel, measured for the flagship (float32, inference).
BYTES_PER_PIXEL = 1200


def available_memory() -> int:
    """Bytes of memory available now (Linux /proc/meminfo), or 2 GB when unknown."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 2 * 1024 ** 3


def auto_tile(margin: int, multiple: int, budget: int | None = None) -> int:
    """Core tile side so that one padded tile fits in ``budget`` bytes (default: 1/4 of available, max 1 GB)."""
    if budget is None:
        budget = min(available_memory() // 4, 1024 ** 3)
    side = int(math.sqrt(max(budget, 1) / BYTES_PER_PIXEL)) - 2 * margin
    side = max(side // multiple * multiple, multiple * 4)
    return min(side, 2048)


def run_tiled(model, img: np.ndarray, sigma: float, *, tile: int = 0, margin: int | None = None,
              threads: int | None = None) -> np.ndarray:
    """Apply a ``(x, sigma)`` network to an HxW or HxWxC float32 image, tile by tile.

    Parameters
    ----------
    model : torch.nn.Module
        In eval mode; may define ``multiple`` (input sides must be multiples of it, the
        network pads) and ``receptive_margin`` (context needed on each side).
    img : ndarray
        HxW or HxWxC float32.
    sigma : float
        Noise level on the 0..255 scale.
    tile : int
        Core tile side in pixels; 0 chooses it from the available memory. An image no
        larger than one tile is processed whole.
    margin : int, optional
        Context around each tile (default: the model's ``receptive_margin``).
    """
    import torch

    if threads:
        torch.set_num_threads(threads)
    multiple = int(getattr(model, "multiple", 1))
    margin = int(getattr(model, "receptive_margin", 64) if margin is None else margin)
    margin = -(-margin // multiple) * multiple
    h, w = img.shape[:2]
    if not tile:
        tile = auto_tile(margin, multiple)
    tile = max(-(-tile // multiple) * multiple, multiple)
    x = img[None, None] if img.ndim == 2 else img.transpose(2, 0, 1)[None]
    x = np.ascontiguousarray(x, dtype=np.float32)
    s = torch.tensor([sigma / 255.0], dtype=torch.float32)
    out = np.empty_like(x)
    with torch.inference_mode():
        if h <= tile and w <= tile:
            t = torch.from_numpy(x).contiguous(memory_format=torch.channels_last)
            out[:] = model(t, s).numpy()
        else:
            for y0 in range(0, h, tile):
                for x0 in range(0, w, tile):
                    y1, x1 = min(y0 + tile, h), min(x0 + tile, w)
                    ya, xa = max(y0 - margin, 0), max(x0 - margin, 0)
                    yb, xb = min(y1 + margin, h), min(x1 + margin, w)
                    t = torch.from_numpy(np.ascontiguousarray(x[:, :, ya:yb, xa:xb]))
                    r = model(t.contiguous(memory_format=torch.channels_last), s).numpy()
                    out[:, :, y0:y1, x0:x1] = r[:, :, y0 - ya:y1 - ya, x0 - xa:x1 - xa]
    res = out[0, 0] if img.ndim == 2 else out[0].transpose(1, 2, 0)
    return np.ascontiguousarray(res)


def run_patches(model, img: np.ndarray, sigma: float, *, stride: int | None = None, batch: int = 1024) -> np.ndarray:
    """Apply a fixed-size patch model (``model.patch`` x ``model.patch``) to overlapping patches and average.

    For the fully connected autoencoder: every pixel is covered by several patches (stride
    ``patch // 4`` by default) and the overlapping reconstructions are averaged.
    """
    import torch

    p = int(model.patch)
    stride = stride or max(p // 4, 1)
    chans = [img] if img.ndim == 2 else [img[:, :, c] for c in range(img.shape[2])]
    outs = []
    for ch in chans:
        h, w = ch.shape
        ph, pw = max(p - h, 0), max(p - w, 0)
        x = np.pad(ch, ((0, ph), (0, pw)), mode="reflect") if ph or pw else ch
        hh, ww = x.shape
        ys = list(range(0, hh - p + 1, stride))
        xs = list(range(0, ww - p + 1, stride))
        if ys[-1] != hh - p:
            ys.append(hh - p)
        if xs[-1] != ww - p:
            xs.append(ww - p)
        coords = [(y, x0) for y in ys for x0 in xs]
        acc = np.zeros_like(x, dtype=np.float64)
        cnt = np.zeros_like(x, dtype=np.float64)
        s = torch.tensor([sigma / 255.0])
        with torch.inference_mode():
            for i in range(0, len(coords), batch):
                chunk = coords[i:i + batch]
                t = torch.from_numpy(np.stack([x[y:y + p, x0:x0 + p] for y, x0 in chunk])[:, None].astype(np.float32))
                r = model(t, s.expand(len(chunk))).numpy()[:, 0]
                for (y, x0), patch in zip(chunk, r):
                    acc[y:y + p, x0:x0 + p] += patch
                    cnt[y:y + p, x0:x0 + p] += 1
        outs.append((acc / cnt)[:h, :w].astype(np.float32))
    return outs[0] if img.ndim == 2 else np.stack(outs, axis=2)


def predict(model, img: np.ndarray, sigma: float, **kw) -> np.ndarray:
    """Run any zoo network on an HxW / HxWxC image: tiled for convolutional nets, patch-wise for ``dae``."""
    if getattr(model, "patch", None):
        kw.pop("tile", None)
        kw.pop("threads", None)
        return run_patches(model, img, sigma)
    return run_tiled(model, img, sigma, **kw)


def default_threads() -> int:
    """Threads for inference: all cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - non-Linux
        return os.cpu_count() or 1
