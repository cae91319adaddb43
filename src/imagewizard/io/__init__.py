"""Read and write image files safely.

:func:`read` returns float32 pixels (HxW gray or HxWx3 RGB, upright after the
EXIF orientation) and an :class:`ImageInfo` that carries everything needed to
write the result back faithfully: bit depth, alpha plane, EXIF, ICC profile and
resolution. :func:`write` is atomic and refuses to clobber the file it was
read from.

What is supported
-----------------
Read: PNG, JPEG, TIFF, BMP and WebP files (recognised by content, not by
extension) in modes 1-bit, gray, gray+alpha, palette (with or without
transparency), RGB and RGBA, 8 or 16 bits per sample; TIFF also 32-bit float
(kept unclipped); and ``.npy`` arrays (HxW, HxWx1, HxWx3 or HxWx4 of
float/uint8/uint16/bool; floats kept unclipped). Multi-page/animated files give
their first frame. Rejected with a one-line :class:`ImageReadError`: CMYK,
Lab and other colour spaces (converting them needs colour management this
module does not guess at), signed or 32-bit integer samples, and TIFFs with
more than one colour channel beyond RGB. TIFF compression is decoded by
tifffile, falling back to Pillow's libtiff (LZW, PackBits, JPEG) when the
optional ``imagecodecs`` package is missing; a 16-bit colour TIFF that only
Pillow could decode is refused rather than silently reduced to 8 bits.

Write: PNG (8/16 bit, alpha), TIFF (8/16/32-bit float, alpha), JPEG, BMP and
WebP (8 bit; WebP with alpha, ``quality=100`` means lossless) and ``.npy``
(float32, unclipped, alpha as a 4th channel). EXIF and ICC are copied from
``like`` into JPEG, PNG, WebP and TIFF.
"""

from __future__ import annotations

import fnmatch
import os
import re
import struct
import threading
import zlib
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO, Iterator

import numpy as np

from imagewizard.core.arrays import as_float_image, split_alpha, to_gray
from imagewizard.core.errors import ImageReadError, ImageWriteError, ParameterError
from imagewizard.io.files import _os_reason, check_output, open_input
from imagewizard.io.files import atomic_write as _guarded_write
from imagewizard.io.files import file_mode as file_mode
from imagewizard.core.quiet import captured

SUPPORTED_READ = frozenset({".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp", ".npy"})
SUPPORTED_WRITE = frozenset({".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp", ".npy"})
DEFAULT_MAX_PIXELS = 100_000_000
MAX_PIXELS_ENV = "IMAGEWIZARD_MAX_PIXELS"
#: Float images (TIFF, .npy) are read as stored, but values beyond this magnitude are no image
#: intensities (HDR radiance in [0, 1] units stays far below it) and would overflow the statistics.
from imagewizard.core.arrays import FLOAT_LIMIT as FLOAT_LIMIT  # noqa: E402 - one rule for files and arrays

_EXT_FORMAT = {
    ".png": "PNG",
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".tif": "TIFF",
    ".tiff": "TIFF",
    ".bmp": "BMP",
    ".webp": "WEBP",
    ".npy": "NPY",
}
# bit depths each format can store; the first is the default
_FORMAT_DEPTHS = {"PNG": (8, 16), "TIFF": (8, 16, 32), "JPEG": (8,), "BMP": (8,), "WEBP": (8,), "NPY": (32,)}
_ALPHA_FORMATS = {"PNG", "TIFF", "WEBP", "NPY"}
_EXIF_PREFIX = b"Exif\x00\x00"
_SKIP_NAMES = {"thumbs.db", "desktop.ini"}

# EXIF tags of a TIFF's first IFD that describe the picture rather than its pixel layout.
_TIFF_EXIF_ASCII = (270, 271, 272, 305, 306, 315, 316, 33432)  # description, make, model, ..., copyright
_TAG_ORIENTATION, _TAG_EXIF_IFD, _TAG_GPS_IFD, _TAG_INTEROP_IFD, _TAG_ICC = 274, 34665, 34853, 40965, 34675


@dataclass(eq=False)
class ImageInfo:
    """What :func:`read` learnt about a file, and what :func:`write` needs to reproduce it.

    ``width``/``height`` are those of the returned (upright) pixels. ``mode``
    is Pillow's mode string of the stored image where Pillow has one (``'P'``,
    ``'LA'``, ``'I;16'``), else a descriptive one (``'RGB;16'``, ``'RGBA;F'``).
    ``channels`` counts the file's colour channels (1 or 3) without alpha.
    ``exif`` starts with ``b'Exif\\0\\0'`` and has its orientation reset to 1;
    ``orientation`` keeps the original value.
    """

    path: Path | None
    format: str
    width: int
    height: int
    mode: str
    bit_depth: int
    channels: int
    has_alpha: bool = False
    alpha: np.ndarray | None = field(default=None, repr=False)
    exif: bytes | None = field(default=None, repr=False)
    icc_profile: bytes | None = field(default=None, repr=False)
    orientation: int | None = None
    dpi: tuple[float, float] | None = None
    frames: int = 1
    file_size: int | None = None

    def summary(self) -> dict[str, Any]:
        """Plain, JSON-serialisable facts for ``imagewizard info``."""
        out: dict[str, Any] = {
            "path": str(self.path) if self.path is not None else None,
            "format": self.format,
            "width": self.width,
            "height": self.height,
            "mode": self.mode,
            "bit_depth": self.bit_depth,
            "channels": self.channels,
            "alpha": self.has_alpha,
            "orientation": self.orientation,
            "dpi": [round(v, 2) for v in self.dpi] if self.dpi else None,
            "icc_profile": _icc_description(self.icc_profile),
            "exif_bytes": len(self.exif) if self.exif else 0,
            "frames": self.frames,
            "file_size": self.file_size,
        }
        out.update(_exif_highlights(self.exif))
        return out


# --------------------------------------------------------------------------- reading


def read(path, *, max_pixels: int | None = None, gray: bool = False) -> tuple[np.ndarray, ImageInfo]:
    """Read an image file as float32 pixels in [0, 1] plus its :class:`ImageInfo`.

    Parameters
    ----------
    path : str or path-like
        PNG, JPEG, TIFF, BMP, WebP or ``.npy`` file (the format is recognised
        from the content).
    max_pixels : int, optional
        Refuse images with more pixels than this (checked from the header,
        before decoding). Default: env var ``IMAGEWIZARD_MAX_PIXELS`` or
        100 megapixels.
    gray : bool
        Return the luminance (BT.601) as an HxW image.

    Returns
    -------
    img : numpy.ndarray
        float32, HxW or HxWx3, upright. Integer files are scaled to [0, 1];
        float TIFF and ``.npy`` values are kept as stored (may leave [0, 1]).
        Alpha is not included: see ``info.alpha``.
    info : ImageInfo

    Raises
    ------
    ImageReadError
        One line naming the file and the problem (missing, not an image,
        truncated, too large, unsupported mode, permission denied, ...).

    Examples
    --------
    >>> img, info = read("photo.jpg")                         # doctest: +SKIP
    >>> img.shape, info.bit_depth, info.orientation           # doctest: +SKIP
    ((3024, 4032, 3), 8, 6)
    """
    p = Path(path)
    limit = _resolve_max_pixels(max_pixels)
    fh = open_input(p, what="image")
    with fh:
        try:
            size = os.fstat(fh.fileno()).st_size
            head = fh.read(32)
        except OSError as e:
            raise ImageReadError(f"cannot read {p}: {_os_reason(e)}") from None
        if not head:
            raise ImageReadError(f"cannot read {p}: the file is empty")
        fmt = _sniff(head)
        if fmt is None:
            other = _sniff_other(head)
            what = f"{other} images are not supported" if other else "not an image file"
            raise ImageReadError(f"cannot read {p}: {what} (supported: PNG, JPEG, TIFF, BMP, WebP, .npy)")
        fh.seek(0)
        with captured() as said:
            try:
                d = _DECODERS[fmt](fh, p, limit)
                failure = None
            except ImageReadError as e:
                failure = e
            except MemoryError:
                failure = ImageReadError(f"cannot read {p}: not enough memory to decode it")
            except Exception as e:  # decoders raise many types for broken data
                failure = ImageReadError(f"cannot read {p}: corrupt or truncated {fmt} data ({_one_line(e)})")
        if failure is not None:
            raise _with_chatter(failure, said.first()) from None
    return _finish(d, p, fmt, size, gray)


@dataclass
class _Decoded:
    pixels: np.ndarray  # HxWxC, colour channels then (optionally) alpha
    has_alpha: bool
    scale: float | None  # divide by this to reach [0, 1]; None for float data
    bit_depth: int
    mode: str
    exif: bytes | None = None
    orientation: int | None = None
    icc: bytes | None = None
    dpi: tuple[float, float] | None = None
    frames: int = 1


def _finish(d: _Decoded, p: Path, fmt: str, size: int, gray: bool) -> tuple[np.ndarray, ImageInfo]:
    a = d.pixels
    if a.ndim == 2:
        a = a[:, :, None]
    a = _orient(a, d.orientation)
    if d.scale is None:
        a = a.astype(np.float32)
        if not np.isfinite(a).all():
            raise ImageReadError(f"cannot read {p}: it contains NaN or infinite values")
        peak = float(np.abs(a).max()) if a.size else 0.0
        if peak > FLOAT_LIMIT:
            raise ImageReadError(
                f"cannot read {p}: float values up to {peak:.3g} are not image intensities "
                f"(expected about 0 to 1; at most {FLOAT_LIMIT:g} is accepted)"
            )
    else:
        a = a.astype(np.float32)
        a /= np.float32(d.scale)
    alpha = None
    if d.has_alpha:
        alpha, a = np.ascontiguousarray(a[:, :, -1]), a[:, :, :-1]
    channels = a.shape[2]
    img = a[:, :, 0] if channels == 1 else a
    if gray:
        img = to_gray(img)
    info = ImageInfo(
        path=p,
        format=fmt,
        width=img.shape[1],
        height=img.shape[0],
        mode=d.mode,
        bit_depth=d.bit_depth,
        channels=channels,
        has_alpha=alpha is not None,
        alpha=alpha,
        exif=d.exif,
        icc_profile=d.icc or None,
        orientation=d.orientation,
        dpi=d.dpi,
        frames=d.frames,
        file_size=size,
    )
    return np.ascontiguousarray(img, dtype=np.float32), info


def _with_chatter(e: ImageReadError, said: str | None) -> ImageReadError:
    """The error, with what the decoder printed appended when it adds something."""
    msg = str(e)
    from imagewizard.core.errors import plain_text

    said = plain_text(said) if said else said
    if said and said.lower() not in msg.lower() and "no details given" not in said:
        msg = msg.rstrip() + f" [decoder: {said}]"
    if msg.count("\n"):
        msg = " ".join(msg.split())
    return ImageReadError(msg)


def _resolve_max_pixels(max_pixels: int | None) -> int:
    source = "max_pixels"
    if max_pixels is None:
        env = os.environ.get(MAX_PIXELS_ENV, "").strip()
        if not env:
            return DEFAULT_MAX_PIXELS
        source, max_pixels = MAX_PIXELS_ENV, env
    try:
        value = int(float(max_pixels))
    except (TypeError, ValueError, OverflowError):
        raise ParameterError(f"{source} must be a positive number of pixels, got {max_pixels!r}") from None
    if value <= 0:
        raise ParameterError(f"{source} must be a positive number of pixels, got {max_pixels!r}")
    return value


def _check_size(p: Path, width: int, height: int, limit: int) -> None:
    if width <= 0 or height <= 0:
        raise ImageReadError(f"cannot read {p}: zero-size image ({width}x{height} pixels)")
    if width * height > limit:
        raise ImageReadError(
            f"cannot read {p}: {width}x{height} = {width * height:,} pixels exceeds the limit of {limit:,} "
            f"(decompression-bomb guard; raise it with max_pixels or {MAX_PIXELS_ENV})"
        )


def _sniff(head: bytes) -> str | None:
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if head.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return "TIFF"
    if head.startswith(b"BM"):
        return "BMP"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    if head.startswith(b"\x93NUMPY"):
        return "NPY"
    return None


def _sniff_other(head: bytes) -> str | None:
    for magic, name in (
        (b"GIF8", "GIF"),
        (b"\x00\x00\x00\x0cjP", "JPEG 2000"),
        (b"8BPS", "Photoshop PSD"),
        (b"%PDF", "PDF"),
        (b"\x00\x00\x01\x00", "ICO"),
    ):
        if head.startswith(magic):
            return name
    if head[4:12] in (b"ftypheic", b"ftypheix", b"ftypmif1", b"ftypavif"):
        return "HEIF/AVIF"
    return None


_PIL_LOCK = threading.RLock()


@contextmanager
def _pillow_strict() -> Iterator[None]:
    """Pillow with truncated data refused and its own bomb limit out of the way.

    Our limit (checked from the header) is the one users configure; Pillow's
    global one would otherwise fire first with a different message. The
    globals are restored afterwards; the lock keeps concurrent reads from
    restoring each other's values.
    """
    from PIL import Image, ImageFile

    with _PIL_LOCK:
        saved = Image.MAX_IMAGE_PIXELS, ImageFile.LOAD_TRUNCATED_IMAGES
        Image.MAX_IMAGE_PIXELS, ImageFile.LOAD_TRUNCATED_IMAGES = None, False
        try:
            yield
        finally:
            Image.MAX_IMAGE_PIXELS, ImageFile.LOAD_TRUNCATED_IMAGES = saved


def _decode_pillow(fh: BinaryIO, p: Path, limit: int, fmt: str, tiff_bits: int | None = None) -> _Decoded:
    from PIL import Image

    head = fh.read(26)
    if fmt == "PNG" and len(head) >= 24:  # Pillow refuses a zero-size header without saying why
        _check_size(p, *struct.unpack(">II", head[16:24]), limit)
        if not _png_complete(fh):
            raise ImageReadError(f"cannot read {p}: truncated PNG file (no end chunk)")
    fh.seek(0)
    with _pillow_strict():
        try:
            im = Image.open(fh, formats=[fmt])
        except Image.UnidentifiedImageError:
            raise ImageReadError(f"cannot read {p}: corrupt or truncated {fmt} header") from None
        _check_size(p, *im.size, limit)
        frames = getattr(im, "n_frames", 1)
        mode = im.mode
        if fmt == "PNG" and head[24] == 16 and head[25] in (2, 4, 6):
            return _decode_png16(fh, p, im, head[25])  # Pillow would reduce these to 8 bits
        im.load()  # full decode now, so truncation is caught here and not later
        meta = _pillow_meta(im)
        if tiff_bits and tiff_bits > 8 and not (mode.startswith("I;16") or mode == "F"):
            raise ImageReadError(
                f"cannot read {p}: {tiff_bits}-bit colour TIFF with this compression needs the "
                f"'imagecodecs' package (pip install imagecodecs)"
            )
        arr, has_alpha, scale, depth = _pillow_pixels(im, p)
    return _Decoded(arr, has_alpha, scale, depth, mode, frames=frames, **meta)


def _png_complete(fh: BinaryIO) -> bool:
    """Whether the chunk chain reaches IEND: Pillow stops reading once it has the pixels."""
    end = os.fstat(fh.fileno()).st_size if hasattr(fh, "fileno") else None
    pos = 8
    while True:
        fh.seek(pos)
        h = fh.read(8)
        if len(h) < 8:
            return False
        (n,) = struct.unpack(">I", h[:4])
        if h[4:8] == b"IEND":
            return True
        pos += 12 + n
        if end is not None and pos > end:
            return False


def _decode_png16(fh: BinaryIO, p: Path, im, colour_type: int) -> _Decoded:
    import cv2

    fh.seek(0)
    data = fh.read()
    level = cv2.utils.logging.getLogLevel()
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
    try:
        a = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    finally:
        cv2.utils.logging.setLogLevel(level)
    if a is None or a.dtype != np.uint16:
        raise ImageReadError(f"cannot read {p}: corrupt or truncated PNG data (16-bit decode failed)")
    if a.ndim == 2:
        a = a[:, :, None]
    if colour_type == 4:  # OpenCV expands gray+alpha to BGRA
        a, mode = a[:, :, [0, 3]], "LA;16"
    elif colour_type == 6:
        a, mode = a[:, :, [2, 1, 0, 3]], "RGBA;16"
    else:
        a, mode = a[:, :, 2::-1], "RGB;16"
    meta = {"icc": im.info.get("icc_profile"), "dpi": _dpi(im.info.get("dpi"))}
    # an eXIf chunk after the pixel data is only seen by Pillow when it decodes them
    exif = im.info.get("exif") or next((d for k, d in _png_chunks(data) if k == b"eXIf"), None)
    meta.update(_exif_meta(exif))
    return _Decoded(a, colour_type in (4, 6), 65535.0, 16, mode, **meta)


def _pillow_meta(im) -> dict[str, Any]:
    meta: dict[str, Any] = {"icc": im.info.get("icc_profile"), "dpi": _dpi(im.info.get("dpi"))}
    meta.update(_exif_meta(im.info.get("exif")))
    return meta


def _exif_meta(raw: bytes | None) -> dict[str, Any]:
    if not raw:
        return {"exif": None, "orientation": None}
    blob = _EXIF_PREFIX + re.sub(b"^(Exif\x00\x00)+", b"", bytes(raw))
    blob, orientation = _exif_set_orientation(blob, 1)
    return {"exif": blob, "orientation": orientation}


def _pillow_pixels(im, p: Path) -> tuple[np.ndarray, bool, float | None, int]:
    mode = im.mode
    if mode in ("P", "PA"):
        mode = "RGBA" if mode == "PA" or "transparency" in im.info else "RGB"
        im = im.convert(mode)
    elif mode in ("L", "RGB") and "transparency" in im.info:
        mode = mode[0] + "A" if mode == "L" else "RGBA"
        im = im.convert(mode)
    elif mode in ("1", "La", "RGBa", "RGBX"):
        mode = {"1": "L", "La": "LA", "RGBa": "RGBA", "RGBX": "RGB"}[mode]
        im = im.convert(mode)
    elif mode == "YCbCr":
        mode = "RGB"
        im = im.convert(mode)
    if mode in ("L", "LA", "RGB", "RGBA"):
        return np.asarray(im), mode.endswith("A"), 255.0, 8
    if mode.startswith("I;16") and mode in ("I;16", "I;16L", "I;16B", "I;16N"):
        return np.asarray(im).astype(np.uint16), False, 65535.0, 16
    if mode == "F":
        return np.asarray(im, dtype=np.float32), False, None, 32
    hint = " (convert it to RGB with a colour-managed tool first)" if mode in ("CMYK", "LAB") else ""
    raise ImageReadError(f"cannot read {p}: unsupported image mode {im.mode}{hint}")


def _decode_npy(fh: BinaryIO, p: Path, limit: int) -> _Decoded:
    version = np.lib.format.read_magic(fh)
    read_header = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
    if version not in read_header:
        raise ImageReadError(f"cannot read {p}: unsupported .npy format version {version}")
    shape, _fortran, dtype = read_header[version](fh)
    ok_shape = len(shape) == 2 or (len(shape) == 3 and shape[2] in (1, 3, 4))
    if not ok_shape:
        raise ImageReadError(
            f"cannot read {p}: array of shape {shape} is not an image (expected HxW, HxWx1, HxWx3 or HxWx4)"
        )
    if dtype.kind not in "fub" or dtype.itemsize > 8 or (dtype.kind == "u" and dtype.itemsize > 2):
        raise ImageReadError(f"cannot read {p}: unsupported array dtype {dtype} (use float, uint8, uint16 or bool)")
    _check_size(p, shape[1], shape[0], limit)
    fh.seek(0)
    a = np.load(fh, allow_pickle=False)
    channels = 1 if a.ndim == 2 else a.shape[2]
    has_alpha = channels == 4
    colour = "L" if channels == 1 else "RGB"
    if dtype.kind == "f":
        scale, depth, mode = None, 32, ("F" if channels == 1 else colour + ("A" if has_alpha else "") + ";F")
    elif dtype.kind == "b":
        scale, depth, mode = 1.0, 8, "1" if channels == 1 else colour
    else:
        depth = 8 * dtype.itemsize
        scale = 255.0 if depth == 8 else 65535.0
        mode = colour + ("A" if has_alpha else "") + ("" if depth == 8 else ";16")
        mode = "I;16" if mode == "L;16" else mode
    return _Decoded(a, has_alpha, scale, depth, mode)


def _decode_tiff(fh: BinaryIO, p: Path, limit: int) -> _Decoded:
    import tifffile

    with tifffile.TiffFile(fh) as tif:
        frames = len(tif.pages)
        page = tif.pages.first
        _check_size(p, page.imagewidth, page.imagelength, limit)
        tags = page.tags
        orientation = _tag_value(tags, _TAG_ORIENTATION)
        icc = _tag_value(tags, _TAG_ICC)
        dpi = _tiff_dpi(tags)
        bits = page.bitspersample
        try:
            a, has_alpha, scale, depth, mode = _tiff_pixels(page, p)
        except ImageReadError:
            raise
        except Exception as e:  # e.g. a compression tifffile cannot decode without imagecodecs
            bad = f"corrupt, truncated or unsupported TIFF data ({_one_line(e)})"
            fh.seek(0)
            try:
                d = _decode_pillow(fh, p, limit, "TIFF", tiff_bits=bits)
            except ImageReadError as pe:
                if "imagecodecs" in str(pe):
                    raise
                raise ImageReadError(f"cannot read {p}: {bad}") from None
            except Exception:
                raise ImageReadError(f"cannot read {p}: {bad}") from None
            a, has_alpha, scale, depth, mode = d.pixels, d.has_alpha, d.scale, d.bit_depth, d.mode
    fh.seek(0)
    exif = _tiff_exif(fh)
    orientation = int(orientation) if orientation in range(1, 9) else None
    return _Decoded(
        a,
        has_alpha,
        scale,
        depth,
        mode,
        exif=exif,
        orientation=orientation,
        icc=bytes(icc) if icc is not None else None,
        dpi=dpi,
        frames=frames,
    )


def _tiff_pixels(page, p: Path) -> tuple[np.ndarray, bool, float | None, int, str]:
    from tifffile import PHOTOMETRIC

    photometric = PHOTOMETRIC(page.photometric)
    if photometric not in (
        PHOTOMETRIC.MINISBLACK,
        PHOTOMETRIC.MINISWHITE,
        PHOTOMETRIC.RGB,
        PHOTOMETRIC.PALETTE,
        PHOTOMETRIC.YCBCR,
    ):
        name = "CMYK" if photometric.name == "SEPARATED" else photometric.name
        hint = " (convert it to RGB with a colour-managed tool first)" if name in ("CMYK", "CIELAB") else ""
        raise ImageReadError(f"cannot read {p}: unsupported TIFF colour space {name}{hint}")
    if page.subfiletype & 1:  # FILETYPE.REDUCEDIMAGE, e.g. the preview in front of a DNG's raw data
        raise ImageReadError(
            f"cannot read {p}: the first TIFF page is a reduced-size preview (camera raw files are not supported)"
        )
    if page.dtype is None:
        raise NotImplementedError(f"tifffile cannot decode {page.bitspersample}-bit samples")
    spp, bits, kind = page.samplesperpixel, page.bitspersample, np.dtype(page.dtype).kind
    extras = tuple(page.extrasamples or ())
    if kind == "i" or (kind == "u" and bits > 16) or kind not in "fub":
        raise ImageReadError(f"cannot read {p}: unsupported TIFF sample format ({page.dtype}, {bits}-bit)")
    if photometric == PHOTOMETRIC.YCBCR:
        # tifffile only converts JPEG-compressed YCbCr (with imagecodecs); Pillow's libtiff does all
        raise NotImplementedError("YCbCr TIFF is decoded by Pillow")
    colour = 3 if photometric == PHOTOMETRIC.RGB else 1
    if len(extras) > 1 and not (len(extras) == 2 and any(e in (1, 2) for e in extras) and spp == colour + 2):
        raise ImageReadError(
            f"cannot read {p}: TIFF with {spp} channels per pixel ({colour} colour + "
            f"{len(extras)} extra) is not supported (multispectral or layered data)"
        )
    if spp - colour != len(extras) or spp < colour:
        raise ImageReadError(
            f"cannot read {p}: TIFF with {spp} samples per pixel as {photometric.name} is not supported"
        )
    a = page.asarray()
    axes = page.axes
    if "S" in axes and axes.index("S") == 0:  # planar configuration
        a = np.moveaxis(a, 0, -1)
        axes = axes[1:] + "S"
    if axes not in ("YX", "YXS"):
        raise ImageReadError(f"cannot read {p}: TIFF page with axes {page.axes} is not a 2-D image")
    if a.ndim == 2:
        a = a[:, :, None]
    alpha_at = next((i for i, e in enumerate(extras) if e in (1, 2)), None)  # associated/unassociated alpha
    keep = list(range(colour)) + ([colour + alpha_at] if alpha_at is not None else [])
    a = a[:, :, keep]
    has_alpha = alpha_at is not None
    if photometric == PHOTOMETRIC.PALETTE:
        cmap = np.asarray(page.colormap)
        rgb = cmap.T[a[:, :, 0].astype(np.intp)]
        if (cmap % 256 == 0).all() or (cmap % 257 == 0).all():  # 8-bit palette in TIFF's 16-bit colormap
            return (rgb >> 8).astype(np.uint8), False, 255.0, 8, "P"
        return rgb, False, 65535.0, 16, "P"
    if kind == "b":
        if photometric == PHOTOMETRIC.MINISWHITE:
            a = ~a
        return a, False, 1.0, 8, "1"
    if kind == "f":
        if photometric == PHOTOMETRIC.MINISWHITE:
            raise ImageReadError(f"cannot read {p}: float TIFF with inverted (min-is-white) gray is not supported")
        base = ("L" if colour == 1 else "RGB") + ("A" if has_alpha else "")
        return a, has_alpha, None, 32, "F" if base == "L" else base + ";F"
    maxval = float(2**bits - 1)
    if photometric == PHOTOMETRIC.MINISWHITE:
        a = a.copy()
        a[:, :, 0] = maxval - a[:, :, 0]
    depth = 8 if bits <= 8 else 16
    base = ("L" if colour == 1 else "RGB") + ("A" if has_alpha else "")
    mode = base if depth == 8 else ("I;16" if base == "L" else base + ";16")
    return a, has_alpha, maxval, depth, mode


def _tag_value(tags, code: int):
    tag = tags.get(code)
    return None if tag is None else tag.value


def _tiff_dpi(tags) -> tuple[float, float] | None:
    x, y, unit = (_tag_value(tags, c) for c in (282, 283, 296))
    if x is None or y is None:
        return None
    unit = int(unit) if unit is not None else 2
    if unit not in (2, 3):  # no absolute unit
        return None
    try:
        xv, yv = (v[0] / v[1] if isinstance(v, tuple) else float(v) for v in (x, y))
    except (ZeroDivisionError, TypeError, IndexError):
        return None
    f = 2.54 if unit == 3 else 1.0
    return (xv * f, yv * f) if xv > 0 and yv > 0 else None


def _tiff_exif(fh: BinaryIO) -> bytes | None:
    """EXIF bytes from a TIFF's own tags: descriptive IFD0 tags plus the EXIF/GPS sub-IFDs."""
    from PIL import Image

    try:
        src = Image.Exif()
        src.load_from_fp(fh)
        out = Image.Exif()
        for tag in _TIFF_EXIF_ASCII:
            value = src.get(tag)
            if isinstance(value, str) and not (tag == 270 and _is_machine_description(value)):
                out[tag] = _ascii_bytes(value)
        if src.get(_TAG_ORIENTATION) is not None:
            out[_TAG_ORIENTATION] = 1
        for tag in (_TAG_EXIF_IFD, _TAG_GPS_IFD):
            if tag in src:
                sub = dict(src.get_ifd(tag))
                if tag == _TAG_EXIF_IFD and _TAG_INTEROP_IFD in sub:
                    sub[_TAG_INTEROP_IFD] = dict(src.get_ifd(_TAG_INTEROP_IFD))
                if sub:
                    out[tag] = sub
        if not (set(out) - {305, _TAG_ORIENTATION}):  # nothing beyond the writer's name
            return None
        return out.tobytes()
    except Exception:  # EXIF is a courtesy: a broken block must not make the pixels unreadable
        return None


def _ascii_bytes(value: str | bytes) -> bytes:
    """The stored bytes of an EXIF text tag: Pillow decodes them as Latin-1, so this is lossless
    (UTF-8 text written by cameras and editors survives instead of turning into '?')."""
    return value if isinstance(value, bytes) else value.encode("latin-1", "replace")


def _is_machine_description(text: str) -> bool:
    return text.lstrip().startswith("{") or text.startswith("ImageJ=")


_DECODERS = {
    "PNG": lambda fh, p, limit: _decode_pillow(fh, p, limit, "PNG"),
    "JPEG": lambda fh, p, limit: _decode_pillow(fh, p, limit, "JPEG"),
    "BMP": lambda fh, p, limit: _decode_pillow(fh, p, limit, "BMP"),
    "WEBP": lambda fh, p, limit: _decode_pillow(fh, p, limit, "WEBP"),
    "TIFF": _decode_tiff,
    "NPY": _decode_npy,
}


def _orient(a: np.ndarray, orientation: int | None) -> np.ndarray:
    """Apply an EXIF orientation to HxWxC pixels (same result as ``PIL.ImageOps.exif_transpose``)."""
    if orientation == 2:
        return a[:, ::-1]
    if orientation == 3:
        return a[::-1, ::-1]
    if orientation == 4:
        return a[::-1]
    if orientation == 5:
        return a.swapaxes(0, 1)
    if orientation == 6:
        return np.rot90(a, -1)
    if orientation == 7:
        return np.rot90(a, 2).swapaxes(0, 1)
    if orientation == 8:
        return np.rot90(a, 1)
    return a


def _exif_set_orientation(blob: bytes, value: int) -> tuple[bytes, int | None]:
    """Return ``blob`` with IFD0's Orientation set to ``value``, and the old orientation.

    Patched in place rather than re-serialised so that maker notes, which use
    absolute offsets, stay valid.
    """
    start = len(_EXIF_PREFIX) if blob.startswith(_EXIF_PREFIX) else 0
    t = memoryview(blob)[start:]
    if len(t) < 8 or bytes(t[:2]) not in (b"II", b"MM"):
        return blob, None
    e = "<" if bytes(t[:2]) == b"II" else ">"
    try:
        (ifd,) = struct.unpack_from(e + "I", t, 4)
        (n,) = struct.unpack_from(e + "H", t, ifd)
        for i in range(n):
            pos = ifd + 2 + 12 * i
            tag, typ, count = struct.unpack_from(e + "HHI", t, pos)
            if tag == _TAG_ORIENTATION and typ == 3 and count >= 1:
                (old,) = struct.unpack_from(e + "H", t, pos + 8)
                buf = bytearray(blob)
                struct.pack_into(e + "H", buf, start + pos + 8, value)
                return bytes(buf), (old if 1 <= old <= 8 else None)
    except struct.error:
        pass
    return blob, None


def _dpi(value) -> tuple[float, float] | None:
    try:
        x, y = (float(v) for v in value)
    except (TypeError, ValueError):
        return None
    return (x, y) if x > 0 and y > 0 else None


def _one_line(e: BaseException) -> str:
    """A library exception as one line of plain text; never its class name."""
    text = str(e).strip().splitlines()
    msg = " ".join(text[0].split()) if text else "no details given"
    if isinstance(e, OSError) and e.errno is not None and e.strerror:
        msg = _os_reason(e)
    return msg if len(msg) <= 200 else msg[:197] + "..."


def _icc_description(icc: bytes | None) -> str | None:
    if not icc:
        return None
    try:
        from PIL import ImageCms

        desc = ImageCms.getProfileDescription(ImageCms.ImageCmsProfile(BytesIO(icc))).strip()
        return f"{desc} ({len(icc)} bytes)" if desc else f"{len(icc)} bytes"
    except Exception:
        return f"{len(icc)} bytes"


def _exif_highlights(exif: bytes | None) -> dict[str, str]:
    if not exif:
        return {}
    from PIL import Image

    out: dict[str, str] = {}
    with suppress(Exception):
        ex = Image.Exif()
        ex.load(exif)
        camera = " ".join(str(ex.get(t, "")).strip("\x00 ") for t in (271, 272)).strip()
        if camera:
            out["camera"] = camera
        taken = ex.get_ifd(_TAG_EXIF_IFD).get(36867) or ex.get(306)
        if taken:
            out["taken"] = str(taken).strip("\x00 ")
    return out


# --------------------------------------------------------------------------- writing


def write(
    path,
    img,
    *,
    like: ImageInfo | None = None,
    bit_depth: int | None = None,
    quality: int = 95,
    overwrite: bool = False,
) -> Path:
    """Write an image atomically; the format comes from the extension.

    Parameters
    ----------
    path : str or path-like
        ``.png``, ``.jpg``/``.jpeg``, ``.tif``/``.tiff``, ``.bmp``, ``.webp``
        or ``.npy``. Parent folders are created.
    img : array_like
        HxW, HxWx3 or HxWx4 (RGBA); float (clipped to [0, 1] and rounded for
        integer formats) or uint8/uint16.
    like : ImageInfo, optional
        The source's info: its alpha plane (when the size matches), EXIF, ICC
        profile, resolution and bit depth are carried over.
    bit_depth : {8, 16, 32}, optional
        8 or 16 (PNG, TIFF), 32 = float32 (TIFF). Default: the source's depth
        where the format can store it (16-bit stays 16-bit, float TIFF stays
        float), else 8; ``.npy`` is always float32 and unclipped.
    quality : int
        JPEG/WebP quality 1-100; WebP at 100 is lossless.
    overwrite : bool
        Allow replacing the file ``like`` was read from.

    Returns
    -------
    pathlib.Path
        The written path.

    Examples
    --------
    >>> img, info = read("scan.tif")                              # doctest: +SKIP
    >>> write("scan-clean.tif", img, like=info)                   # doctest: +SKIP
    PosixPath('scan-clean.tif')
    """
    p = Path(path)
    fmt = _format_for(p)
    if isinstance(quality, bool) or not isinstance(quality, (int, np.integer)) or not 1 <= quality <= 100:
        raise ParameterError(f"quality must be an integer from 1 to 100, got {quality!r}")
    src_dtype = getattr(img, "dtype", None)
    arr = as_float_image(img, name="image", allow_alpha=True)
    colour, alpha = split_alpha(arr)
    if alpha is None and like is not None and like.alpha is not None and like.alpha.shape == colour.shape[:2]:
        alpha = like.alpha
    depth = _resolve_depth(fmt, bit_depth, like, src_dtype)
    if like is not None and like.path is not None and not overwrite and _same_file(p, Path(like.path)):
        raise ImageWriteError(
            f"refusing to overwrite the input file {p}; choose another output path or pass overwrite=True (--overwrite)"
        )
    check_output(p, what="image", replace=like.path if (overwrite and like is not None) else None)
    try:
        data = _ENCODERS[fmt](colour, alpha if fmt in _ALPHA_FORMATS else None, depth, quality, like)
    except ParameterError:
        raise
    except Exception as e:
        raise ImageWriteError(f"cannot write {p}: encoding {fmt} failed ({_one_line(e)})") from None
    atomic_write(p, data, what="image", replace=like.path if (overwrite and like is not None) else None)
    return p


def _format_for(p: Path) -> str:
    fmt = _EXT_FORMAT.get(p.suffix.lower())
    if fmt is None:
        supported = ", ".join(sorted(SUPPORTED_WRITE))
        what = f"unknown extension '{p.suffix}'" if p.suffix else "no file extension"
        raise ImageWriteError(f"cannot write {p}: {what} (supported: {supported})")
    return fmt


def check_image_output(path, *, what: str = "output", replace=None) -> Path:
    """Refuse an image output before any work: unknown format, an input's path, a blocked folder.

    ``replace`` names the one input the output may replace (``--overwrite``).
    """
    p = Path(path)
    _format_for(p)
    return check_output(p, what=what, replace=replace)


def _resolve_depth(fmt: str, bit_depth: int | None, like: ImageInfo | None, src_dtype) -> int:
    allowed = _FORMAT_DEPTHS[fmt]
    if bit_depth is not None:
        if isinstance(bit_depth, bool) or bit_depth not in allowed:
            choices = ", ".join(map(str, allowed))
            raise ParameterError(f"bit_depth={bit_depth!r} is not possible for {fmt} (choose {choices})")
        return int(bit_depth)
    if fmt == "NPY":
        return 32
    source = like.bit_depth if like is not None else (16 if src_dtype == np.uint16 else 8)
    return source if source in allowed else allowed[0]


def _same_file(target: Path, source: Path) -> bool:
    with suppress(OSError):
        if target.resolve() == source.resolve():
            return True
    try:
        return os.path.samefile(target, source)
    except OSError:
        return False


def _to_uint(x: np.ndarray, depth: int) -> np.ndarray:
    maxv = np.float32(255 if depth == 8 else 65535)
    out = np.clip(x, 0.0, 1.0) * maxv
    out += np.float32(0.5)  # round half up, not truncate
    np.floor(out, out=out)
    return out.astype(np.uint8 if depth == 8 else np.uint16)


def _pixels(colour: np.ndarray, alpha: np.ndarray | None, depth: int) -> np.ndarray:
    """HxWxC array in the output sample type: colour channels then alpha."""
    a = colour if colour.ndim == 3 else colour[:, :, None]
    if alpha is not None:
        a = np.concatenate([a, np.asarray(alpha, np.float32)[:, :, None]], axis=2)
    return a.astype(np.float32, copy=False) if depth == 32 else _to_uint(a, depth)


def _icc_for(like: ImageInfo | None, channels: int) -> bytes | None:
    """The source's ICC profile if it describes the colour space being written."""
    icc = like.icc_profile if like is not None else None
    if not icc or len(icc) < 128:
        return None
    want = b"GRAY" if channels == 1 else b"RGB "
    return icc if icc[16:20] == want else None


def _exif_for(like: ImageInfo | None) -> bytes | None:
    if like is None or not like.exif:
        return None
    return _exif_set_orientation(like.exif, 1)[0]


def _encode_pillow(fmt: str, a: np.ndarray, **kw: Any) -> bytes:
    from PIL import Image

    im = Image.fromarray(a[:, :, 0] if a.shape[2] == 1 else a)
    buf = BytesIO()
    im.save(buf, fmt, **{k: v for k, v in kw.items() if v is not None})
    return buf.getvalue()


def _encode_jpeg(colour, alpha, depth, quality, like) -> bytes:
    a = _pixels(colour, None, 8)
    # 4:2:0 chroma subsampling visibly smears coloured detail; skip it when quality is asked for
    subsampling = 0 if quality >= 90 else None
    return _encode_pillow(
        "JPEG",
        a,
        quality=int(quality),
        subsampling=subsampling,
        exif=_exif_for(like),
        icc_profile=_icc_for(like, a.shape[2]),
        dpi=like.dpi if like else None,
    )


def _encode_bmp(colour, alpha, depth, quality, like) -> bytes:
    return _encode_pillow("BMP", _pixels(colour, None, 8), dpi=like.dpi if like else None)


def _encode_webp(colour, alpha, depth, quality, like) -> bytes:
    if colour.ndim == 2:  # WebP stores RGB only
        colour = np.repeat(colour[:, :, None], 3, axis=2)
    a = _pixels(colour, alpha, 8)
    exif = _exif_for(like)
    return _encode_pillow(
        "WEBP",
        a,
        quality=int(quality),
        lossless=quality == 100,
        method=4,
        exact=True,  # keep colours under transparent pixels: alpha is carried untouched
        exif=exif[len(_EXIF_PREFIX) :] if exif else None,
        icc_profile=_icc_for(like, 3),
    )


def _encode_png(colour, alpha, depth, quality, like) -> bytes:
    a = _pixels(colour, alpha, depth)
    channels = 1 if colour.ndim == 2 else 3
    icc, exif = _icc_for(like, channels), _exif_for(like)
    dpi = like.dpi if like else None
    if depth == 8:
        return _encode_pillow("PNG", a, icc_profile=icc, exif=exif, dpi=dpi)
    # Pillow cannot write 16-bit colour or gray+alpha: encode pixels elsewhere, add metadata chunks ourselves
    if a.shape[2] == 2:
        png = _png_encode_raw(a)
    else:
        import cv2

        bgr = a if a.shape[2] == 1 else a[:, :, [2, 1, 0, 3][: a.shape[2]]]
        ok, enc = cv2.imencode(".png", np.ascontiguousarray(bgr), [cv2.IMWRITE_PNG_COMPRESSION, 6])
        if not ok:
            raise RuntimeError("OpenCV could not encode the 16-bit PNG")
        png = enc.tobytes()
    chunks = []
    if icc:
        chunks.append((b"iCCP", b"ICC Profile\x00\x00" + zlib.compress(icc)))
    if dpi:
        ppm = [max(1, round(v / 0.0254)) for v in dpi]
        chunks.append((b"pHYs", struct.pack(">IIB", ppm[0], ppm[1], 1)))
    if exif:
        chunks.append((b"eXIf", exif[len(_EXIF_PREFIX) :]))
    return _png_insert_chunks(png, chunks)


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def _png_chunks(png: bytes) -> Iterator[tuple[bytes, bytes]]:
    """(type, data) of each chunk after the signature; stops at a truncated chunk."""
    pos = 8
    while pos + 12 <= len(png):
        (n,) = struct.unpack(">I", png[pos : pos + 4])
        yield png[pos + 4 : pos + 8], png[pos + 8 : pos + 8 + n]
        pos += 12 + n


def _png_insert_chunks(png: bytes, chunks: list[tuple[bytes, bytes]]) -> bytes:
    """Insert chunks right after IHDR (where iCCP must be), dropping ones they replace or conflict with."""
    replaced = {k for k, _ in chunks}
    if b"iCCP" in replaced:
        replaced |= {b"sRGB", b"gAMA", b"cHRM"}
    out = [png[:8]]
    for kind, data in _png_chunks(png):
        if kind not in replaced:
            out.append(_png_chunk(kind, data))
        if kind == b"IHDR":
            out += [_png_chunk(k, d) for k, d in chunks]
    return b"".join(out)


def _png_encode_raw(a: np.ndarray) -> bytes:
    """Minimal 16-bit gray+alpha PNG (no filtering), a layout neither Pillow nor OpenCV writes."""
    h, w = a.shape[:2]
    rows = a.astype(">u2").reshape(h, -1).view(np.uint8)
    raw = np.concatenate([np.zeros((h, 1), np.uint8), rows], axis=1)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, 4, 0, 0, 0))
        + _png_chunk(b"IDAT", zlib.compress(raw.tobytes(), 6))
        + _png_chunk(b"IEND", b"")
    )


def _encode_tiff(colour, alpha, depth, quality, like) -> bytes:
    import tifffile

    a = _pixels(colour, alpha, depth)
    channels = 1 if colour.ndim == 2 else 3
    kw: dict[str, Any] = {
        "photometric": "minisblack" if channels == 1 else "rgb",
        # float mantissas barely compress without the float predictor (which needs imagecodecs):
        # zlib saved ~12% at 30x the time on a 6-megapixel photo, so float TIFF is stored raw
        "compression": None if depth == 32 else "zlib",
        "predictor": depth != 32,
        "metadata": None,
        "iccprofile": _icc_for(like, channels),
    }
    if alpha is not None:
        kw["extrasamples"] = ("unassalpha",)
    if like is not None and like.dpi:
        kw["resolution"], kw["resolutionunit"] = like.dpi, "INCH"
    ifd0, subifds = _tiff_exif_tags(_exif_for(like))
    kw.update(ifd0)
    data = a[:, :, 0] if a.shape[2] == 1 else a
    buf = BytesIO()
    tifffile.imwrite(buf, data, byteorder="<", bigtiff=False, **kw)
    tiff = buf.getvalue()
    return _tiff_attach_subifds(tiff, subifds) if subifds else tiff


def _tiff_exif_tags(exif: bytes | None) -> tuple[dict[str, Any], dict[int, dict]]:
    """tifffile keyword arguments for EXIF's IFD0 tags, and the EXIF/GPS sub-IFDs to append."""
    if not exif:
        return {}, {}
    from PIL import Image

    ex = Image.Exif()
    try:
        ex.load(exif)
    except Exception:
        return {}, {}
    kw: dict[str, Any] = {}
    extratags = []
    for tag in _TIFF_EXIF_ASCII:
        value = ex.get(tag)
        if isinstance(value, (str, bytes)) and _ascii_bytes(value).strip(b"\x00"):
            extratags.append((tag, "s", 0, _ascii_bytes(value).rstrip(b"\x00"), True))
            if tag == 305:
                kw["software"] = False  # the source's Software tag replaces tifffile's own
    if ex.get(_TAG_ORIENTATION) is not None:
        extratags.append((_TAG_ORIENTATION, "H", 1, 1, True))
    subifds: dict[int, dict] = {}
    for tag in (_TAG_EXIF_IFD, _TAG_GPS_IFD):
        with suppress(Exception):
            sub = dict(ex.get_ifd(tag))
            if tag == _TAG_EXIF_IFD and _TAG_INTEROP_IFD in sub and not isinstance(sub[_TAG_INTEROP_IFD], dict):
                sub[_TAG_INTEROP_IFD] = dict(ex.get_ifd(_TAG_INTEROP_IFD))
            if sub:
                subifds[tag] = sub
    if extratags:
        kw["extratags"] = extratags
    return kw, subifds


def _tiff_attach_subifds(tiff: bytes, subifds: dict[int, dict]) -> bytes:
    """Append EXIF/GPS sub-IFDs and a copy of IFD0 that points at them.

    tifffile refuses to write these pointer tags and Pillow cannot write 16-bit
    colour or float pixels, so Pillow serialises the sub-IFDs and IFD0 is
    extended here. The old IFD0's out-of-line values stay where they are, so
    its entries can be copied verbatim; the header then points at the copy.
    """
    from PIL.TiffImagePlugin import ImageFileDirectory_v2

    buf = bytearray(tiff)
    (ifd0,) = struct.unpack_from("<I", buf, 4)
    (n,) = struct.unpack_from("<H", buf, ifd0)
    entries = {
        struct.unpack_from("<H", buf, ifd0 + 2 + 12 * i)[0]: bytes(buf[ifd0 + 2 + 12 * i : ifd0 + 14 + 12 * i])
        for i in range(n)
    }
    next_ifd = bytes(buf[ifd0 + 2 + 12 * n : ifd0 + 6 + 12 * n])
    for tag, values in subifds.items():
        ifd = ImageFileDirectory_v2(ifh=b"II*\x00\x08\x00\x00\x00", group=tag)
        for k, v in values.items():
            with suppress(Exception):  # a tag Pillow cannot re-type is dropped, not fatal
                ifd[k] = v
        buf += b"\x00" * (len(buf) % 2)
        offset = len(buf)
        buf += ifd.tobytes(offset)
        entries[tag] = struct.pack("<HHII", tag, 4, 1, offset)  # LONG offset, as EXIF writers use
    buf += b"\x00" * (len(buf) % 2)
    new_ifd0 = len(buf)
    buf += struct.pack("<H", len(entries)) + b"".join(entries[t] for t in sorted(entries)) + next_ifd
    struct.pack_into("<I", buf, 4, new_ifd0)
    return bytes(buf)


def _encode_npy(colour, alpha, depth, quality, like) -> bytes:
    a = colour.astype(np.float32, copy=False)
    if alpha is not None:
        a = _pixels(colour, alpha, 32)
    buf = BytesIO()
    np.save(buf, np.ascontiguousarray(a), allow_pickle=False)
    return buf.getvalue()


_ENCODERS = {
    "PNG": _encode_png,
    "JPEG": _encode_jpeg,
    "TIFF": _encode_tiff,
    "BMP": _encode_bmp,
    "WEBP": _encode_webp,
    "NPY": _encode_npy,
}


def atomic_write(p: Path, data: bytes, *, what: str = "output", replace=None) -> Path:
    """Write through the guard (:func:`imagewizard.io.files.atomic_write`): atomic, never over an input."""
    return _guarded_write(p, data, what=what, replace=replace)


# --------------------------------------------------------------------------- folders


def list_images(folder, recursive: bool = True, pattern: str | None = None) -> list[Path]:
    """Image files in ``folder`` with a readable extension, sorted.

    Hidden files and folders (names starting with ``.``) and ``Thumbs.db``
    are skipped. ``pattern`` is a glob matched against the file name, or,
    when it contains ``/``, against the path relative to ``folder`` (``*``
    does not cross folders: ``'raw/*.tif'``).

    Examples
    --------
    >>> list_images("photos", pattern="*.jpg")                  # doctest: +SKIP
    [PosixPath('photos/a.jpg'), PosixPath('photos/trip/b.jpg')]
    """
    root = Path(folder)
    if not root.exists():
        raise ImageReadError(f"cannot list {root}: folder not found")
    if not root.is_dir():
        raise ImageReadError(f"cannot list {root}: not a folder")
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")] if recursive else []
        for name in filenames:
            if name.startswith(".") or name.lower() in _SKIP_NAMES:
                continue
            if os.path.splitext(name)[1].lower() not in SUPPORTED_READ:
                continue
            path = Path(dirpath, name)
            if pattern is not None and not _matches(path.relative_to(root), pattern):
                continue
            if path.is_file():
                found.append(path)
    return sorted(found)


def _matches(rel: Path, pattern: str) -> bool:
    if "/" not in pattern:
        return fnmatch.fnmatchcase(rel.name, pattern)
    rel_posix, pat = PurePosixPath(rel.as_posix()), PurePosixPath(pattern)
    return len(rel_posix.parts) == len(pat.parts) and rel_posix.match(pattern)
