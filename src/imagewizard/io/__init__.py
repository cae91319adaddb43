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

The package: ``metadata`` (formats, ImageInfo, EXIF/ICC), ``reading``, ``writing``, ``folders``, and
``files`` (the guarded reader and atomic writer every file goes through).
"""

from __future__ import annotations

from imagewizard.io.metadata import DEFAULT_MAX_PIXELS, ImageInfo, MAX_PIXELS_ENV, SUPPORTED_READ, SUPPORTED_WRITE
from imagewizard.io.reading import read
from imagewizard.io.writing import atomic_write, check_image_output, copy_unchanged, write
from imagewizard.io.folders import list_images

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "ImageInfo",
    "MAX_PIXELS_ENV",
    "SUPPORTED_READ",
    "SUPPORTED_WRITE",
    "atomic_write",
    "check_image_output",
    "copy_unchanged",
    "list_images",
    "read",
    "write",
]
