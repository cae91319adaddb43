"""Blur kernels (point-spread functions): Gaussian, motion, defocus disk, box.

Every kernel is a float64 2-D array with odd sides, centred at
``(kh // 2, kw // 2)`` (the convention of :func:`scipy.ndimage.convolve`
and of the deblur methods), non-negative and summing to 1.

Kernels are named by short specs, ``name:values`` (see
:func:`imagewizard.core.registry.parse_spec`)::

    gaussian:2              sigma 2 px, size auto (2*round(4*sigma)+1)
    gaussian:sigma=2,size=15
    motion:15,30            a 15 px line at 30 degrees
    disk:4                  defocus, radius 4 px
    box:5                   5x5 average

The table :data:`KERNELS` declares them (parameters, function, summary);
help text and spec parsing are generated from it. :func:`resolve_kernel`
accepts an array, a spec or a file (.npy, .txt/.csv, or an image).

Examples
--------
>>> k = make_kernel("motion:15,30")
>>> k.shape, round(float(k.sum()), 12)
((9, 13), 1.0)
"""

from __future__ import annotations

import math
import os
from io import BytesIO
from pathlib import Path
from typing import Any, Callable, Mapping, NamedTuple

import numpy as np

from imagewizard.core.errors import ParameterError
from imagewizard.core.registry import Param, bind_args, parse_spec

__all__ = [
    "Declaration",
    "KERNELS",
    "gaussian_kernel",
    "motion_kernel",
    "disk_kernel",
    "box_kernel",
    "make_kernel",
    "load_kernel",
    "save_kernel",
    "resolve_kernel",
    "check_kernel",
    "describe_kernel",
    "parse_declared",
    "format_declared",
    "label_declared",
    "spec_usage",
    "describe_table",
]

#: File suffixes :func:`load_kernel` reads besides images.
ARRAY_SUFFIXES = (".npy", ".txt", ".csv")
_IMAGE_SUFFIXES = (".png", ".tif", ".tiff", ".bmp", ".pgm", ".ppm", ".jpg", ".jpeg", ".webp")


class Declaration(NamedTuple):
    """One entry of a declaration table (:data:`KERNELS`, ``degrade.NOISES``, ``degrade.MASKS``).

    ``params`` are bound in order to a spec's positional values, then by keyword.
    """

    params: tuple[Param, ...]
    func: Callable[..., Any]
    summary: str


# --------------------------------------------------------------------------- spec helpers


def _fmt(value: Any) -> str:
    if value is None:
        return "auto"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.12g}"
    return str(value)


def parse_declared(table: Mapping[str, Declaration], spec: str, *, kind: str) -> tuple[str, dict[str, Any]]:
    """Parse ``spec`` against ``table``; returns the name and the validated, defaulted parameters.

    ``kind`` (e.g. ``'kernel'``, ``'noise'``) only words the error messages.

    Examples
    --------
    >>> parse_declared(KERNELS, "motion:15,angle=30", kind="kernel")
    ('motion', {'length': 15.0, 'angle': 30.0})
    """
    if not isinstance(spec, str):
        raise ParameterError(
            f"{kind} spec must be a string such as '{spec_usage(next(iter(table)), table)}', got {type(spec).__name__}"
        )
    name, positional, keywords = parse_spec(spec)
    name = name.replace("_", "-")
    decl = table.get(name)
    if decl is None:
        raise ParameterError(f"unknown {kind} '{name}' in '{spec.strip()}' (known: {', '.join(table)})")
    try:
        bound = bind_args(decl.params, positional, keywords, where=name)
    except ParameterError as exc:
        raise ParameterError(f"{kind} '{spec.strip()}': {exc}") from None
    return name, bound


def format_declared(table: Mapping[str, Declaration], name: str, bound: Mapping[str, Any]) -> str:
    """The shortest positional spec that :func:`parse_declared` reads back as ``bound``.

    The first value is always written, later ones up to the last non-default one.

    Examples
    --------
    >>> format_declared(KERNELS, "motion", {"length": 15.0, "angle": 0.0})
    'motion:15'
    """
    params = table[name].params
    values = [bound.get(p.name, p.default) for p in params]
    last = 1 if params and values[0] is not None else 0
    for i, (p, v) in enumerate(zip(params, values)):
        if v != p.default:
            last = i + 1
    return name + (":" + ",".join(_fmt(v) for v in values[:last]) if last else "")


def label_declared(table: Mapping[str, Declaration], name: str, bound: Mapping[str, Any]) -> str:
    """Human-readable ``'name p1=v1 ...'``: the first parameter always, the others when not default.

    Examples
    --------
    >>> label_declared(KERNELS, "motion", {"length": 15.0, "angle": 30.0})
    'motion length=15 angle=30'
    """
    parts = [name]
    for i, p in enumerate(table[name].params):
        v = bound.get(p.name, p.default)
        if i == 0 or v != p.default:
            parts.append(f"{p.name}={_fmt(v)}")
    return " ".join(parts)


def spec_usage(name: str, table: Mapping[str, Declaration]) -> str:
    """Spec syntax such as ``'motion:length[,angle]'`` (optional values in brackets)."""
    names = [p.name for p in table[name].params]
    if not names:
        return name
    return f"{name}:{names[0]}" + "".join(f"[,{n}]" for n in names[1:])


def describe_table(table: Mapping[str, Declaration]) -> list[dict[str, Any]]:
    """JSON-friendly description of a declaration table (for help text and ``--json``)."""
    return [
        {
            "name": name,
            "usage": spec_usage(name, table),
            "summary": d.summary,
            "params": [p.describe() for p in d.params],
        }
        for name, d in table.items()
    ]


# --------------------------------------------------------------------------- kernels


def _odd_size(size: int, what: str) -> int:
    if isinstance(size, bool) or int(size) != size or size < 1 or size % 2 == 0:
        raise ParameterError(f"{what} must be a positive odd integer, got {size!r}")
    return int(size)


def gaussian_kernel(sigma: float, size: int | None = None) -> np.ndarray:
    """Isotropic Gaussian PSF: ``exp(-(x^2 + y^2) / (2 sigma^2))`` sampled at pixel centres.

    Parameters
    ----------
    sigma : float
        Standard deviation in pixels (> 0).
    size : int, optional
        Odd side length. Default ``2 * round(4 * sigma) + 1``, the support of
        :func:`scipy.ndimage.gaussian_filter` (truncate 4), so blurring with this
        kernel matches ``gaussian_filter`` with the same boundary mode.

    Returns
    -------
    numpy.ndarray
        float64 ``size x size``, sum 1. Equal to the normalized outer product
        of ``scipy.signal.windows.gaussian(size, sigma)`` with itself.

    Examples
    --------
    >>> gaussian_kernel(1.0).shape
    (9, 9)
    """
    sigma = float(sigma)
    if not (math.isfinite(sigma) and sigma > 0):
        raise ParameterError(f"gaussian kernel sigma must be > 0, got {sigma:g}")
    if size is None:
        size = 2 * int(4.0 * sigma + 0.5) + 1
    size = _odd_size(size, "gaussian kernel size")
    x = np.arange(size, dtype=np.float64) - (size - 1) / 2
    g = np.exp(-0.5 * (x / sigma) ** 2)
    k = np.outer(g, g)
    return k / k.sum()


def motion_kernel(length: float, angle: float = 0.0) -> np.ndarray:
    """Linear motion blur: a centred line ``length`` pixels long at ``angle`` degrees.

    The line is drawn the way Xiaolin Wu's algorithm draws anti-aliased lines:
    along its major axis each column (row) gets the length of the segment's
    projection that falls in it, so ends at fractional positions get partial
    weight; across, the weight is split linearly between the two nearest
    pixels. Hence ``motion:5`` (angle 0) is exactly five equal taps in the
    middle row, angle 90 is a vertical column and angle 45 a single diagonal.
    The kernel is point-symmetric (motion has no sign in a single exposure).

    Parameters
    ----------
    length : float
        Path length in pixels (>= 1).
    angle : float
        Direction in degrees, counter-clockwise from the x axis as seen on
        screen (rows grow downwards): 0 horizontal, 90 vertical, 45 rising
        to the right (non-zero on the anti-diagonal).

    Returns
    -------
    numpy.ndarray
        float64, odd sides (the smallest centred box holding the line), sum 1.

    Examples
    --------
    >>> motion_kernel(3)
    array([[0.33333333, 0.33333333, 0.33333333]])
    """
    length, angle = float(length), float(angle)
    if not (math.isfinite(length) and length >= 1):
        raise ParameterError(f"motion kernel length must be >= 1 pixel, got {length:g}")
    if not math.isfinite(angle):
        raise ParameterError(f"motion kernel angle must be a finite number of degrees, got {angle}")
    theta = math.radians(angle % 180.0)
    dx, dy = math.cos(theta), -math.sin(theta)  # rows grow downwards
    x_major = abs(dx) >= abs(dy)
    major, minor = (dx, dy) if x_major else (dy, dx)
    half = 0.5 * length * abs(major)
    n = math.ceil(half + 0.5)
    t = np.arange(-n, n + 1, dtype=np.float64)
    cover = np.clip(np.minimum(t + 0.5, half) - np.maximum(t - 0.5, -half), 0.0, None)
    pos = t * (minor / major)
    near = np.round(pos)
    pos = np.where(np.abs(pos - near) < 1e-9, near, pos)  # 45 degrees etc. land exactly on pixels
    lo = np.floor(pos)
    frac = pos - lo
    r = max(n, int(np.max(np.abs(lo))) + 1)
    k = np.zeros((2 * r + 1, 2 * r + 1))
    rows, cols = lo.astype(int) + r, t.astype(int) + r
    if not x_major:
        rows, cols = cols, rows
    np.add.at(k, (rows, cols), cover * (1 - frac))
    rows2, cols2 = (rows + 1, cols) if x_major else (rows, cols + 1)
    np.add.at(k, (rows2, cols2), cover * frac)
    k[k < 1e-12 * k.max()] = 0.0
    k = 0.5 * (k + k[::-1, ::-1])
    return _trim(k / k.sum())


def _trim(k: np.ndarray) -> np.ndarray:
    """Drop all-zero outer rows/columns symmetrically, keeping sides odd and the centre fixed."""
    rows = np.flatnonzero(k.any(axis=1))
    cols = np.flatnonzero(k.any(axis=0))
    cy, cx = k.shape[0] // 2, k.shape[1] // 2
    ry = max(cy - rows[0], rows[-1] - cy)
    rx = max(cx - cols[0], cols[-1] - cx)
    return np.ascontiguousarray(k[cy - ry : cy + ry + 1, cx - rx : cx + rx + 1])


def disk_kernel(radius: float) -> np.ndarray:
    """Defocus PSF: a uniform disk of ``radius`` pixels, anti-aliased.

    Each pixel holds the fraction of its area inside the circle (exact for
    pixels wholly inside or outside, 64x64 supersampling on the rim), like
    MATLAB's ``fspecial('disk')``.

    Parameters
    ----------
    radius : float
        Disk radius in pixels (> 0).

    Returns
    -------
    numpy.ndarray
        float64 ``(2n+1) x (2n+1)`` with ``n = ceil(radius - 0.5)``, sum 1,
        symmetric under flips and transposition.

    Examples
    --------
    >>> disk_kernel(4).shape
    (9, 9)
    """
    radius = float(radius)
    if not (math.isfinite(radius) and radius > 0):
        raise ParameterError(f"disk kernel radius must be > 0, got {radius:g}")
    n = max(0, math.ceil(radius - 0.5))
    c = np.arange(-n, n + 1, dtype=np.float64)
    yy, xx = np.meshgrid(c, c, indexing="ij")
    near = np.hypot(np.maximum(np.abs(yy) - 0.5, 0), np.maximum(np.abs(xx) - 0.5, 0))
    far = np.hypot(np.abs(yy) + 0.5, np.abs(xx) + 0.5)
    k = (far <= radius).astype(np.float64)
    rim = (near < radius) & (far > radius)
    if rim.any():
        sub = (np.arange(64) + 0.5) / 64 - 0.5
        sy, sx = np.meshgrid(sub, sub, indexing="ij")
        py = yy[rim][:, None] + sy.ravel()[None, :]
        px = xx[rim][:, None] + sx.ravel()[None, :]
        k[rim] = (py * py + px * px <= radius * radius).mean(axis=1)
    if k.sum() <= 0:  # a disk far smaller than a pixel falls between the sub-samples: it is no blur
        k = np.ones((1, 1))
    return k / k.sum()


def box_kernel(size: int) -> np.ndarray:
    """Uniform ``size x size`` average (``ones / size**2``); ``size`` odd.

    Examples
    --------
    >>> float(box_kernel(3)[0, 0]) == 1 / 9
    True
    """
    size = _odd_size(size, "box kernel size")
    return np.full((size, size), 1.0 / (size * size))


#: Kernel declarations: name -> (params, function, one-line summary).
KERNELS: dict[str, Declaration] = {
    "gaussian": Declaration(
        (
            Param("sigma", float, 2.0, "standard deviation in pixels", low=0.0, high=50.0),
            Param("size", int, None, "odd side in pixels; auto = 2*round(4*sigma)+1", low=1, high=1001),
        ),
        gaussian_kernel,
        "Gaussian blur (out-of-focus optics, atmospheric blur).",
    ),
    "motion": Declaration(
        (
            Param("length", float, 15.0, "path length in pixels", low=1.0, high=500.0),
            Param("angle", float, 0.0, "direction in degrees counter-clockwise (0 horizontal, 90 vertical)"),
        ),
        motion_kernel,
        "Linear motion blur: an anti-aliased line (camera shake, moving subject).",
    ),
    "disk": Declaration(
        (Param("radius", float, 4.0, "radius in pixels", low=0.0, high=250.0),),
        disk_kernel,
        "Defocus blur: an anti-aliased uniform disk.",
    ),
    "box": Declaration(
        (Param("size", int, 5, "odd side in pixels", low=1, high=1001),), box_kernel, "Box (moving-average) blur."
    ),
}


def make_kernel(spec: str) -> np.ndarray:
    """Build a kernel from a spec such as ``'gaussian:2'``, ``'motion:15,30'``, ``'disk:4'``, ``'box:5'``.

    Values bind to the declared parameters in order, or by name
    (``'gaussian:sigma=2,size=15'``). Errors are one-line :class:`ParameterError`.

    Examples
    --------
    >>> make_kernel("box:3").shape
    (3, 3)
    """
    name, bound = parse_declared(KERNELS, spec, kind="kernel")
    try:
        return KERNELS[name].func(**bound)
    except ParameterError as exc:
        raise ParameterError(f"kernel '{spec.strip()}': {exc}") from None


# --------------------------------------------------------------------------- validation and files


def check_kernel(kernel: Any, *, name: str = "blur kernel") -> np.ndarray:
    """Validate a kernel and return it as float64, odd-sided, normalized to sum 1.

    Rejects (one-line :class:`ParameterError` starting with ``name``) arrays
    that are not 2-D, empty, contain NaN/inf, have negative values (values
    above ``-1e-12 * max``, i.e. float round-off, are set to 0) or sum to 0.
    An even side is padded with a zero row/column at the end, which keeps
    the centre at index ``n // 2`` (the :func:`scipy.ndimage.convolve` origin).

    Examples
    --------
    >>> check_kernel([[1, 1], [1, 1]]).shape
    (3, 3)
    """
    try:
        k = np.array(kernel, dtype=np.float64)
    except (TypeError, ValueError):
        raise ParameterError(f"{name} must be a 2-D array of numbers, got {type(kernel).__name__}") from None
    if k.ndim != 2 or k.size == 0:
        raise ParameterError(f"{name} must be a non-empty 2-D array, got shape {k.shape}")
    if not np.isfinite(k).all():
        raise ParameterError(f"{name} contains NaN or infinite values")
    peak = float(k.max())
    low = float(k.min())
    if low < 0:
        if peak > 0 and low >= -1e-12 * peak:
            k[k < 0] = 0.0
        else:
            raise ParameterError(f"{name} has negative values (min {low:.3g}); a blur kernel must be non-negative")
    total = float(k.sum())
    if not total > 0:
        raise ParameterError(f"{name} is all zeros; a blur kernel must have a positive sum")
    pad = ((0, 1 - k.shape[0] % 2), (0, 1 - k.shape[1] % 2))
    if any(p[1] for p in pad):
        k = np.pad(k, pad)
    return k / total


def _one_line(exc: BaseException) -> str:
    from imagewizard.core.errors import plain_reason

    return plain_reason(exc)


def load_kernel(path: str | os.PathLike) -> np.ndarray:
    """Read a kernel from ``.npy``, ``.txt``/``.csv`` (numbers) or an image file, normalized.

    Images may be any bit depth (8/16-bit, float TIFF); colour images are
    averaged over their channels, alpha is ignored. The result goes through
    :func:`check_kernel`; every error names the file.

    Examples
    --------
    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "k.npy")
    >>> _ = save_kernel(p, box_kernel(3))
    >>> round(float(load_kernel(p).sum()), 12)
    1.0
    """
    from imagewizard.core.errors import ImageWizardError
    from imagewizard.io.files import read_input_bytes

    p = Path(path)
    label = f"kernel file '{p}'"
    if not p.exists() and not p.is_symlink():
        raise ParameterError(f"{label} does not exist")
    suffix = p.suffix.lower()
    try:
        if suffix in (".npy", ".txt", ".csv", ".tif", ".tiff"):
            data = read_input_bytes(p, what="kernel file", limit=KERNEL_MAX_BYTES)
        if suffix == ".npy":
            arr = np.load(BytesIO(data), allow_pickle=False)
        elif suffix in (".txt", ".csv"):
            arr = np.loadtxt(BytesIO(data), delimiter="," if suffix == ".csv" else None, ndmin=2)
        elif suffix in (".tif", ".tiff"):
            arr = _tiff_kernel(data, label)
        else:  # any image format the reader knows, through its pixel limit
            from imagewizard.io import read

            arr, _info = read(p, max_pixels=KERNEL_MAX_PIXELS)
    except ImageWizardError as exc:
        raise ParameterError(f"{label} cannot be read as a kernel: {_after_path(str(exc), p)}") from None
    except Exception as exc:  # noqa: BLE001 - any parser failure is a user-facing read error
        raise ParameterError(f"{label} cannot be read as a kernel: {_one_line(exc)}") from None
    arr = np.asarray(arr)
    if arr.dtype == bool:
        arr = arr.astype(np.float64)
    if arr.ndim == 3 and arr.shape[2] in (2, 4):  # gray+alpha, RGBA: drop alpha
        arr = arr[:, :, : arr.shape[2] - 1]
    if arr.ndim == 3 and arr.shape[2] in (1, 3):
        arr = arr.astype(np.float64).mean(axis=2)
    if not np.issubdtype(arr.dtype, np.number):
        raise ParameterError(f"{label} does not hold numbers (dtype {arr.dtype})")
    return check_kernel(arr, name=label)


#: Kernel files are small; anything larger is a mistake or a bomb (a 1025x1025 float64 kernel is 8 MB).
KERNEL_MAX_BYTES = 64 * 1024**2
KERNEL_MAX_PIXELS = 4096 * 4096


def _after_path(msg: str, p: Path) -> str:
    """'cannot read P: reason' from the image reader, as just 'reason'."""
    prefix = f"cannot read {p}: "
    return msg[len(prefix) :] if msg.startswith(prefix) else msg


def _tiff_kernel(data: bytes, label: str) -> np.ndarray:
    import tifffile

    from imagewizard.core.quiet import captured

    with captured(), tifffile.TiffFile(BytesIO(data)) as tif:
        page = tif.pages.first
        n = int(np.prod(page.shape))
        if n > KERNEL_MAX_PIXELS * 4:
            raise ParameterError(f"{label}: {page.shape} samples is far too large for a blur kernel")
        return page.asarray()


def save_kernel(path: str | os.PathLike, kernel: Any) -> Path:
    """Write a kernel: ``.npy`` (exact float64), ``.tif`` (exact float64) or ``.png`` (for viewing).

    The PNG is 16-bit, scaled so the largest tap is white; it loses the
    absolute scale and some precision (it reads back normalized and within
    about 1e-5 of each tap), so keep the ``.npy`` when the exact kernel matters,
    e.g. for non-blind deblurring benchmarks.

    Returns
    -------
    pathlib.Path
        The path written.
    """
    k = check_kernel(kernel)
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix not in (".npy", ".png", ".tif", ".tiff"):
        raise ParameterError(f"kernel file '{p}': unsupported format '{suffix or '(none)'}'; use .npy, .tif or .png")
    from imagewizard.io.files import atomic_write

    if suffix == ".npy":
        buf = BytesIO()
        np.save(buf, k)
        data = buf.getvalue()
    elif suffix in (".tif", ".tiff"):
        import tifffile

        buf = BytesIO()
        tifffile.imwrite(buf, k)
        data = buf.getvalue()
    else:
        from PIL import Image, PngImagePlugin

        info = PngImagePlugin.PngInfo()
        info.add_text(
            "Comment",
            "imagewizard blur kernel, scaled to its maximum for viewing; the .npy file holds the exact values",
        )
        img16 = np.round(k / k.max() * 65535.0).astype(np.uint16)
        buf = BytesIO()
        Image.fromarray(img16).save(buf, format="PNG", pnginfo=info)
        data = buf.getvalue()
    atomic_write(p, data, what="kernel file")
    return p


def _looks_like_path(text: str) -> bool:
    return "/" in text or "\\" in text or Path(text).suffix.lower() in ARRAY_SUFFIXES + _IMAGE_SUFFIXES


def resolve_kernel(kernel: Any) -> np.ndarray:
    """Return a validated, normalized float64 kernel from an array, a spec or a file path.

    A string naming an existing file is read with :func:`load_kernel`;
    otherwise it is a spec for :func:`make_kernel`. ``pathlib.Path`` objects
    are always files.

    Examples
    --------
    >>> resolve_kernel("disk:1").shape
    (3, 3)
    >>> float(resolve_kernel(np.ones((3, 3)))[1, 1]) == 1 / 9
    True
    """
    if kernel is None:
        raise ParameterError("a blur kernel is needed: an array, a spec such as 'gaussian:2' or a file")
    if isinstance(kernel, os.PathLike):
        return load_kernel(kernel)
    if isinstance(kernel, bytes):
        kernel = kernel.decode()
    if isinstance(kernel, str):
        text = kernel.strip()
        if not text:
            raise ParameterError("empty blur kernel spec; try 'gaussian:2', 'motion:15,30', 'disk:4' or 'box:5'")
        if os.path.exists(text):  # a file, or a pipe/device/folder for the reader to refuse
            return load_kernel(text)
        name = text.partition(":")[0].strip().lower().replace("_", "-")
        if name in KERNELS:
            return make_kernel(text)
        if _looks_like_path(text):
            raise ParameterError(f"kernel file '{text}' does not exist")
        raise ParameterError(f"unknown kernel '{name}' (known: {', '.join(KERNELS)}; or a .npy/image file)")
    return check_kernel(kernel)


def describe_kernel(kernel: Any) -> str:
    """A short label: ``'motion length=15 angle=30'`` for a spec, ``'file k.npy'``, or ``'custom 15x15'``."""
    if isinstance(kernel, os.PathLike):
        return f"file {Path(kernel).name}"
    if isinstance(kernel, str):
        text = kernel.strip()
        if not os.path.isfile(text) and text.partition(":")[0].strip().lower().replace("_", "-") in KERNELS:
            name, bound = parse_declared(KERNELS, text, kind="kernel")
            return label_declared(KERNELS, name, bound)
        return f"file {Path(text).name}"
    k = np.asarray(kernel)
    return "custom " + "x".join(map(str, k.shape))
