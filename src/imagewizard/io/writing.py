"""Writing images: every format through the guarded atomic writer, keeping bit depth, alpha and
metadata where the format allows (see :func:`write`)."""

from __future__ import annotations

import os
import struct
import zlib
from contextlib import suppress
from io import BytesIO
from pathlib import Path
from typing import Any

import numpy as np

from imagewizard.core.arrays import as_float_image, split_alpha
from imagewizard.core.errors import ImageWriteError, ParameterError
from imagewizard.io.files import check_output
from imagewizard.io.files import atomic_write as _guarded_write
from imagewizard.io.metadata import (
    ImageInfo,
    SUPPORTED_WRITE,
    _ALPHA_FORMATS,
    _EXIF_PREFIX,
    _EXT_FORMAT,
    _FORMAT_DEPTHS,
    _TAG_EXIF_IFD,
    _TAG_GPS_IFD,
    _TAG_INTEROP_IFD,
    _TAG_ORIENTATION,
    _TIFF_EXIF_ASCII,
    _ascii_bytes,
    _exif_set_orientation,
    _one_line,
    _png_chunk,
    _png_chunks,
)


def write(
    path,
    img,
    *,
    like: ImageInfo | None = None,
    bit_depth: int | None = None,
    quality: int | None = None,
    subsampling: str | None = None,
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
    quality : int, optional
        JPEG/WebP quality 1-100; WebP at 100 is lossless. Default: a JPEG source's own quality
        (read from its quantisation tables, :attr:`ImageInfo.jpeg_quality`), at least 75, so a
        repaired photo stays about the size it was; else 95.
    subsampling : {'4:4:4', '4:2:2', '4:2:0'}, optional
        JPEG chroma subsampling. Default: a JPEG source's own; else 4:4:4 at quality 90 and above
        (4:2:0 visibly smears coloured detail), 4:2:0 below.
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
    quality, subsampling = output_settings(quality, subsampling, like)
    src_dtype = getattr(img, "dtype", None)
    arr = as_float_image(img, name="image", allow_alpha=True)
    colour, alpha = split_alpha(arr)
    if alpha is None and like is not None and like.alpha is not None:
        alpha = like.alpha
        (ah, aw), (ch, cw) = alpha.shape, colour.shape[:2]
        if (ah, aw) != (ch, cw):
            # the source's alpha for an image upscaled by an integer factor: resized on its own;
            # an image of any other size is not the source's, and gets none
            f = ch // ah if ah else 0
            if f >= 2 and (ch, cw) == (ah * f, aw * f):
                from imagewizard.physics.resize import resize_plane

                alpha = resize_plane(alpha, (ch, cw))
            else:
                alpha = None
    depth = _resolve_depth(fmt, bit_depth, like, src_dtype)
    if like is not None and like.path is not None and not overwrite and _same_file(p, Path(like.path)):
        raise ImageWriteError(
            f"refusing to overwrite the input file {p}; choose another output path or pass overwrite=True (--overwrite)"
        )
    check_output(p, what="image", replace=like.path if (overwrite and like is not None) else None)
    try:
        if fmt == "JPEG":
            data = _encode_jpeg(colour, None, depth, quality, like, subsampling=subsampling)
        else:
            data = _ENCODERS[fmt](colour, alpha if fmt in _ALPHA_FORMATS else None, depth, quality, like)
    except ParameterError:
        raise
    except Exception as e:
        raise ImageWriteError(f"cannot write {p}: encoding {fmt} failed ({_one_line(e)})") from None
    atomic_write(p, data, what="image", replace=like.path if (overwrite and like is not None) else None)
    return p


#: The lowest quality a JPEG source's own setting is followed down to (below, 75): re-encoding at a
#: poor source's quality would add a second generation of the same artefacts.
MIN_FOLLOWED_QUALITY = 75
SUBSAMPLINGS = ("4:4:4", "4:2:2", "4:2:0")


def output_settings(quality, subsampling, like: ImageInfo | None) -> tuple[int, str]:
    """The JPEG/WebP quality and JPEG subsampling to write with (see :func:`write`), checked."""
    if quality is None:
        src = like.jpeg_quality if like is not None else None
        quality = max(int(src), MIN_FOLLOWED_QUALITY) if src else 95
    if isinstance(quality, bool) or not isinstance(quality, (int, np.integer)) or not 1 <= quality <= 100:
        raise ParameterError(f"quality must be an integer from 1 to 100, got {quality!r}")
    if subsampling is None:
        src = like.jpeg_subsampling if like is not None else None
        subsampling = src or ("4:4:4" if quality >= 90 else "4:2:0")
    if subsampling not in SUBSAMPLINGS:
        raise ParameterError(f"subsampling must be one of {', '.join(SUBSAMPLINGS)}, got {subsampling!r}")
    return int(quality), subsampling


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


def _encode_jpeg(colour, alpha, depth, quality, like, subsampling: str = "4:2:0") -> bytes:
    a = _pixels(colour, None, 8)
    return _encode_pillow(
        "JPEG",
        a,
        quality=int(quality),
        subsampling=SUBSAMPLINGS.index(subsampling),  # Pillow: 0 = 4:4:4, 1 = 4:2:2, 2 = 4:2:0
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


def copy_unchanged(path, like: ImageInfo, *, overwrite: bool = False) -> Path | None:
    """Copy the source file ``like`` was read from to ``path`` byte for byte, when the formats match.

    For a result that is the input unchanged (a wizard plan with nothing to do): re-encoding would
    lose quality and metadata for nothing. Returns None (nothing written) when ``path`` asks for
    another format, or the source is not a plain file of known size; the caller then writes.
    """
    p = Path(path)
    src = Path(like.path) if like is not None and like.path is not None else None
    if src is None or _format_for(p) != like.format or not src.is_file() or src.stat().st_size != like.file_size:
        return None
    if not overwrite and _same_file(p, src):
        raise ImageWriteError(
            f"refusing to overwrite the input file {p}; choose another output path or pass overwrite=True (--overwrite)"
        )
    if overwrite and _same_file(p, src):
        return p  # the file already is the result
    check_output(p, what="image")
    return atomic_write(p, src.read_bytes(), what="image")


def atomic_write(p: Path, data: bytes, *, what: str = "output", replace=None) -> Path:
    """Write through the guard (:func:`imagewizard.io.files.atomic_write`): atomic, never over an input."""
    return _guarded_write(p, data, what=what, replace=replace)
