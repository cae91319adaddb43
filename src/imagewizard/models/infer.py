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
    return 2 * 1024**3


DEVICES_HELP = "where the network runs: auto (CUDA when torch sees a GPU, else CPU), cpu, or cuda[:N]"


def resolve_device(device: str | None = "auto"):
    """The ``torch.device`` for ``device``: ``auto`` picks CUDA when torch sees a GPU; a one-line error for
    ``cuda`` on a machine (or a torch build) without one."""
    import torch

    from imagewizard.core.errors import ParameterError

    text = "auto" if device is None else str(device).strip().lower()
    if text in ("", "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if text == "cpu":
        return torch.device("cpu")
    if text == "cuda" or (text.startswith("cuda:") and text[5:].isdigit()):
        if not torch.cuda.is_available():
            raise ParameterError(
                f"device={device}: torch sees no CUDA GPU here (torch {torch.__version__}; "
                f"install a CUDA build of torch, or use device=cpu)"
            )
        index = int(text[5:]) if ":" in text else 0
        if index >= torch.cuda.device_count():
            raise ParameterError(f"device={device}: only {torch.cuda.device_count()} CUDA device(s) visible")
        return torch.device("cuda", index)
    raise ParameterError(f"device must be auto, cpu or cuda[:N], got {device!r}")


_ON_DEVICE: dict = {}


def on_device(model, device):
    """``model`` on ``device``: itself on the CPU (where the zoo keeps it); a cached copy elsewhere."""
    if device.type == "cpu":
        return model
    first = next(iter(model.parameters()), None) if hasattr(model, "parameters") else None
    if first is None or first.device == device:  # already there (a wrapper around a moved network)
        return model
    key = (id(model), str(device))
    if key not in _ON_DEVICE:
        import copy

        _ON_DEVICE[key] = (model, copy.deepcopy(model).to(device).eval())  # holds model so its id stays unique
    return _ON_DEVICE[key][1]


def device_memory(device) -> int:
    """Free bytes on ``device`` (CUDA: the driver's count; CPU: available RAM)."""
    if device is not None and device.type == "cuda":
        import torch

        free, _total = torch.cuda.mem_get_info(device)
        return int(free)
    return available_memory()


def auto_tile(
    margin: int, multiple: int, budget: int | None = None, device=None, bytes_per_pixel: int = BYTES_PER_PIXEL
) -> int:
    """Core tile side so that one padded tile fits in ``budget`` bytes (default: 1/4 of the device's free
    memory, at most 1 GB on the CPU and 4 GB on a GPU)."""
    if budget is None:
        cap = 4 * 1024**3 if device is not None and device.type == "cuda" else 1024**3
        budget = min(device_memory(device) // 4, cap)
    side = int(math.sqrt(max(budget, 1) / bytes_per_pixel)) - 2 * margin
    side = max(side // multiple * multiple, multiple * 4)
    return min(side, 2048)


def run_tiled(
    model,
    img: np.ndarray,
    sigma: float,
    *,
    tile: int = 0,
    margin: int | None = None,
    threads: int | None = None,
    device: str = "auto",
) -> np.ndarray:
    """Apply a ``(x, sigma)`` network to an HxW or HxWxC float32 image, tile by tile.

    Parameters
    ----------
    model : torch.nn.Module or imagewizard.models.onnx_backend.OrtNet
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
    device : str
        ``auto``, ``cpu`` or ``cuda[:N]`` (see :func:`resolve_device`); on the CPU the result is
        what it always was, on a GPU it agrees to float rounding.
    """
    if hasattr(model, "run_numpy"):  # a network on ONNX Runtime (CPU): no torch involved
        return _tiled(lambda t, tiled: model.run_numpy(t, sigma, tiled=tiled), model, img, tile, margin, None)
    import torch

    if threads:
        torch.set_num_threads(threads)
    dev = resolve_device(device)
    model = on_device(model, dev)
    s = torch.tensor([sigma / 255.0], dtype=torch.float32).to(dev)

    def run(t: np.ndarray, tiled: bool) -> np.ndarray:
        x = torch.from_numpy(np.ascontiguousarray(t)).to(dev).contiguous(memory_format=torch.channels_last)
        return model(x, s).cpu().numpy()

    with torch.inference_mode():
        return _tiled(run, model, img, tile, margin, dev)


def _tiled(run, model, img: np.ndarray, tile: int, margin: int | None, dev) -> np.ndarray:
    """``run(x, tiled)`` (N, C, H, W float32 -> same; ``tiled``: one of many windows) over ``img`` in core
    tiles with ``margin`` of context each."""
    multiple = int(getattr(model, "multiple", 1))
    margin = int(getattr(model, "receptive_margin", 64) if margin is None else margin)
    margin = -(-margin // multiple) * multiple
    h, w = img.shape[:2]
    if not tile:
        tile = auto_tile(
            margin, multiple, device=dev, bytes_per_pixel=getattr(model, "bytes_per_pixel", BYTES_PER_PIXEL)
        )
    tile = max(-(-tile // multiple) * multiple, multiple)
    x = img[None, None] if img.ndim == 2 else img.transpose(2, 0, 1)[None]
    x = np.ascontiguousarray(x, dtype=np.float32)
    out = np.empty_like(x)
    if h <= tile and w <= tile:
        out[:] = run(x, False)
    else:
        from imagewizard.core.progress import report

        # Every window has the same shape (tile + 2 margins, moved inward at the far edges, over the
        # image padded as the network pads it): results as before, and ONNX Runtime's memory arena
        # reuses one set of buffers instead of keeping one per edge-tile shape.
        ph, pw = (-h) % multiple, (-w) % multiple
        xp = np.pad(x, ((0, 0), (0, 0), (0, ph), (0, pw)), mode="edge") if ph or pw else x
        hp, wp = xp.shape[-2:]
        # an axis whose whole length fits in one window is one tile long (no window repeats it all)
        ty = h if tile + 2 * margin >= hp else tile
        tx = w if tile + 2 * margin >= wp else tile
        wy, wx = min(ty + 2 * margin, hp), min(tx + 2 * margin, wp)
        total, done = -(-h // ty) * -(-w // tx), 0
        for y0 in range(0, h, ty):
            for x0 in range(0, w, tx):
                y1, x1 = min(y0 + ty, h), min(x0 + tx, w)
                ya, xa = min(max(y0 - margin, 0), hp - wy), min(max(x0 - margin, 0), wp - wx)
                r = run(xp[:, :, ya : ya + wy, xa : xa + wx], True)
                out[:, :, y0:y1, x0:x1] = r[:, :, y0 - ya : y1 - ya, x0 - xa : x1 - xa]
                done += 1
                report(done, total)
    res = out[0, 0] if img.ndim == 2 else out[0].transpose(1, 2, 0)
    return np.ascontiguousarray(res)


def run_patches(
    model, img: np.ndarray, sigma: float, *, stride: int | None = None, batch: int = 1024, device: str = "auto"
) -> np.ndarray:
    """Apply a fixed-size patch model (``model.patch`` x ``model.patch``) to overlapping patches and average.

    For the fully connected autoencoder: every pixel is covered by several patches (stride
    ``patch // 4`` by default) and the overlapping reconstructions are averaged.
    """
    import torch

    dev = resolve_device(device)
    model = on_device(model, dev)
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
        s = torch.tensor([sigma / 255.0]).to(dev)
        with torch.inference_mode():
            for i in range(0, len(coords), batch):
                chunk = coords[i : i + batch]
                t = torch.from_numpy(
                    np.stack([x[y : y + p, x0 : x0 + p] for y, x0 in chunk])[:, None].astype(np.float32)
                )
                r = model(t.to(dev), s.expand(len(chunk))).cpu().numpy()[:, 0]
                for (y, x0), patch in zip(chunk, r):
                    acc[y : y + p, x0 : x0 + p] += patch
                    cnt[y : y + p, x0 : x0 + p] += 1
        outs.append((acc / cnt)[:h, :w].astype(np.float32))
    return outs[0] if img.ndim == 2 else np.stack(outs, axis=2)


def predict(model, img: np.ndarray, sigma: float, **kw) -> np.ndarray:
    """Run any zoo network on an HxW / HxWxC image: tiled for convolutional nets, patch-wise for ``dae``."""
    if getattr(model, "patch", None):
        kw.pop("tile", None)
        kw.pop("threads", None)
        return run_patches(model, img, sigma, **kw)
    return run_tiled(model, img, sigma, **kw)


def default_threads() -> int:
    """Threads for inference: a batch worker's share of the cores, else all cores this process may use."""
    from imagewizard.run.jobs import usable_cores, worker_threads

    return worker_threads() or usable_cores()
