"""Reading images: one reader for every format, with the pixel and size limits and the sniffing
of the real format from the bytes (see :func:`read`)."""

from __future__ import annotations

import os
import struct
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Iterator

import numpy as np

from imagewizard.core.arrays import to_gray
from imagewizard.core.errors import ImageReadError, ParameterError
from imagewizard.io.files import _os_reason, open_input
from imagewizard.core.quiet import captured
from imagewizard.core.arrays import FLOAT_LIMIT as FLOAT_LIMIT
from imagewizard.io.metadata import (
    DEFAULT_MAX_PIXELS,
    ImageInfo,
    MAX_PIXELS_ENV,
    _TAG_EXIF_IFD,
    _TAG_GPS_IFD,
    _TAG_ICC,
    _TAG_INTEROP_IFD,
    _TAG_ORIENTATION,
    _TIFF_EXIF_ASCII,
    _ascii_bytes,
    _dpi,
    _exif_meta,
    _one_line,
    _orient,
    _png_chunks,
)


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
    jpeg_quality: int | None = None
    jpeg_subsampling: str | None = None


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
        jpeg_quality=d.jpeg_quality,
        jpeg_subsampling=d.jpeg_subsampling,
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
    if im.format == "JPEG":
        meta.update(_jpeg_settings(im))
    return meta


# The IJG (libjpeg) standard luminance quantisation table; files made by libjpeg, Pillow, OpenCV and
# most cameras' firmware scale it by the quality setting.
_IJG_LUMA = np.array(
    [16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56,
     14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
     49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99]
)  # fmt: skip
_SAMPLING = {0: "4:4:4", 1: "4:2:2", 2: "4:2:0"}


def _ijg_table(quality: int) -> np.ndarray:
    scale = 5000 // quality if quality < 50 else 200 - 2 * quality
    return np.clip((_IJG_LUMA * scale + 50) // 100, 1, 255)


def _jpeg_settings(im) -> dict[str, Any]:
    """The quality (the IJG setting whose luminance table is closest) and chroma subsampling of a JPEG."""
    from PIL import JpegImagePlugin

    out: dict[str, Any] = {}
    tables = getattr(im, "quantization", None) or {}
    if 0 in tables and len(tables[0]) == 64:
        luma = np.sort(np.asarray(tables[0], dtype=np.int64))  # sorted: independent of the zigzag order
        errs = [float(np.abs(np.sort(_ijg_table(q)) - luma).mean()) for q in range(1, 101)]
        out["jpeg_quality"] = int(np.argmin(errs)) + 1
    sampling = JpegImagePlugin.get_sampling(im) if im.mode not in ("L", "1") else -1
    out["jpeg_subsampling"] = _SAMPLING.get(sampling)
    return out


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
