"""Controlled, seeded image degradation: noise, blur, downscaling, JPEG, missing pixels.

Everything here produces test inputs for restoration: the same seed gives
the same result on every run and platform (NumPy ``Generator`` streams,
seeds derived with :func:`derive_seed`).

Images are float32 HxW or HxWx3 nominally in [0, 1]; uint8/uint16 input is
scaled first. Noise levels are on the 0..255 scale.

The composable entry point is :func:`degrade`; it applies the steps in a
fixed physical order, whatever order the arguments are written in::

    blur -> contrast -> downscale -> noise (in the order given) -> JPEG -> mask

(the optics blur the scene and haze or flare flatten its tones, the sensor
samples it and adds noise, the file is compressed, then the damage). ``protocol='float'`` returns the result
unclipped in float32 (the published denoising protocol: noise added in float
to the clean 8-bit image, no clipping); ``protocol='uint8'`` clips to [0, 1]
and rounds to 8-bit levels, what a saved file holds.

Compact degradation specs
-------------------------
:func:`parse_degrade_spec` reads one string, for benchmarks and configs::

    spec  := 'none' | part ('+' part)*
    part  := NOISE                  noise spec, applied in the order written
           | 'noise=' NOISE         the same, explicit
           | 'blur=' KERNEL         kernel spec (kernels.KERNELS) or kernel file (no '+' in its path)
           | 'blur_mode=' MODE      boundary of the blur: reflect|mirror|nearest|wrap|constant
           | 'contrast=' FACTOR     0 < FACTOR <= 1: tones pulled toward mid-grey (haze, flat scan)
           | 'downscale=' FACTOR    integer >= 1 (MATLAB-style bicubic; 1 keeps the size)
           | 'jpeg=' QUALITY        1..100
           | 'mask=' MASK           mask spec (MASKS)

Examples: ``'gaussian:25'``, ``'blur=motion:15,30+gaussian:2'``,
``'mask=text'``, ``'jpeg=30'``, ``'contrast=0.5'``, ``'downscale=4+gaussian:5'``. Spaces around
parts are ignored; every key but ``noise`` may appear once. Noise specs:
``gaussian:25``, ``gaussian:sigma=25,mean=0``, ``salt-pepper:0.1,0.5``,
``speckle:0.2``, ``poisson:30``. Masks: ``pixels:0.5``, ``lines:8,5``,
``box:0.25``, ``text`` or ``text:Hello`` (no commas or '+' in the text).

Colour
------
Gaussian, speckle and Poisson noise are independent per pixel *and*
channel (sensor noise). Salt-and-pepper hits whole pixels: a hit pixel
becomes white (1) or black (0) in all channels (dead/hot pixels,
transmission errors), so ``amount`` is the fraction of pixels. Masks are
HxW and remove all channels.

Examples
--------
>>> import numpy as np
>>> clean = np.full((64, 64), 0.5, np.float32)
>>> res = degrade(clean, noise=["gaussian:25"], seed=1)
>>> res.steps
['noise gaussian sigma=25']
>>> round(float(res.image.std() * 255), 0)
25.0
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

import numpy as np

from imagewizard.core.arrays import as_float_image, join_alpha, split_alpha
from imagewizard.core.errors import ParameterError
from imagewizard.physics.kernels import (
    KERNELS,
    Declaration,
    describe_kernel,
    format_declared,
    label_declared,
    parse_declared,
    resolve_kernel,
)
from imagewizard.core.registry import Param

__all__ = [
    "NOISES",
    "MASKS",
    "BLUR_MODES",
    "PROTOCOLS",
    "Degraded",
    "degrade",
    "parse_degrade_spec",
    "format_degrade_spec",
    "derive_seed",
    "gaussian_noise",
    "salt_pepper_noise",
    "speckle_noise",
    "poisson_noise",
    "blur",
    "random_pixel_mask",
    "scribble_mask",
    "box_mask",
    "text_mask",
    "apply_mask",
    "jpeg_compress",
    "downscale",
    "clip_round_8bit",
]

#: Boundary handling of :func:`blur` (names and meaning of :func:`scipy.ndimage.convolve`).
BLUR_MODES = ("reflect", "mirror", "nearest", "wrap", "constant")
#: Output conventions of :func:`degrade`.
PROTOCOLS = ("float", "uint8")

_NP_PAD = {"reflect": "symmetric", "mirror": "reflect", "nearest": "edge", "wrap": "wrap", "constant": "constant"}


def clip_round_8bit(x: np.ndarray) -> np.ndarray:
    """Clip to [0, 1] and round to the 256 levels of an 8-bit file: the ``'uint8'`` protocol.

    The one definition of what a saved 8-bit image holds; :func:`degrade` applies it last with
    ``protocol='uint8'`` and training applies it to noisy patches (``clip_fraction``).

    Parameters
    ----------
    x : ndarray
        Float image or batch of any shape, nominally in [0, 1].

    Returns
    -------
    ndarray
        float32, same shape, values k / 255 for integers k in 0..255.

    Examples
    --------
    >>> clip_round_8bit(np.array([-0.2, 0.5, 0.9991, 1.3], np.float32)) * 255
    array([  0., 128., 255., 255.], dtype=float32)
    """
    x = np.asarray(x, dtype=np.float32)
    return np.round(np.clip(x, 0.0, 1.0) * np.float32(255.0)) / np.float32(255.0)


# --------------------------------------------------------------------------- seeds


def derive_seed(seed: int, *keys: int | str | float) -> int:
    """A 63-bit seed derived from ``seed`` and ``keys``, stable across processes and platforms.

    Uses SHA-256 (not ``hash()``, which is salted per process), so a
    benchmark can give every image and repetition its own reproducible stream.

    Examples
    --------
    >>> derive_seed(0, "bsd68", 3) == derive_seed(0, "bsd68", 3)
    True
    >>> derive_seed(0, "a") != derive_seed(1, "a")
    True
    """
    parts = []
    for k in (seed, *keys):
        if isinstance(k, (bool, np.bool_)):
            parts.append(f"b:{int(k)}")
        elif isinstance(k, (int, np.integer)):
            parts.append(f"i:{int(k)}")
        elif isinstance(k, str):
            parts.append(f"s:{k}")
        elif isinstance(k, (float, np.floating)):
            parts.append(f"f:{float(k)!r}")
        else:
            raise ParameterError(f"derive_seed keys must be int, str or float, got {type(k).__name__}")
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "little") >> 1


def _rng(rng: Any) -> np.random.Generator:
    """``None`` (fresh OS entropy), an int seed, or a Generator (used as is)."""
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is not None and (isinstance(rng, bool) or not isinstance(rng, (int, np.integer)) or rng < 0):
        raise ParameterError(f"rng must be None, a non-negative int seed or a numpy Generator, got {rng!r}")
    return np.random.default_rng(rng)


def _bind(params: Sequence[Param], where: str, **values: Any) -> list[Any]:
    return [p.parse(values[p.name], where=f"{where}.") for p in params]


# --------------------------------------------------------------------------- noise

_P_GAUSS = (
    Param("sigma", float, 25.0, "standard deviation on the 0..255 scale", low=0.0, high=255.0),
    Param("mean", float, 0.0, "mean on the 0..255 scale", low=-255.0, high=255.0),
)
_P_SP = (
    Param("amount", float, 0.05, "fraction of pixels hit", low=0.0, high=1.0),
    Param("salt_ratio", float, 0.5, "fraction of hit pixels set to white (the rest black)", low=0.0, high=1.0),
)
_P_SPECKLE = (
    Param(
        "sigma", float, 0.2, "relative std of the multiplicative noise (x + x*n, n ~ N(0, sigma^2))", low=0.0, high=10.0
    ),
)
_P_POISSON = (Param("peak", float, 30.0, "expected photon count at white (1.0); lower is noisier", low=1e-3, high=1e9),)


def gaussian_noise(img, sigma: float, mean: float = 0.0, rng=None) -> np.ndarray:
    """Add white Gaussian noise, independent per pixel and channel, without clipping.

    Parameters
    ----------
    img : array_like
        HxW or HxWx3 (uint8/uint16 are scaled to [0, 1]).
    sigma, mean : float
        Standard deviation and mean on the 0..255 scale.
    rng : None, int or numpy.random.Generator
        Randomness; ``None`` draws fresh entropy (use :func:`degrade` or an int for reproducibility).

    Returns
    -------
    numpy.ndarray
        float32, ``img + (mean + sigma * N(0, 1)) / 255``, unclipped.

    Examples
    --------
    >>> noisy = gaussian_noise(np.zeros((256, 256)), 25, rng=0)
    >>> round(float(noisy.std() * 255))
    25
    """
    sigma, mean = _bind(_P_GAUSS, "gaussian", sigma=sigma, mean=mean)
    x = as_float_image(img)
    n = _rng(rng).standard_normal(x.shape)
    return (x + (mean + sigma * n) / 255.0).astype(np.float32)


def salt_pepper_noise(img, amount: float = 0.05, salt_ratio: float = 0.5, rng=None) -> np.ndarray:
    """Impulse noise: exactly ``round(amount * H * W)`` pixels set to white or black.

    Of the hit pixels, ``round(salt_ratio * hits)`` become 1.0 (salt), the
    rest 0.0 (pepper), all channels together.

    Examples
    --------
    >>> out = salt_pepper_noise(np.full((10, 10), 0.5), 0.2, 1.0, rng=0)
    >>> int((out == 1).sum())
    20
    """
    amount, salt_ratio = _bind(_P_SP, "salt-pepper", amount=amount, salt_ratio=salt_ratio)
    x = as_float_image(img).copy()
    h, w = x.shape[:2]
    hits = int(round(amount * h * w))
    idx = _rng(rng).permutation(h * w)[:hits]
    n_salt = int(round(salt_ratio * hits))
    flat = x.reshape(h * w, -1)
    flat[idx[:n_salt]] = 1.0
    flat[idx[n_salt:]] = 0.0
    return x


def speckle_noise(img, sigma: float = 0.2, rng=None) -> np.ndarray:
    """Multiplicative noise ``x + x * n``, ``n ~ N(0, sigma^2)`` per pixel and channel.

    The mean is preserved; the standard deviation is ``sigma * x`` (no clipping).

    Examples
    --------
    >>> out = speckle_noise(np.full((256, 256), 0.5), 0.2, rng=0)
    >>> round(float(out.std()), 2)
    0.1
    """
    (sigma,) = _bind(_P_SPECKLE, "speckle", sigma=sigma)
    x = as_float_image(img)
    n = _rng(rng).standard_normal(x.shape)
    return (x + x * (sigma * n)).astype(np.float32)


def poisson_noise(img, peak: float = 30.0, rng=None) -> np.ndarray:
    """Shot noise: ``poisson(x * peak) / peak`` per pixel and channel.

    ``peak`` is the expected photon count of a white pixel, so the noise
    std is ``sqrt(x / peak)``: 30 is a dim scene, 1000 a bright one.
    Negative input values (e.g. from earlier unclipped noise) count as 0.

    Examples
    --------
    >>> out = poisson_noise(np.full((256, 256), 0.5), 50, rng=0)
    >>> round(float(out.var()), 3)
    0.01
    """
    (peak,) = _bind(_P_POISSON, "poisson", peak=peak)
    x = as_float_image(img)
    lam = np.clip(x.astype(np.float64), 0.0, None) * peak
    return (_rng(rng).poisson(lam) / peak).astype(np.float32)


#: Noise declarations: name -> (params, function, one-line summary).
NOISES: dict[str, Declaration] = {
    "gaussian": Declaration(_P_GAUSS, gaussian_noise, "Additive white Gaussian noise (sensor read noise)."),
    "salt-pepper": Declaration(_P_SP, salt_pepper_noise, "Impulse noise: random pixels set to white or black."),
    "speckle": Declaration(_P_SPECKLE, speckle_noise, "Multiplicative noise x + x*n (radar, ultrasound, laser)."),
    "poisson": Declaration(_P_POISSON, poisson_noise, "Photon shot noise, stronger in bright areas."),
}


# --------------------------------------------------------------------------- blur


def blur(img, kernel, mode: str = "reflect") -> np.ndarray:
    """Convolve each channel with a blur kernel (true convolution, same size out).

    Parameters
    ----------
    img : array_like
        HxW or HxWx3.
    kernel : array, str or path
        Anything :func:`imagewizard.physics.kernels.resolve_kernel` takes:
        ``'gaussian:2'``, ``'motion:15,30'``, an array, a .npy/image file.
        It is centred at ``(kh // 2, kw // 2)``.
    mode : str
        How the image is extended beyond its borders, as in
        :func:`scipy.ndimage.convolve` (the result equals
        ``scipy.ndimage.convolve(img, kernel, mode=mode)``):
        ``'reflect'`` (default; half-sample symmetric, ``d c b a | a b c d``,
        like MATLAB ``imfilter(..., 'symmetric')``), ``'mirror'``
        (``d c b | a b c d``), ``'nearest'`` (edge repeated), ``'constant'``
        (zeros) or ``'wrap'`` (periodic: exactly the circular convolution
        that FFT deconvolution assumes, so use it to test a deblurring
        method against its own model; ``'reflect'`` is closer to a photograph).

    Returns
    -------
    numpy.ndarray
        float32, same shape, not clipped.

    Examples
    --------
    >>> out = blur(np.eye(8), "box:3", mode="wrap")
    >>> round(float(out.sum()), 4)
    8.0
    """
    import cv2

    if mode not in BLUR_MODES:
        raise ParameterError(f"blur mode must be one of {', '.join(BLUR_MODES)}; got {mode!r}")
    x = as_float_image(img)
    k = resolve_kernel(kernel)
    ry, rx = k.shape[0] // 2, k.shape[1] // 2
    pad = ((ry, ry), (rx, rx)) + (((0, 0),) if x.ndim == 3 else ())
    padded = np.pad(x, pad, mode=_NP_PAD[mode])
    # filter2D correlates; flipping the kernel makes it a convolution. The padded
    # margin is cropped, so OpenCV's own border rule never touches the result.
    out = cv2.filter2D(padded, -1, np.ascontiguousarray(k[::-1, ::-1]), borderType=cv2.BORDER_CONSTANT)
    return np.ascontiguousarray(out[ry : ry + x.shape[0], rx : rx + x.shape[1]], dtype=np.float32)


# --------------------------------------------------------------------------- masks


def _shape2(shape: Any) -> tuple[int, int]:
    try:
        h, w = (int(v) for v in tuple(shape)[:2])
    except (TypeError, ValueError):
        raise ParameterError(f"mask shape must be (height, width), got {shape!r}") from None
    if h < 1 or w < 1:
        raise ParameterError(f"mask shape must be positive, got {shape!r}")
    return h, w


_P_PIXELS = (Param("fraction", float, 0.5, "fraction of pixels missing", low=0.0, high=1.0),)
_P_LINES = (
    Param("lines", int, 8, "number of strokes", low=0, high=1000),
    Param("width", int, 5, "stroke width in pixels", low=1, high=200),
)
_P_BOX = (
    Param("size", float, 0.25, "area of the box as a fraction of the image", low=0.0, high=1.0),
    Param("center", bool, False, "put the box in the middle instead of at a random place"),
)
_P_TEXT = (
    Param("text", str, "ImageWizard", "the words written over the image (ASCII; repeated to fill it)"),
    Param("size", float, 0.06, "letter height as a fraction of the image height", low=0.005, high=1.0),
)


def random_pixel_mask(shape, fraction: float = 0.5, rng=None) -> np.ndarray:
    """Exactly ``round(fraction * H * W)`` missing pixels at random places.

    Returns
    -------
    numpy.ndarray
        bool HxW, True where a pixel is missing.

    Examples
    --------
    >>> int(random_pixel_mask((10, 10), 0.3, rng=0).sum())
    30
    """
    (fraction,) = _bind(_P_PIXELS, "pixels", fraction=fraction)
    h, w = _shape2(shape)
    mask = np.zeros(h * w, dtype=bool)
    mask[_rng(rng).permutation(h * w)[: int(round(fraction * h * w))]] = True
    return mask.reshape(h, w)


def scribble_mask(shape, lines: int = 8, width: int = 5, rng=None) -> np.ndarray:
    """Random scratches: ``lines`` strokes of ``width`` pixels.

    Each stroke starts at a random point and has 1 to 3 straight segments,
    each 10-30 % of the longer image side long, turning by N(0, 30 deg)
    between segments. About ``lines * 0.4 * width / min(H, W)`` of a square
    image is covered (8 strokes of 5 px on 256x256: about 6 %).

    Examples
    --------
    >>> scribble_mask((64, 64), 4, 3, rng=0).dtype
    dtype('bool')
    """
    import cv2

    lines, width = _bind(_P_LINES, "lines", lines=lines, width=width)
    h, w = _shape2(shape)
    rng = _rng(rng)
    canvas = np.zeros((h, w), dtype=np.uint8)
    side = max(h, w)
    for _ in range(lines):
        p = rng.uniform((0.0, 0.0), (w, h))
        angle = rng.uniform(0.0, 2 * math.pi)
        pts = [p]
        for _ in range(int(rng.integers(1, 4))):
            angle += rng.normal(0.0, math.pi / 6)
            p = p + rng.uniform(0.1, 0.3) * side * np.array([math.cos(angle), math.sin(angle)])
            pts.append(p)
        poly = np.round(np.array(pts)).astype(np.int32).reshape(-1, 1, 2)
        cv2.polylines(canvas, [poly], False, 1, thickness=width, lineType=cv2.LINE_8)
    return canvas.astype(bool)


def box_mask(shape, size: float = 0.25, rng=None, *, center: bool = False) -> np.ndarray:
    """One missing box covering ``size`` of the image area, with the image's aspect ratio.

    Sides are ``round(sqrt(size) * H)`` by ``round(sqrt(size) * W)``; the box
    lies wholly inside the image at a random place (or centred).

    Examples
    --------
    >>> int(box_mask((8, 8), 0.25, center=True).sum())
    16
    """
    size, center = _bind(_P_BOX, "box", size=size, center=center)
    h, w = _shape2(shape)
    bh, bw = int(round(math.sqrt(size) * h)), int(round(math.sqrt(size) * w))
    if center:
        y, x = (h - bh) // 2, (w - bw) // 2
    else:
        gen = _rng(rng)
        y, x = int(gen.integers(0, h - bh + 1)), int(gen.integers(0, w - bw + 1))
    mask = np.zeros((h, w), dtype=bool)
    mask[y : y + bh, x : x + bw] = True
    return mask


def text_mask(shape, text: str = "ImageWizard", size: float = 0.06, rng=None) -> np.ndarray:
    """Text written over the whole image (the "remove the caption/watermark" task).

    ``text`` is repeated along rows spaced two line heights apart, each row
    shifted by a random amount; letters are ``size * H`` pixels tall
    (OpenCV Hershey simplex font, so it needs no font files). About 15 %
    of the image is covered at the default size.

    Examples
    --------
    >>> m = text_mask((128, 128), "Hello", rng=0)
    >>> bool(0.03 < m.mean() < 0.3)
    True
    """
    import cv2

    text, size = _bind(_P_TEXT, "text", text=text, size=size)
    if not text.strip() or not text.isascii() or not text.isprintable():
        raise ParameterError(f"mask text must be non-empty printable ASCII, got {text!r}")
    h, w = _shape2(shape)
    gen = _rng(rng)
    font = cv2.FONT_HERSHEY_SIMPLEX
    target = max(4.0, size * h)
    (_, h1), _ = cv2.getTextSize(text, font, 1.0, 1)
    scale = target / h1
    thickness = max(1, int(round(target / 8)))
    unit = text + "   "
    (uw, uh), _ = cv2.getTextSize(unit, font, scale, thickness)
    uw = max(uw, 1)
    pitch = 2 * uh
    canvas = np.zeros((h, w), dtype=np.uint8)
    line = unit * (w // uw + 2)
    for y in range(int(gen.integers(uh, uh + pitch)), h + uh, pitch):
        cv2.putText(canvas, line, (-int(gen.integers(0, uw)), y), font, scale, 1, thickness, cv2.LINE_8)
    return canvas.astype(bool)


#: Mask declarations: name -> (params, function(shape, ..., rng=), one-line summary).
MASKS: dict[str, Declaration] = {
    "pixels": Declaration(_P_PIXELS, random_pixel_mask, "Randomly missing pixels (a fraction of the image)."),
    "lines": Declaration(_P_LINES, scribble_mask, "Random scratches / scribbles."),
    "box": Declaration(_P_BOX, box_mask, "One missing rectangle (a hole)."),
    "text": Declaration(_P_TEXT, text_mask, "Text written over the image."),
}


def apply_mask(img, mask, fill: float = 0.0) -> np.ndarray:
    """Return a float32 copy of ``img`` with the pixels where ``mask`` is True set to ``fill`` (all channels).

    Examples
    --------
    >>> apply_mask(np.ones((2, 2)), np.array([[True, False], [False, False]])).tolist()
    [[0.0, 1.0], [1.0, 1.0]]
    """
    x = as_float_image(img).copy()
    m = np.asarray(mask)
    if m.shape != x.shape[:2]:
        raise ParameterError(f"mask shape {m.shape} does not match the image {x.shape[:2]}")
    x[m.astype(bool)] = float(fill)
    return x


# --------------------------------------------------------------------------- JPEG, downscaling

_P_JPEG = Param("quality", int, 75, "JPEG quality", low=1, high=100)
_P_FACTOR = Param("factor", int, 2, "integer downscaling factor", low=2, high=64)
_P_CONTRAST = Param("factor", float, 1.0, "contrast factor (tones toward mid-grey)", low=0.0, high=1.0)
_P_DOWNSCALE = Param("factor", int, 1, "integer downscaling factor (1: keep the size)", low=1, high=64)


def jpeg_compress(img, quality: int) -> np.ndarray:
    """Round-trip through an in-memory JPEG at ``quality`` (1..100): blocking and ringing artefacts.

    The image is clipped and rounded to 8 bits, encoded with OpenCV's
    libjpeg (baseline, 4:2:0 chroma subsampling for colour, the standard
    quantization tables scaled by ``quality``; gray stays one channel) and
    decoded. The result is float32 on 8-bit levels.

    Examples
    --------
    >>> jpeg_compress(np.full((16, 16), 0.5), 50).shape
    (16, 16)
    """
    import cv2

    quality = _P_JPEG.parse(quality, where="jpeg.")
    x = as_float_image(img)
    u8 = np.round(np.clip(x, 0.0, 1.0) * 255.0).astype(np.uint8)
    if u8.ndim == 3:
        u8 = cv2.cvtColor(u8, cv2.COLOR_RGB2BGR)
    ok, buf = cv2.imencode(".jpg", u8, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:  # pragma: no cover - libjpeg does not fail on valid 8-bit arrays
        raise RuntimeError("JPEG encoding failed")
    out = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)
    if out.ndim == 3:
        out = cv2.cvtColor(out, cv2.COLOR_BGR2RGB)
    return out.astype(np.float32) / 255.0


def _cubic(x: np.ndarray) -> np.ndarray:
    ax = np.abs(x)
    ax2, ax3 = ax * ax, ax * ax * ax
    return (1.5 * ax3 - 2.5 * ax2 + 1.0) * (ax <= 1) + (-0.5 * ax3 + 2.5 * ax2 - 4.0 * ax + 2.0) * (
        (ax > 1) & (ax <= 2)
    )


def _imresize_matrix(n_in: int, factor: int) -> np.ndarray:
    """MATLAB ``imresize`` bicubic weights for shrinking ``n_in`` samples by ``factor`` (a matrix out x in)."""
    scale = 1.0 / factor
    n_out = n_in // factor
    width = 4.0 / scale  # the cubic is stretched by 1/scale: the antialiasing low-pass
    u = np.arange(1, n_out + 1) / scale + 0.5 * (1 - 1 / scale)  # 1-based input coordinate of each output
    left = np.floor(u - width / 2)
    taps = int(math.ceil(width)) + 2
    ind = left[:, None] + np.arange(taps)[None, :]
    weights = scale * _cubic(scale * (u[:, None] - ind))
    weights /= weights.sum(axis=1, keepdims=True)
    aux = np.concatenate([np.arange(n_in), np.arange(n_in)[::-1]])  # symmetric extension
    cols = aux[np.mod(ind - 1, 2 * n_in).astype(np.int64)]
    m = np.zeros((n_out, n_in))
    np.add.at(m, (np.repeat(np.arange(n_out), taps), cols.ravel()), weights.ravel())
    return m


def downscale(img, factor: int) -> np.ndarray:
    """Bicubic downscaling by an integer ``factor``, as MATLAB ``imresize(img, 1/factor)``.

    This is the degradation of the super-resolution benchmarks (Set5/Set14,
    DIV2K "bicubic" LR images): the image is first cropped at the bottom and
    right to a multiple of ``factor`` (the usual ``modcrop``), then resized
    with the Keys cubic kernel (a = -0.5) stretched by ``factor`` (MATLAB's
    antialiasing), output pixel ``i`` centred at input position
    ``(i + 0.5) * factor`` (pixel-area convention) and the borders extended
    symmetrically. Computed in float64, separably (rows then columns);
    equal to MATLAB on double input up to round-off (MATLAB on uint8
    input also rounds between the two passes). Factors 2, 3 and 4 are the
    standard ones. Not clipped (bicubic overshoots slightly at edges).

    Returns
    -------
    numpy.ndarray
        float32, ``(H // factor, W // factor[, 3])``.

    Examples
    --------
    >>> downscale(np.ones((10, 9)), 3).shape
    (3, 3)
    """
    factor = _P_FACTOR.parse(factor, where="downscale.")
    x = as_float_image(img)
    h, w = x.shape[0] // factor, x.shape[1] // factor
    if h < 1 or w < 1:
        raise ParameterError(f"image {x.shape[:2]} is too small to downscale by {factor}")
    x = x[: h * factor, : w * factor].astype(np.float64)
    mh, mw = _imresize_matrix(x.shape[0], factor), _imresize_matrix(x.shape[1], factor)
    out = np.tensordot(mh, x, axes=(1, 0))  # rows: (h, W[, C])
    out = np.moveaxis(np.tensordot(mw, out, axes=(1, 1)), 0, 1)  # columns: (h, w[, C])
    return np.ascontiguousarray(out, dtype=np.float32)


# --------------------------------------------------------------------------- the composable entry point

# degrade() has keywords named like these functions.
_blur, _downscale = blur, downscale


@dataclass
class Degraded:
    """Result of :func:`degrade`.

    Attributes
    ----------
    image : numpy.ndarray
        The degraded image, float32 (unclipped with ``protocol='float'``).
    mask : numpy.ndarray or None
        bool HxW, True where pixels are missing (on the output's geometry).
    kernel : numpy.ndarray or None
        The exact normalized blur kernel used.
    steps : list of str
        What was done, in order, e.g. ``['blur motion length=15 angle=30', 'noise gaussian sigma=25']``.
    spec : str
        The same as a compact spec (:func:`parse_degrade_spec` grammar); an
        array kernel or mask shows as ``<array HxW>``.
    seed : int
        The seed used (drawn at random and recorded when ``seed=None``).
    protocol : str
        ``'float'`` or ``'uint8'``.
    """

    image: np.ndarray
    mask: np.ndarray | None = None
    kernel: np.ndarray | None = None
    steps: list[str] = field(default_factory=list)
    spec: str = "none"
    seed: int = 0
    protocol: str = "float"


_SPEC_KEYS = ("noise", "blur", "blur_mode", "contrast", "downscale", "jpeg", "mask")


def _off(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value.strip().lower() in ("", "none", "off"))


def degrade(
    img,
    *,
    noise: str | Iterable[str] = (),
    blur: Any = None,
    blur_mode: str = "reflect",
    mask: Any = None,
    jpeg: int | None = None,
    downscale: int | None = None,
    seed: int | None = 0,
    protocol: str = "float",
    contrast: float | None = None,
) -> Degraded:
    """Degrade ``img`` in the fixed order blur -> contrast -> downscale -> noise -> JPEG -> mask.

    Parameters
    ----------
    img : array_like
        Clean image, HxW, HxWx3 or HxWx4 (alpha is only cropped/downscaled
        along, never degraded); uint8/uint16 are scaled to [0, 1].
    noise : str or list of str
        Noise specs (:data:`NOISES`), applied in the order given, e.g.
        ``['gaussian:25']`` or ``['poisson:30', 'gaussian:2']``.
    blur : array, str or path, optional
        Blur kernel: a spec (``'motion:15,30'``), an array or a kernel file.
    blur_mode : str
        Boundary handling of the blur (see :func:`blur`); ``'wrap'`` gives
        exactly the circular model FFT deconvolution assumes.
    mask : str or bool array, optional
        Missing pixels: a mask spec (:data:`MASKS`: ``'pixels:0.5'``,
        ``'lines:8,5'``, ``'box:0.25'``, ``'text:Hello'``) or an HxW array
        (True = missing) matching the output size. Missing pixels are set to 0.
    jpeg : int, optional
        JPEG quality 1..100.
    contrast : float, optional
        Contrast factor in (0, 1]: every value becomes ``0.5 + contrast * (x - 0.5)``, the
        tonal range shrunk toward mid-grey as by haze, flare or a flat scan (1 changes nothing).
    downscale : int, optional
        Integer factor (2, 3, 4, ...) for MATLAB-style bicubic downscaling
        (:func:`downscale`); ``None`` or 1 leaves the size alone.
    seed : int or None
        Seed of all randomness; every random step draws from its own stream
        ``derive_seed(seed, 'noise', i)`` / ``derive_seed(seed, 'mask')``, so
        e.g. adding JPEG does not move the mask. ``None`` draws a seed and
        records it in the result.
    protocol : {'float', 'uint8'}
        ``'float'``: result unclipped float32 (the published benchmark
        protocol). ``'uint8'``: clipped to [0, 1] and rounded to 8-bit levels
        at the end, like a saved 8-bit file.

    Returns
    -------
    Degraded
        Image, mask, kernel, human-readable steps, spec, seed and protocol.

    Examples
    --------
    >>> res = degrade(np.full((32, 32, 3), 0.5, np.float32), blur="motion:9,30", noise="gaussian:2",
    ...               mask="box:0.25", seed=0, protocol="uint8")
    >>> res.steps[0], res.image.shape, int(res.mask.sum())
    ('blur motion length=9 angle=30', (32, 32, 3), 256)
    """
    if protocol not in PROTOCOLS:
        raise ParameterError(f"protocol must be 'float' or 'uint8', got {protocol!r}")
    plan = _plan(
        noise=noise, blur=blur, blur_mode=blur_mode, mask=mask, jpeg=jpeg, downscale=downscale, contrast=contrast
    )
    if seed is None:
        seed = int(np.random.SeedSequence().generate_state(1, np.uint64)[0] >> np.uint64(1))
    elif isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ParameterError(f"seed must be a non-negative integer, got {seed!r}")
    seed = int(seed)

    x = as_float_image(img, allow_alpha=True)
    x, alpha = split_alpha(x)
    steps: list[str] = []
    kernel = None
    if plan["kernel"] is not None:
        kernel = plan["kernel"]
        x = _blur(x, kernel, mode=blur_mode)
        steps.append(f"blur {plan['blur_label']}" + (f" boundary={blur_mode}" if blur_mode != "reflect" else ""))
    if plan["contrast"] is not None:
        x = (np.float32(0.5) + np.float32(plan["contrast"]) * (x - np.float32(0.5))).astype(np.float32)
        steps.append(f"contrast x{plan['contrast']:g} toward mid-grey")
    if plan["downscale"]:
        f = plan["downscale"]
        x = _downscale(x, f)
        if alpha is not None:
            alpha = np.clip(_downscale(alpha, f), 0.0, 1.0)
        steps.append(f"downscale x{f} bicubic (MATLAB imresize)")
    for i, (name, bound) in enumerate(plan["noise"]):
        x = NOISES[name].func(x, **bound, rng=np.random.default_rng(derive_seed(seed, "noise", i)))
        steps.append(f"noise {label_declared(NOISES, name, bound)}")
    if plan["jpeg"] is not None:
        x = jpeg_compress(x, plan["jpeg"])
        steps.append(f"jpeg quality={plan['jpeg']}")
    out_mask = None
    if plan["mask"] is not None:
        if isinstance(plan["mask"], np.ndarray):
            out_mask = plan["mask"]
            if out_mask.shape != x.shape[:2]:
                raise ParameterError(f"mask shape {out_mask.shape} does not match the degraded image {x.shape[:2]}")
            label = "array"
        else:
            name, bound = plan["mask"]
            out_mask = MASKS[name].func(x.shape[:2], **bound, rng=np.random.default_rng(derive_seed(seed, "mask")))
            label = label_declared(MASKS, name, bound)
        x = apply_mask(x, out_mask)
        steps.append(f"mask {label} ({100 * out_mask.mean():.1f}% missing)")
    if protocol == "uint8":
        x = clip_round_8bit(x)
        steps.append("clip and round to 8 bits")
    image = join_alpha(np.asarray(x, dtype=np.float32), alpha)
    return Degraded(
        image=image, mask=out_mask, kernel=kernel, steps=steps, spec=plan["spec"], seed=seed, protocol=protocol
    )


def _plan(*, noise, blur, blur_mode, mask, jpeg, downscale, contrast=None) -> dict[str, Any]:
    """Validate every argument of :func:`degrade` before any work; returns the parsed plan and its spec."""
    if isinstance(noise, str):
        noise = [] if _off(noise) else [noise]
    if noise is None:
        noise = []
    try:
        noise = list(noise)
    except TypeError:
        raise ParameterError(f"noise must be a spec or a list of specs, got {type(noise).__name__}") from None
    parts: list[str] = []
    plan: dict[str, Any] = {
        "kernel": None,
        "noise": [],
        "mask": None,
        "jpeg": None,
        "downscale": None,
        "contrast": None,
    }
    if blur_mode not in BLUR_MODES:
        raise ParameterError(f"blur_mode must be one of {', '.join(BLUR_MODES)}; got {blur_mode!r}")
    if isinstance(blur, bytes):
        blur = blur.decode()
    if blur is not None and not (isinstance(blur, str) and _off(blur)):
        plan["kernel"] = resolve_kernel(blur)
        plan["blur_label"] = describe_kernel(blur)
        if not isinstance(blur, str) and not hasattr(blur, "__fspath__"):
            k = plan["kernel"]
            parts.append(f"blur=<array {k.shape[0]}x{k.shape[1]}>")
        elif plan["blur_label"].startswith("file "):
            parts.append(f"blur={str(blur).strip()}")
        else:
            parts.append("blur=" + format_declared(KERNELS, *parse_declared(KERNELS, blur, kind="kernel")))
        if blur_mode != "reflect":
            parts.append(f"blur_mode={blur_mode}")
    if contrast is not None and not (isinstance(contrast, str) and _off(contrast)):
        c = _P_CONTRAST.parse(contrast, where="contrast.")
        if c <= 0:
            raise ParameterError(f"contrast must be > 0 (0 would make a flat grey image); got {c:g}")
        if c < 1:
            plan["contrast"] = c
            parts.append(f"contrast={c:g}")
    if downscale is not None and not (isinstance(downscale, str) and _off(downscale)):
        f = _P_DOWNSCALE.parse(downscale, where="downscale.")
        if f > 1:
            plan["downscale"] = f
            parts.append(f"downscale={f}")
    for spec in noise:
        name, bound = parse_declared(NOISES, spec, kind="noise")
        plan["noise"].append((name, bound))
        parts.append(format_declared(NOISES, name, bound))
    if jpeg is not None and not (isinstance(jpeg, str) and _off(jpeg)):
        plan["jpeg"] = _P_JPEG.parse(jpeg, where="jpeg.")
        parts.append(f"jpeg={plan['jpeg']}")
    if isinstance(mask, np.ndarray):
        if mask.ndim != 2:
            raise ParameterError(f"mask must be a 2-D (HxW) array, got shape {mask.shape}")
        plan["mask"] = mask.astype(bool)
        parts.append(f"mask=<array {mask.shape[0]}x{mask.shape[1]}>")
    elif mask is not None and not (isinstance(mask, str) and _off(mask)):
        name, bound = parse_declared(MASKS, mask, kind="mask")
        if name == "text":
            if not bound["text"].strip() or not bound["text"].isascii() or not bound["text"].isprintable():
                raise ParameterError(f"mask text must be non-empty printable ASCII, got {bound['text']!r}")
        plan["mask"] = (name, bound)
        parts.append("mask=" + format_declared(MASKS, name, bound))
    plan["spec"] = "+".join(parts) or "none"
    return plan


_KEY_RE = re.compile(r"^\s*([A-Za-z][A-Za-z_-]*)\s*=(.*)$", re.S)


def parse_degrade_spec(text: str) -> dict[str, Any]:
    """Parse a compact degradation spec (grammar in the module docstring) into :func:`degrade` keywords.

    Every part is validated (one-line :class:`ParameterError` naming the part).

    Returns
    -------
    dict
        Keys ``noise`` (list of specs), ``blur``, ``blur_mode``, ``downscale``,
        ``jpeg``, ``mask``, ready for ``degrade(img, **spec, seed=..., protocol=...)``.

    Examples
    --------
    >>> parse_degrade_spec("blur=motion:15,30+gaussian:2")
    {'noise': ['gaussian:2'], 'blur': 'motion:15,30', 'blur_mode': 'reflect', 'downscale': None, 'jpeg': None, 'mask': None, 'contrast': None}
    """
    if not isinstance(text, str) or not text.strip():
        raise ParameterError(f"empty degradation spec {text!r}; e.g. 'gaussian:25' or 'blur=motion:15,30+gaussian:2'")
    out: dict[str, Any] = {
        "noise": [],
        "blur": None,
        "blur_mode": "reflect",
        "downscale": None,
        "jpeg": None,
        "mask": None,
        "contrast": None,
    }
    if text.strip().lower() == "none":
        return out
    seen: set[str] = set()
    for raw in text.split("+"):
        part = raw.strip()
        if not part:
            raise ParameterError(f"degradation spec '{text}': empty part (two '+' in a row or a trailing '+')")
        m = _KEY_RE.match(part)
        key, value = ("noise", part) if m is None else (m.group(1).lower().replace("-", "_"), m.group(2).strip())
        if key not in _SPEC_KEYS:
            raise ParameterError(
                f"degradation spec '{text}': unknown key '{m.group(1)}' "
                f"(known: {', '.join(_SPEC_KEYS)}; a bare part is a noise spec)"
            )
        if not value:
            raise ParameterError(f"degradation spec '{text}': '{key}=' needs a value")
        if key != "noise" and key in seen:
            raise ParameterError(f"degradation spec '{text}': '{key}' given twice")
        seen.add(key)
        try:
            if key == "noise":
                if value.partition(":")[0].strip().lower().replace("_", "-") in MASKS:
                    raise ParameterError(f"'{value}' is not a noise; write masks as mask={value}")
                parse_declared(NOISES, value, kind="noise")
                out["noise"].append(value)
            elif key == "blur":
                resolve_kernel(value)
                out["blur"] = value
            elif key == "blur_mode":
                if value not in BLUR_MODES:
                    raise ParameterError(f"blur_mode must be one of {', '.join(BLUR_MODES)}; got '{value}'")
                out["blur_mode"] = value
            elif key == "contrast":
                _plan(noise=(), blur=None, blur_mode="reflect", mask=None, jpeg=None, downscale=None, contrast=value)
                out["contrast"] = _P_CONTRAST.parse(value, where="contrast.")
            elif key == "downscale":
                out["downscale"] = _P_DOWNSCALE.parse(value, where="downscale.")
            elif key == "jpeg":
                out["jpeg"] = _P_JPEG.parse(value, where="jpeg.")
            else:
                _plan(noise=(), blur=None, blur_mode="reflect", mask=value, jpeg=None, downscale=None)
                out["mask"] = value
        except ParameterError as exc:
            raise ParameterError(f"degradation spec '{text}': {exc}") from None
    return out


def format_degrade_spec(
    *,
    noise: str | Iterable[str] = (),
    blur: Any = None,
    blur_mode: str = "reflect",
    mask: Any = None,
    jpeg: int | None = None,
    downscale: int | None = None,
    contrast: float | None = None,
) -> str:
    """The canonical compact spec of :func:`degrade` arguments (what ``Degraded.spec`` holds).

    Examples
    --------
    >>> format_degrade_spec(noise=["gaussian:sigma=25"], blur="motion:15,30", jpeg=30)
    'blur=motion:15,30+gaussian:25+jpeg=30'
    """
    return _plan(
        noise=noise, blur=blur, blur_mode=blur_mode, mask=mask, jpeg=jpeg, downscale=downscale, contrast=contrast
    )["spec"]
