"""Formats, limits and what an image carries besides its pixels: :class:`ImageInfo`, EXIF,
ICC, DPI, orientation and PNG chunks (shared by the reader and the writer)."""

from __future__ import annotations

import re
import struct
import zlib
from contextlib import suppress
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from imagewizard.io.files import _os_reason


SUPPORTED_READ = frozenset({".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp", ".npy"})


SUPPORTED_WRITE = frozenset({".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp", ".npy"})


DEFAULT_MAX_PIXELS = 100_000_000


MAX_PIXELS_ENV = "IMAGEWIZARD_MAX_PIXELS"


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
    #: JPEG sources: the IJG quality whose tables the file uses (nearest), and the chroma subsampling
    jpeg_quality: int | None = None
    jpeg_subsampling: str | None = None

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
        if self.jpeg_quality is not None or self.jpeg_subsampling is not None:
            out.update(quality_setting=self.jpeg_quality, chroma_subsampling=self.jpeg_subsampling)
        out.update(_exif_highlights(self.exif))
        return out


def _exif_meta(raw: bytes | None) -> dict[str, Any]:
    if not raw:
        return {"exif": None, "orientation": None}
    blob = _EXIF_PREFIX + re.sub(b"^(Exif\x00\x00)+", b"", bytes(raw))
    blob, orientation = _exif_set_orientation(blob, 1)
    return {"exif": blob, "orientation": orientation}


def _ascii_bytes(value: str | bytes) -> bytes:
    """The stored bytes of an EXIF text tag: Pillow decodes them as Latin-1, so this is lossless
    (UTF-8 text written by cameras and editors survives instead of turning into '?')."""
    return value if isinstance(value, bytes) else value.encode("latin-1", "replace")


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


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def _png_chunks(png: bytes) -> Iterator[tuple[bytes, bytes]]:
    """(type, data) of each chunk after the signature; stops at a truncated chunk."""
    pos = 8
    while pos + 12 <= len(png):
        (n,) = struct.unpack(">I", png[pos : pos + 4])
        yield png[pos + 4 : pos + 8], png[pos + 8 : pos + 8 + n]
        pos += 12 + n
