"""Label maps on disk: integer region numbers, not pixels in [0, 1].

A label map is written as a gray PNG, 8-bit when every label fits (at most 255 regions) and
16-bit otherwise (up to 65535), or as ``.npy`` (int32, any count). Reading takes those, a gray
8/16-bit PNG or TIFF from elsewhere, and colour label maps (each distinct colour is a region),
through the same guarded reader and size limits as images.

Examples
--------
>>> import numpy as np, tempfile, pathlib
>>> lab = np.array([[1, 1, 2], [3, 3, 2]], np.int32)
>>> p = pathlib.Path(tempfile.mkdtemp()) / "labels.png"
>>> _ = write_labels(p, lab)
>>> read_labels(p).tolist()
[[1, 1, 2], [3, 3, 2]]
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from imagewizard.core.errors import ImageReadError, ParameterError

#: The most regions a PNG label map can hold (16-bit gray); more need ``.npy``.
PNG_MAX_LABEL = 65535


def write_labels(path, labels: np.ndarray, *, overwrite: bool = False, replace=None) -> Path:
    """Write a label map atomically through the guarded writer (PNG 8/16-bit or ``.npy`` int32)."""
    from imagewizard.io.files import atomic_write

    lab = np.asarray(labels)
    if lab.ndim != 2 or not np.issubdtype(lab.dtype, np.integer):
        raise ParameterError(f"a label map is a 2-D integer array, not {lab.dtype} of shape {lab.shape}")
    if lab.size and lab.min() < 0:
        raise ParameterError("labels must be 0 or more")
    p = Path(path)
    ext = p.suffix.lower()
    if ext == ".npy":
        buf = io.BytesIO()
        np.save(buf, lab.astype(np.int32), allow_pickle=False)
        data = buf.getvalue()
    elif ext == ".png":
        top = int(lab.max()) if lab.size else 0
        if top > PNG_MAX_LABEL:
            raise ParameterError(f"{top} regions do not fit a 16-bit PNG (at most {PNG_MAX_LABEL}); write .npy")
        import cv2

        ok, enc = cv2.imencode(".png", lab.astype(np.uint8 if top <= 255 else np.uint16))
        if not ok:  # pragma: no cover - OpenCV fails only on impossible shapes
            raise ParameterError(f"cannot encode a {lab.shape} label map as PNG")
        data = enc.tobytes()
    else:
        raise ParameterError(f"a label map is written as .png or .npy, not '{ext or p.name}'")
    return atomic_write(p, data, what="label map", replace=replace if overwrite else None)


def read_labels(path, *, max_pixels: int | None = None, black_is_zero: bool = False) -> np.ndarray:
    """Read a label map as int32 (HxW): gray PNG/TIFF values as they are, colours numbered 1..n.

    A ``.npy`` file must hold a 2-D integer array; a colour image's distinct colours become regions
    (``black_is_zero``: black is 0, "not marked", as in a scribble drawn over a black canvas).
    """
    from imagewizard.io.files import read_input_bytes
    from imagewizard.io.reading import _resolve_max_pixels

    p = Path(path)
    limit = _resolve_max_pixels(max_pixels)
    data = read_input_bytes(p, what="label map")
    if data[:6] == b"\x93NUMPY":
        try:
            lab = np.load(io.BytesIO(data), allow_pickle=False)
        except ValueError as e:
            raise ImageReadError(f"cannot read label map {p}: not a valid .npy file ({e})") from None
        if lab.ndim != 2 or not np.issubdtype(lab.dtype, np.integer):
            raise ImageReadError(f"cannot read label map {p}: .npy must hold 2-D integers, not {lab.dtype} {lab.shape}")
        if lab.size > limit:
            raise ImageReadError(f"label map {p} has {lab.size} pixels, more than the limit {limit}")
        return lab.astype(np.int32)
    import cv2

    buf = np.frombuffer(data, np.uint8)
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as im:
            w, h = im.size
            if w * h > limit:
                raise ImageReadError(f"label map {p} is {w}x{h}, more than the limit of {limit} pixels")
    except ImageReadError:
        raise
    except Exception:
        raise ImageReadError(f"cannot read label map {p}: not a PNG, TIFF or .npy label map") from None
    arr = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)
    if arr is None:
        raise ImageReadError(f"cannot read label map {p}: the file is damaged or not an image")
    if arr.ndim == 2:
        return arr.astype(np.int32)
    colours = arr.reshape(-1, arr.shape[2])[:, :3]
    uniq, inverse = np.unique(colours, axis=0, return_inverse=True)
    lab = inverse.reshape(arr.shape[:2]).astype(np.int32) + 1
    if black_is_zero and not uniq[0].any():  # sorted: black, when present, is the first colour
        lab -= 1
    return lab
