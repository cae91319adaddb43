"""Tests for imagewizard.io: every fixture is generated in tmp_path."""

from __future__ import annotations

import io
import json
import os
import struct
import zlib

import cv2
import numpy as np
import pytest
import tifffile
from PIL import Image, ImageCms, ImageFile, ImageOps

import imagewizard.io as iio
from imagewizard.io import files
from imagewizard.core.errors import ImageReadError, ImageWriteError, ParameterError

RNG = np.random.default_rng(1234)
H, W = 7, 9  # odd and unequal, so transposes and flips show


def quantized(shape, depth=8, rng=RNG):
    """Random float32 image whose values are exactly representable at `depth` bits."""
    maxv = 2**depth - 1
    return (rng.integers(0, maxv + 1, shape).astype(np.float32) / np.float32(maxv)).astype(np.float32)


def smooth(shape):
    """A smooth image (gradients) that lossy codecs keep close."""
    y, x = np.mgrid[0 : shape[0], 0 : shape[1]].astype(np.float32)
    base = 0.2 + 0.6 * (x / shape[1] * 0.7 + y / shape[0] * 0.3)
    if len(shape) == 2:
        return base.astype(np.float32)
    alpha = np.where(x < shape[1] // 2, 1.0, 0.5)
    return np.stack([base, base[::-1] * 0.9, 1 - base, alpha][: shape[2]], axis=2).astype(np.float32)


def assert_one_line(err, *fragments):
    msg = str(err.value)
    assert "\n" not in msg
    for f in fragments:
        assert f.lower() in msg.lower(), (f, msg)


def srgb_icc() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def make_exif(orientation=None) -> Image.Exif:
    ex = Image.Exif()
    ex[271] = "ACME"
    ex[272] = "Model 7"
    if orientation is not None:
        ex[274] = orientation
    ex.get_ifd(0x8769)[0x9003] = "2024:05:06 07:08:09"  # DateTimeOriginal
    ex.get_ifd(0x8769)[0x9286] = b"ASCII\x00\x00\x00hello"  # UserComment
    return ex


def exif_tags(blob: bytes) -> dict:
    ex = Image.Exif()
    ex.load(blob)
    sub = ex.get_ifd(0x8769)
    return {
        "make": ex.get(271),
        "model": ex.get(272),
        "orientation": ex.get(274),
        "taken": sub.get(0x9003),
        "comment": sub.get(0x9286),
    }


# ------------------------------------------------------------------ round trips

LOSSLESS = [(".png", 8), (".png", 16), (".tif", 8), (".tif", 16), (".tif", 32), (".bmp", 8), (".npy", 32)]
KINDS = {"gray": (H, W), "rgb": (H, W, 3), "rgba": (H, W, 4)}


@pytest.mark.parametrize("ext,depth", LOSSLESS)
@pytest.mark.parametrize("kind", KINDS)
def test_lossless_round_trip(tmp_path, ext, depth, kind):
    x = quantized(KINDS[kind], 16 if depth == 32 else depth)
    if depth == 32:
        x = x * 1.5 - 0.25  # float formats keep values outside [0, 1]
    p = iio.write(tmp_path / f"img{ext}", x, bit_depth=None if ext == ".npy" else depth)
    y, info = iio.read(p)
    colour = x[..., :3] if kind == "rgba" else x
    np.testing.assert_array_equal(y, colour)
    assert y.dtype == np.float32
    assert info.bit_depth == depth
    assert info.channels == (1 if kind == "gray" else 3)
    assert (info.width, info.height) == (W, H)
    alpha_kept = kind == "rgba" and ext != ".bmp"
    assert info.has_alpha is alpha_kept
    if alpha_kept:
        np.testing.assert_array_equal(info.alpha, x[..., 3])
    else:
        assert info.alpha is None


@pytest.mark.parametrize("kind", KINDS)
def test_jpeg_round_trip_within_tolerance(tmp_path, kind):
    x = smooth((24, 32) + KINDS[kind][2:])
    y, info = iio.read(iio.write(tmp_path / "a.jpg", x, quality=95))
    colour = x[..., :3] if kind == "rgba" else x
    assert y.shape == colour.shape and info.format == "JPEG" and not info.has_alpha
    assert np.abs(y - colour).max() < 6 / 255


@pytest.mark.parametrize("kind", KINDS)
def test_webp_lossy_and_lossless(tmp_path, kind):
    x = smooth((24, 32) + KINDS[kind][2:])
    colour = x[..., :3] if kind == "rgba" else x
    rgb = np.repeat(colour[..., None], 3, axis=2) if kind == "gray" else colour  # WebP stores RGB
    y, info = iio.read(iio.write(tmp_path / "lossy.webp", x, quality=90))
    assert y.shape == rgb.shape and info.format == "WEBP"
    err = np.abs(y - rgb)
    assert err.mean() < 3 / 255 and err.max() < 20 / 255  # 4:2:0 chroma: edges of a tiny image suffer most
    if kind == "rgba":
        np.testing.assert_array_equal(info.alpha * 255, np.floor(x[..., 3] * 255 + 0.5))  # alpha stays lossless
    q = quantized(KINDS[kind])
    qc = q[..., :3] if kind == "rgba" else q
    y, info = iio.read(iio.write(tmp_path / "lossless.webp", q, quality=100))
    np.testing.assert_array_equal(y, np.repeat(qc[..., None], 3, axis=2) if kind == "gray" else qc)
    if kind == "rgba":
        np.testing.assert_array_equal(info.alpha, q[..., 3])


def test_uint_inputs_and_rgba_array(tmp_path):
    u16 = RNG.integers(0, 65536, (H, W, 4), dtype=np.uint16)
    y, info = iio.read(iio.write(tmp_path / "a.png", u16))  # uint16 without `like` stays 16-bit
    assert info.bit_depth == 16
    np.testing.assert_array_equal(cv2.imread(str(tmp_path / "a.png"), cv2.IMREAD_UNCHANGED)[..., [2, 1, 0, 3]], u16)
    np.testing.assert_array_equal(info.alpha, u16[..., 3] / np.float32(65535))


# ------------------------------------------------------------------ 16-bit


@pytest.mark.parametrize("ext", [".png", ".tif"])
@pytest.mark.parametrize("shape", [(H, W), (H, W, 3), (H, W, 4)])
def test_16_bit_stays_16_bit(tmp_path, ext, shape):
    raw = RNG.integers(0, 65536, shape, dtype=np.uint16)
    raw.flat[0] = 1  # not a multiple of 257: would not survive a trip through 8 bits
    src = tmp_path / f"src{ext}"
    if ext == ".png":
        cv2.imwrite(str(src), raw if raw.ndim == 2 else raw[..., [2, 1, 0, 3][: raw.shape[2]]])
    else:
        tifffile.imwrite(
            src,
            raw,
            photometric="minisblack" if raw.ndim == 2 else "rgb",
            extrasamples=("unassalpha",) if raw.ndim == 3 and raw.shape[2] == 4 else None,
        )
    img, info = iio.read(src)
    assert info.bit_depth == 16
    out = iio.write(tmp_path / f"out{ext}", img, like=info)
    # independent readers see 16-bit samples equal to the source's
    if ext == ".png":
        back = cv2.imread(str(out), cv2.IMREAD_UNCHANGED)
        back = back if back.ndim == 2 else back[..., [2, 1, 0, 3][: back.shape[2]]]
    else:
        back = tifffile.imread(out)
    assert back.dtype == np.uint16
    np.testing.assert_array_equal(back, raw)
    # bit_depth=8 is honoured, and an 8-bit-only format gets 8 bits silently
    assert iio.read(iio.write(tmp_path / f"o8{ext}", img, like=info, bit_depth=8))[1].bit_depth == 8
    assert iio.read(iio.write(tmp_path / "o.jpg", img, like=info))[1].bit_depth == 8


def test_gray_alpha_16_bit_png(tmp_path):
    x = quantized((H, W, 2), 16)
    iio.write(tmp_path / "la.png", x[..., 0], like=iio.ImageInfo(None, "PNG", W, H, "LA;16", 16, 1, True, x[..., 1]))
    y, info = iio.read(tmp_path / "la.png")
    assert (info.mode, info.bit_depth, info.channels) == ("LA;16", 16, 1)
    np.testing.assert_array_equal(y, x[..., 0])
    np.testing.assert_array_equal(info.alpha, x[..., 1])
    ref = cv2.imread(str(tmp_path / "la.png"), cv2.IMREAD_UNCHANGED)  # OpenCV expands to BGRA
    np.testing.assert_array_equal(ref[..., 3], np.round(x[..., 1] * 65535).astype(np.uint16))


def test_bad_bit_depth_and_quality(tmp_path):
    x = quantized((H, W))
    with pytest.raises(ParameterError, match="JPEG"):
        iio.write(tmp_path / "a.jpg", x, bit_depth=16)
    with pytest.raises(ParameterError, match="PNG"):
        iio.write(tmp_path / "a.png", x, bit_depth=32)
    with pytest.raises(ParameterError, match="quality"):
        iio.write(tmp_path / "a.jpg", x, quality=0)
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------ alpha


@pytest.mark.parametrize("ext,depth", [(".png", 8), (".png", 16), (".tif", 8), (".tif", 16), (".webp", 8)])
def test_alpha_carried_untouched(tmp_path, ext, depth):
    rgba = quantized((H, W, 4), depth)
    rgba[0, 0, 3] = 0.0  # fully transparent pixel: WebP would normally discard its colour
    src = iio.write(tmp_path / f"src{ext}", rgba, bit_depth=depth, quality=100)
    img, info = iio.read(src)
    processed = 1.0 - img
    out = iio.write(tmp_path / f"out{ext}", processed, like=info, quality=100)
    y, info2 = iio.read(out)
    np.testing.assert_array_equal(info2.alpha, rgba[..., 3])
    np.testing.assert_array_equal(y, np.round((1.0 - rgba[..., :3]) * (2**depth - 1)) / (2**depth - 1))


def test_alpha_of_other_size_not_attached(tmp_path):
    _, info = iio.read(iio.write(tmp_path / "a.png", quantized((H, W, 4))))
    _, info2 = iio.read(iio.write(tmp_path / "b.png", quantized((H + 1, W, 3)), like=info))
    assert not info2.has_alpha


# ------------------------------------------------------------------ orientation, EXIF, ICC


def test_jpeg_exif_orientation_applied_and_reset(tmp_path):
    x = np.zeros((16, 24, 3), np.uint8)
    x[:4, :8] = 255  # bright block at the top-left of the stored pixels
    src = tmp_path / "rot.jpg"
    Image.fromarray(x).save(src, quality=100, subsampling=0, exif=make_exif(orientation=6).tobytes())
    img, info = iio.read(src)
    assert img.shape == (24, 16, 3) and (info.width, info.height) == (16, 24)
    assert info.orientation == 6
    ref = np.asarray(ImageOps.exif_transpose(Image.open(src)), np.float32) / 255
    np.testing.assert_array_equal(img, ref)
    assert img[:8, -4:].mean() > 0.9 and img[-8:, :4].mean() < 0.1  # rotated clockwise: block at top-right
    assert exif_tags(info.exif)["orientation"] == 1
    out = iio.write(tmp_path / "out.jpg", img, like=info)
    with Image.open(out) as im:
        ex = im.getexif()
        assert ex[274] == 1 and ex[271] == "ACME"
    img2, info2 = iio.read(out)
    assert img2.shape == img.shape and info2.orientation == 1


@pytest.mark.parametrize("orientation", range(1, 9))
def test_all_orientations_match_pillow(tmp_path, orientation):
    x = RNG.integers(0, 256, (5, 8, 3), dtype=np.uint8)
    src = tmp_path / "o.png"
    Image.fromarray(x).save(src, exif=make_exif(orientation).tobytes())
    img, info = iio.read(src)
    with Image.open(src) as im:
        ref = np.asarray(ImageOps.exif_transpose(im), np.float32) / 255
    np.testing.assert_array_equal(img, ref)
    assert info.orientation == orientation


META_TARGETS = [(".jpg", None), (".png", 8), (".png", 16), (".tif", 8), (".tif", 16), (".tif", 32), (".webp", None)]


@pytest.mark.parametrize("ext,depth", META_TARGETS)
def test_icc_and_exif_survive(tmp_path, ext, depth):
    icc = srgb_icc()
    src = tmp_path / "src.png"
    Image.fromarray(RNG.integers(0, 256, (H, W, 3), dtype=np.uint8)).save(
        src, icc_profile=icc, exif=make_exif().tobytes(), dpi=(300, 300)
    )
    img, info = iio.read(src)
    assert info.icc_profile == icc and info.exif is not None and info.dpi == pytest.approx((300, 300), abs=0.01)
    out = iio.write(tmp_path / f"out{ext}", img, like=info, bit_depth=depth)
    _, info2 = iio.read(out)
    assert info2.icc_profile == icc
    want = exif_tags(info.exif)
    assert exif_tags(info2.exif) == want and want["make"] == "ACME" and want["taken"] == "2024:05:06 07:08:09"
    if ext != ".tif":  # the EXIF block is copied byte for byte (TIFF stores it as tags instead)
        assert info2.exif == info.exif
    if ext != ".webp":
        assert info2.dpi == pytest.approx((300, 300), rel=1e-3)
    # an independent reader finds the profile too
    if ext == ".tif":
        assert tifffile.TiffFile(out).pages.first.tags[34675].value == icc
    else:
        with Image.open(out) as im:
            assert im.info["icc_profile"] == icc


def test_tiff_exif_carried_to_jpeg_and_tiff(tmp_path):
    tif = iio.write(tmp_path / "a.tif", quantized((H, W, 3), 16), bit_depth=16, like=iio.read(_exif_png(tmp_path))[1])
    tags = tifffile.TiffFile(tif).pages.first.tags  # an independent reader sees real TIFF/EXIF tags
    assert tags["Make"].value == "ACME" and tags["Artist"].value == "José"
    assert tags["ExifTag"].value["DateTimeOriginal"] == "2024:05:06 07:08:09"
    _, info = iio.read(tif)
    assert exif_tags(info.exif)["make"] == "ACME" and exif_tags(info.exif)["orientation"] == 1
    _, j = iio.read(iio.write(tmp_path / "b.jpg", quantized((H, W, 3)), like=info))
    assert exif_tags(j.exif) == exif_tags(info.exif)
    _, t = iio.read(iio.write(tmp_path / "c.tif", quantized((H, W, 3)), like=info))
    assert exif_tags(t.exif) == exif_tags(info.exif)


def _exif_png(tmp_path):
    p = tmp_path / "exif.png"
    ex = make_exif(3)
    ex[315] = "José".encode()  # UTF-8 in an ASCII tag, as many editors write it
    Image.fromarray(RNG.integers(0, 256, (H, W, 3), dtype=np.uint8)).save(p, exif=ex.tobytes())
    return p


def test_rgb_icc_not_put_into_gray_output(tmp_path):
    src = tmp_path / "src.png"
    Image.fromarray(RNG.integers(0, 256, (H, W, 3), dtype=np.uint8)).save(src, icc_profile=srgb_icc())
    img, info = iio.read(src, gray=True)
    assert img.shape == (H, W) and info.channels == 3
    _, out = iio.read(iio.write(tmp_path / "g.jpg", img, like=info))
    assert out.icc_profile is None


# ------------------------------------------------------------------ values


def test_npy_and_float_tiff_keep_unclipped_values(tmp_path):
    x = (RNG.standard_normal((H, W, 3)) * 0.5 + 0.5).astype(np.float32)
    assert x.min() < 0 and x.max() > 1
    for name in ("a.npy", "a.tif"):
        y, info = iio.read(iio.write(tmp_path / name, x, bit_depth=32 if name.endswith("tif") else None))
        np.testing.assert_array_equal(y, x)
        assert info.bit_depth == 32
    y, _ = iio.read(iio.write(tmp_path / "a.png", x))
    assert y.min() == 0.0 and y.max() == 1.0


def test_rounding_not_truncation(tmp_path):
    steps = np.arange(511, dtype=np.float64) * 0.5 + 0.01  # half-steps of 1/255, nudged off the tie
    x = (steps / 255).astype(np.float32).reshape(7, 73)
    expected = np.floor(steps + 0.5).astype(np.uint8).reshape(7, 73)
    iio.write(tmp_path / "r.png", x)
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "r.png")), expected)
    x16 = (steps / 65535).astype(np.float32).reshape(7, 73)
    iio.write(tmp_path / "r16.png", x16, bit_depth=16)
    back = cv2.imread(str(tmp_path / "r16.png"), cv2.IMREAD_UNCHANGED)
    np.testing.assert_array_equal(back, expected.astype(np.uint16))


def test_gray_option_matches_pillow_luma(tmp_path):
    x = RNG.integers(0, 256, (H, W, 3), dtype=np.uint8)
    Image.fromarray(x).save(tmp_path / "c.png")
    g, info = iio.read(tmp_path / "c.png", gray=True)
    assert g.shape == (H, W)
    ref = np.asarray(Image.fromarray(x).convert("L"), np.float32) / 255
    assert np.abs(g - ref).max() <= 1 / 255


def test_palette_la_and_bilevel_modes(tmp_path):
    x = RNG.integers(0, 256, (H, W, 3), dtype=np.uint8)
    pal = Image.fromarray(x).quantize(8)
    pal.info["transparency"] = 0
    pal.save(tmp_path / "p.png", transparency=0)
    img, info = iio.read(tmp_path / "p.png")
    ref = np.asarray(Image.open(tmp_path / "p.png").convert("RGBA"), np.float32) / 255
    assert info.mode == "P" and info.has_alpha
    np.testing.assert_array_equal(img, ref[..., :3])
    np.testing.assert_array_equal(info.alpha, ref[..., 3])

    la = RNG.integers(0, 256, (H, W, 2), dtype=np.uint8)
    Image.fromarray(la, "LA").save(tmp_path / "la.png")
    img, info = iio.read(tmp_path / "la.png")
    assert info.mode == "LA" and img.shape == (H, W)
    np.testing.assert_array_equal(img * 255, la[..., 0])
    np.testing.assert_array_equal(info.alpha * 255, la[..., 1])

    pal.save(tmp_path / "p.tif")  # TIFF palettes are 16-bit colormaps holding 8-bit colours
    img, info = iio.read(tmp_path / "p.tif")
    assert (info.mode, info.bit_depth) == ("P", 8)
    np.testing.assert_array_equal(img * 255, np.asarray(Image.open(tmp_path / "p.tif").convert("RGB")))

    bits = RNG.random((H, W)) > 0.5
    Image.fromarray(bits).save(tmp_path / "b.bmp")
    img, info = iio.read(tmp_path / "b.bmp")
    assert info.mode == "1"
    np.testing.assert_array_equal(img, bits.astype(np.float32))


def test_lzw_tiff_read_through_pillow_fallback(tmp_path):
    x = RNG.integers(0, 256, (H, W, 3), dtype=np.uint8)
    Image.fromarray(x).save(tmp_path / "lzw.tif", compression="tiff_lzw")
    img, info = iio.read(tmp_path / "lzw.tif")
    np.testing.assert_array_equal(img * 255, x)
    assert info.format == "TIFF" and info.bit_depth == 8


def test_format_recognised_by_content(tmp_path):
    x = quantized((H, W, 3))
    iio.write(tmp_path / "real.png", x)
    os.replace(tmp_path / "real.png", tmp_path / "misnamed.jpg")
    img, info = iio.read(tmp_path / "misnamed.jpg")
    assert info.format == "PNG"
    np.testing.assert_array_equal(img, x)


def test_summary_is_json(tmp_path):
    src = tmp_path / "s.png"
    Image.fromarray(RNG.integers(0, 256, (H, W, 3), dtype=np.uint8)).save(
        src, icc_profile=srgb_icc(), exif=make_exif(6).tobytes()
    )
    _, info = iio.read(src)
    s = json.loads(json.dumps(info.summary()))
    assert s["format"] == "PNG" and s["orientation"] == 6 and (s["width"], s["height"]) == (H, W)
    assert s["camera"] == "ACME Model 7" and "sRGB" in s["icc_profile"]


# ------------------------------------------------------------------ bad input


def _png_with_header(w, h, idat=b"\x00" * 8):
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", idat)
        + chunk(b"IEND", b"")
    )


def _encoded(fmt, **kw):
    buf = io.BytesIO()
    Image.fromarray(RNG.integers(0, 256, (40, 50, 3), dtype=np.uint8)).save(buf, fmt, **kw)
    return buf.getvalue()


def _truncated(name, data, keep=0.5):
    return name, data[: int(len(data) * keep)], "truncated"


def _png16():
    ok, enc = cv2.imencode(".png", RNG.integers(0, 65536, (40, 50, 3), dtype=np.uint16))
    return enc.tobytes()


def _tiff():
    buf = io.BytesIO()
    tifffile.imwrite(buf, RNG.integers(0, 256, (40, 50, 3), dtype=np.uint8), photometric="rgb")
    return buf.getvalue()


def _npy(arr):
    buf = io.BytesIO()
    np.save(buf, arr)
    return buf.getvalue()


BAD_FILES = [
    ("text.png", b"this is not an image", "not an image"),
    ("anim.gif", b"GIF89a" + b"\x00" * 20, "GIF images are not supported"),
    ("empty.jpg", b"", "empty"),
    _truncated("half.png", _encoded("PNG")),
    ("noend.png", _encoded("PNG")[:-12], "truncated"),  # pixels complete, end chunk missing
    _truncated("half16.png", _png16()),
    _truncated("half.jpg", _encoded("JPEG")),
    _truncated("tail.jpg", _encoded("JPEG"), keep=0.97),
    _truncated("half.tif", _tiff()),
    _truncated("half.bmp", _encoded("BMP")),
    _truncated("half.webp", _encoded("WEBP")),
    _truncated("half.npy", _npy(np.zeros((40, 50), np.float32))),
    ("header.png", _encoded("PNG")[:20], "truncated"),
    ("garbage.png", _png_with_header(5, 5, b"garbage!"), "corrupt"),
    ("zero.png", _png_with_header(0, 5), "zero-size"),
    ("zero.npy", _npy(np.zeros((0, 5), np.float32)), "zero-size"),
    ("bomb.png", _png_with_header(20000, 20000), "exceeds the limit of 100,000,000"),
    ("cmyk.jpg", None, "CMYK"),
    ("int16.npy", _npy(np.zeros((4, 5), np.int16)), "dtype int16"),
    ("twochan.npy", _npy(np.zeros((4, 5, 2), np.float32)), "not an image"),
    ("nan.npy", _npy(np.full((4, 5), np.nan, np.float32)), "NaN"),
]


@pytest.mark.parametrize("name,data,fragment", BAD_FILES, ids=[b[0] for b in BAD_FILES])
def test_bad_files_give_one_line_errors(tmp_path, name, data, fragment):
    p = tmp_path / name
    if name == "cmyk.jpg":
        Image.new("CMYK", (5, 4)).save(p)
    else:
        p.write_bytes(data)
    with pytest.raises(ImageReadError) as err:
        iio.read(p)
    assert_one_line(err, str(p), fragment)


def test_cmyk_tiff_rejected(tmp_path):
    tifffile.imwrite(tmp_path / "c.tif", np.zeros((4, 5, 4), np.uint8), photometric="separated")
    with pytest.raises(ImageReadError) as err:
        iio.read(tmp_path / "c.tif")
    assert_one_line(err, str(tmp_path / "c.tif"), "CMYK")


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(ImageReadError) as err:
        iio.read(tmp_path / "nope.png")
    assert_one_line(err, str(tmp_path / "nope.png"), "not found")
    with pytest.raises(ImageReadError) as err:
        iio.read(tmp_path)
    assert_one_line(err, str(tmp_path), "directory")


def test_permission_denied(tmp_path, monkeypatch):
    p = tmp_path / "secret.png"
    iio.write(p, quantized((H, W)))

    def refuse(path, *args, **kwargs):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(files, "_os_open", refuse)  # the reader's own open, as root cannot be refused
    with pytest.raises(ImageReadError) as err:
        iio.read(p)
    assert_one_line(err, str(p), "permission denied")


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root can read any file")
def test_permission_denied_for_real(tmp_path):
    p = tmp_path / "secret.png"
    iio.write(p, quantized((H, W)))
    p.chmod(0)
    with pytest.raises(ImageReadError) as err:
        iio.read(p)
    assert_one_line(err, str(p), "permission denied")


def test_truncation_refused_even_if_pillow_was_told_to_accept_it(tmp_path, monkeypatch):
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    p = tmp_path / "t.jpg"
    p.write_bytes(_encoded("JPEG")[:600])
    with pytest.raises(ImageReadError, match="truncated"):
        iio.read(p)
    assert ImageFile.LOAD_TRUNCATED_IMAGES is True  # restored for the rest of the program


def test_bomb_limit_argument_env_and_pillow_limit(tmp_path, monkeypatch):
    p = iio.write(tmp_path / "a.png", quantized((30, 40)))  # 1200 pixels
    with pytest.raises(ImageReadError) as err:
        iio.read(p, max_pixels=1000)
    assert_one_line(err, str(p), "1,200 pixels exceeds the limit of 1,000")
    assert iio.read(p, max_pixels=1200)[0].shape == (30, 40)
    monkeypatch.setenv(iio.MAX_PIXELS_ENV, "1000")
    with pytest.raises(ImageReadError, match=iio.MAX_PIXELS_ENV):
        iio.read(p)
    assert iio.read(p, max_pixels=5000)[0].shape == (30, 40)  # the argument wins over the env var
    monkeypatch.setenv(iio.MAX_PIXELS_ENV, "lots")
    with pytest.raises(ParameterError, match=iio.MAX_PIXELS_ENV):
        iio.read(p)
    monkeypatch.delenv(iio.MAX_PIXELS_ENV)
    # Pillow's own (global) bomb limit neither preempts ours nor gets changed for good
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)
    assert iio.read(p)[0].shape == (30, 40)
    with pytest.raises(ImageReadError, match="exceeds the limit of 1,000 "):
        iio.read(p, max_pixels=1000)
    assert Image.MAX_IMAGE_PIXELS == 100


@pytest.mark.parametrize("maker", ["npy", "tif"])
def test_bomb_checked_from_header_before_decoding(tmp_path, maker):
    p = tmp_path / f"big.{maker}"
    if maker == "npy":
        with open(p, "wb") as f:  # a header promising 1e10 pixels and no data at all
            np.lib.format.write_array_header_1_0(f, {"descr": "<f4", "fortran_order": False, "shape": (100000, 100000)})
    else:
        tifffile.imwrite(p, np.zeros((1, 1), np.uint8))
        data = bytearray(p.read_bytes())
        tiff = tifffile.TiffFile(io.BytesIO(bytes(data)))
        for code in (256, 257):  # ImageWidth, ImageLength
            struct.pack_into("<H", data, tiff.pages.first.tags[code].valueoffset, 60000)
        p.write_bytes(bytes(data))
    with pytest.raises(ImageReadError) as err:
        iio.read(p)
    assert_one_line(err, str(p), "exceeds the limit")


# ------------------------------------------------------------------ writing safely


def _leftovers(folder):
    return sorted(f.name for f in folder.iterdir() if f.name.endswith(".tmp"))


def test_write_is_atomic_and_creates_folders(tmp_path):
    p = iio.write(tmp_path / "a" / "b" / "c.png", quantized((H, W)))
    assert p.is_file() and _leftovers(p.parent) == []
    assert os.listdir(p.parent) == ["c.png"]


@pytest.mark.parametrize("fail", ["fsync", "replace"])
def test_failed_write_leaves_previous_file_and_no_temp(tmp_path, monkeypatch, fail):
    p = iio.write(tmp_path / "keep.png", quantized((H, W)))
    before = p.read_bytes()

    def boom(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, fail, boom)
    with pytest.raises(ImageWriteError) as err:
        iio.write(p, quantized((H, W)))
    assert_one_line(err, str(p), "no space left")
    monkeypatch.undo()
    assert p.read_bytes() == before
    assert os.listdir(tmp_path) == ["keep.png"]


def test_encoding_failure_leaves_previous_file(tmp_path):
    p = iio.write(tmp_path / "keep.jpg", quantized((H, W, 3)))
    before = p.read_bytes()
    ex = make_exif()
    ex[270] = "x" * 70000  # more than a JPEG APP1 segment can hold
    like = iio.ImageInfo(None, "JPEG", W, H, "RGB", 8, 3, exif=ex.tobytes())
    with pytest.raises(ImageWriteError) as err:
        iio.write(p, quantized((H, W, 3)), like=like)
    assert_one_line(err, str(p), "JPEG")
    assert p.read_bytes() == before and os.listdir(tmp_path) == ["keep.jpg"]


def test_refuses_to_overwrite_its_input(tmp_path):
    src = iio.write(tmp_path / "in.png", quantized((H, W, 3)))
    before = src.read_bytes()
    img, info = iio.read(src)
    os.link(src, tmp_path / "hardlink.png")
    for target in (src, tmp_path / "sub" / ".." / "in.png", tmp_path / "hardlink.png"):
        with pytest.raises(ImageWriteError) as err:
            iio.write(target, 1 - img, like=info)
        assert_one_line(err, str(target), "overwrite")
    assert src.read_bytes() == before and _leftovers(tmp_path) == []
    iio.write(src, 1 - img, like=info, overwrite=True)
    np.testing.assert_allclose(iio.read(src)[0], 1 - img, atol=1e-6)


def test_unknown_extension_and_directory_target(tmp_path):
    for name in ("out.gif", "out"):
        with pytest.raises(ImageWriteError) as err:
            iio.write(tmp_path / name, quantized((H, W)))
        assert_one_line(err, str(tmp_path / name), ".png", ".tiff", ".npy")
    (tmp_path / "d.png").mkdir()
    with pytest.raises(ImageWriteError) as err:
        iio.write(tmp_path / "d.png", quantized((H, W)))
    assert_one_line(err, "d.png", "directory")


# ------------------------------------------------------------------ listing


def test_list_images(tmp_path):
    for rel in [
        "b.png",
        "A.JPG",
        "c.txt",
        ".hidden.png",
        "Thumbs.db",
        "sub/d.tif",
        "sub/deep/e.npy",
        ".git/f.png",
        "sub/.g.webp",
        "z.webp",
    ]:
        f = tmp_path / rel
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_bytes(b"")
    (tmp_path / "folder.png").mkdir()
    rel = lambda paths: [p.relative_to(tmp_path).as_posix() for p in paths]  # noqa: E731
    assert rel(iio.list_images(tmp_path)) == ["A.JPG", "b.png", "sub/d.tif", "sub/deep/e.npy", "z.webp"]
    assert rel(iio.list_images(tmp_path, recursive=False)) == ["A.JPG", "b.png", "z.webp"]
    assert rel(iio.list_images(tmp_path, pattern="*.png")) == ["b.png"]
    assert rel(iio.list_images(tmp_path, pattern="sub/*")) == ["sub/d.tif"]
    with pytest.raises(ImageReadError, match="not found"):
        iio.list_images(tmp_path / "missing")


def test_constants():
    assert iio.DEFAULT_MAX_PIXELS == 100_000_000
    assert {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp", ".npy"} == set(iio.SUPPORTED_READ)
    assert set(iio.SUPPORTED_WRITE) <= set(iio.SUPPORTED_READ)


def test_atomic_folder_replaces_on_success_and_keeps_the_old_one_on_failure(tmp_path):
    from imagewizard.io.files import atomic_folder

    out = tmp_path / "model"
    with atomic_folder(out) as d:
        (d / "a.txt").write_text("1")
    assert (out / "a.txt").read_text() == "1"
    with pytest.raises(RuntimeError), atomic_folder(out) as d:
        (d / "a.txt").write_text("2")
        raise RuntimeError("interrupted")
    assert (out / "a.txt").read_text() == "1"
    with atomic_folder(out) as d:
        (d / "b.txt").write_text("3")
    assert sorted(p.name for p in out.iterdir()) == ["b.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["model"]  # no temporary folders left


@pytest.mark.parametrize("quality,sub", [(30, 2), (60, 1), (80, 2), (92, 0), (97, 2)])
def test_jpeg_quality_and_subsampling_are_read_and_followed(tmp_path, quality, sub):
    from PIL import JpegImagePlugin

    rng = np.random.default_rng(0)
    src = (rng.random((48, 64, 3)) * 255).astype(np.uint8)
    p = tmp_path / "in.jpg"
    Image.fromarray(src).save(p, quality=quality, subsampling=sub)
    img, info = iio.read(p)
    names = {0: "4:4:4", 1: "4:2:2", 2: "4:2:0"}
    assert info.jpeg_quality == quality and info.jpeg_subsampling == names[sub]
    assert info.summary()["quality_setting"] == quality
    out = iio.write(tmp_path / "out.jpg", img, like=info)  # defaults follow the source, quality >= 75
    with Image.open(out) as im:
        assert JpegImagePlugin.get_sampling(im) == sub
    _, again = iio.read(out)
    assert again.jpeg_quality == max(quality, 75)
    forced = iio.write(tmp_path / "forced.jpg", img, like=info, quality=50, subsampling="4:4:4")
    _, f = iio.read(forced)
    assert (f.jpeg_quality, f.jpeg_subsampling) == (50, "4:4:4")
    with pytest.raises(ParameterError, match="subsampling"):
        iio.write(tmp_path / "bad.jpg", img, subsampling="4:1:1")


def test_no_source_quality_means_95_and_no_subsampling_at_high_quality(tmp_path):
    img = np.random.default_rng(1).random((32, 32, 3)).astype(np.float32)
    _, info = iio.read(iio.write(tmp_path / "a.jpg", img))
    assert (info.jpeg_quality, info.jpeg_subsampling) == (95, "4:4:4")
    _, info = iio.read(iio.write(tmp_path / "b.jpg", img, quality=70))
    assert info.jpeg_subsampling == "4:2:0"
    _, png = iio.read(iio.write(tmp_path / "c.png", img))
    assert png.jpeg_quality is None and "quality_setting" not in png.summary()


def test_copy_unchanged_copies_bytes_only_for_the_same_format(tmp_path):
    src = (np.random.default_rng(2).random((24, 24, 3)) * 255).astype(np.uint8)
    p = tmp_path / "photo.jpg"
    Image.fromarray(src).save(p, quality=88)
    _, info = iio.read(p)
    out = iio.copy_unchanged(tmp_path / "copy.jpg", info)
    assert out is not None and out.read_bytes() == p.read_bytes()
    assert iio.copy_unchanged(tmp_path / "copy.png", info) is None  # another format: the caller encodes
    with pytest.raises(ImageWriteError, match="refusing to overwrite"):
        iio.copy_unchanged(p, info)
    assert iio.copy_unchanged(p, info, overwrite=True) == p and p.read_bytes() == out.read_bytes()
