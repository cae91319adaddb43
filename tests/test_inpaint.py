"""Inpainting methods: Telea, Navier-Stokes, biharmonic, FSR and k-nearest neighbours."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from imagewizard.core import registry
from imagewizard.api import apply
from imagewizard.core.errors import ParameterError
from imagewizard.tasks.inpaint.interpolate import biharmonic, knn
from imagewizard.tasks.inpaint.opencv import fsr, navier_stokes, telea

METHODS = ["telea", "navier-stokes", "biharmonic", "fsr", "knn"]


@pytest.fixture(scope="module")
def gray(photo) -> np.ndarray:
    return photo("camera", slice(200, 240), slice(220, 268))


@pytest.fixture(scope="module")
def color(photo) -> np.ndarray:
    return photo("astronaut", slice(120, 160), slice(200, 248))


@pytest.fixture(scope="module")
def masks():
    rng = np.random.default_rng(0)
    pixels = rng.random((40, 48)) < 0.4
    lines = np.zeros((40, 48), np.uint8)
    cv2.line(lines, (0, 5), (47, 30), 1, 2)
    cv2.line(lines, (10, 39), (30, 0), 1, 2)
    return {"pixels": pixels, "lines": lines.astype(bool)}


def psnr(ref, img):
    return float(10 * np.log10(1.0 / np.mean((img - ref) ** 2)))


def test_methods_are_declared_for_inpaint():
    names = {m.name for m in registry.methods("inpaint")}
    assert set(METHODS) <= names
    for name in METHODS:
        assert registry.get("inpaint", name).needs == frozenset({"mask"})


@pytest.mark.parametrize("name", METHODS)
def test_fills_holes_keeps_known_pixels_and_raises_psnr(name, gray, color, masks):
    for x in (gray, color):
        for mask in masks.values():
            damaged = x.copy()
            damaged[mask] = 0.0
            out = apply("inpaint", damaged, name, mask=mask)
            assert out.shape == x.shape and out.dtype == np.float32
            assert 0.0 <= out.min() and out.max() <= 1.0
            np.testing.assert_array_equal(out[~mask], x[~mask])
            assert psnr(x, out) > psnr(x, damaged) + 10.0


@pytest.mark.parametrize("name", METHODS)
def test_deterministic_and_no_mask_is_identity(name, gray, masks):
    m = masks["pixels"]
    a = apply("inpaint", gray, name, mask=m)
    b = apply("inpaint", gray, name, mask=m)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(apply("inpaint", gray, name, mask=np.zeros_like(m)), gray)


def test_whole_image_masked_is_a_parameter_error(gray):
    with pytest.raises(ParameterError, match="every pixel"):
        telea(gray, mask=np.ones(gray.shape, bool))


def test_telea_and_ns_agree_with_opencv_on_8bit_data(color, masks):
    m = masks["lines"]
    u8 = np.round(color * 255).astype(np.uint8)
    x = u8 / np.float32(255)
    for ours, flag in ((telea, cv2.INPAINT_TELEA), (navier_stokes, cv2.INPAINT_NS)):
        ref = cv2.inpaint(u8, m.astype(np.uint8), 3, flag) / 255.0
        diff = np.abs(ours(x, mask=m, radius=3) - ref)[m]
        # Float fill vs OpenCV's 8-bit fill: the same values up to 8-bit rounding along the way.
        assert diff.mean() < 2 / 255 and diff.max() < 12 / 255


def test_telea_float_path_stays_in_the_data_range(gray, masks):
    # OpenCV's float Telea misbehaves on [0, 1] data (values far outside it); the wrapper rescales.
    out = telea(gray, mask=masks["pixels"])
    assert gray.min() - 0.05 <= out.min() and out.max() <= gray.max() + 0.05


def test_fsr_uses_opencv_inverted_mask_convention(gray, masks):
    m = masks["pixels"]
    u8 = np.round(gray * 255).astype(np.uint8)
    dst = np.zeros_like(u8)
    cv2.xphoto.inpaint(u8, (~m).astype(np.uint8), dst, cv2.xphoto.INPAINT_FSR_FAST)
    out = fsr(u8 / np.float32(255), mask=m)
    np.testing.assert_allclose(out[m], dst[m] / 255.0, atol=1e-6)


def test_biharmonic_matches_scikit_image(color, masks):
    from skimage.restoration import inpaint_biharmonic

    m = masks["lines"]
    ref = inpaint_biharmonic(color, m, channel_axis=-1)
    np.testing.assert_allclose(biharmonic(color, mask=m), ref, atol=1e-6)


def test_biharmonic_is_exact_on_a_linear_ramp():
    x = np.add.outer(np.linspace(0, 0.5, 20), np.linspace(0, 0.4, 24)).astype(np.float32)
    m = np.zeros(x.shape, bool)
    m[5:15, 6:18] = True
    np.testing.assert_allclose(biharmonic(x, mask=m), x, atol=1e-5)


def test_knn_known_answers():
    x = np.zeros((5, 5), np.float32)
    x[:, 0] = 1.0
    m = np.zeros((5, 5), bool)
    m[2, 1] = True
    # The four nearest known pixels of (2, 1) are its 4-neighbours, one of them in the bright column.
    assert knn(x, mask=m, k=4)[2, 1] == pytest.approx(0.25)
    row = np.array([[0, 1, 2, 3, 0, 10]], np.float32)
    hole = np.zeros(row.shape, bool)
    hole[0, 4] = True
    # Known pixels at distances 1, 1, 2, 3, 4 from the hole hold 3, 10, 2, 1, 0.
    assert knn(row, mask=hole, k=2)[0, 4] == pytest.approx((3 + 10) / 2)
    assert knn(row, mask=hole, k=3)[0, 4] == pytest.approx((3 + 10 + 2) / 3)
    assert knn(row, mask=hole, k=3, weights="distance")[0, 4] == pytest.approx((3 + 10 + 2 / 2) / 2.5)
    assert knn(row, mask=hole, k=50)[0, 4] == pytest.approx(16 / 5)  # k larger than the known pixels


def test_knn_matches_brute_force(color, masks):
    m = masks["pixels"]
    out = knn(color, mask=m, k=6, weights="distance")
    known = np.argwhere(~m)
    for r, c in np.argwhere(m)[:: max(1, m.sum() // 25)]:
        d = np.hypot(known[:, 0] - r, known[:, 1] - c)
        nearest = np.argsort(d, kind="stable")[:6]
        if d[nearest[-1]] == np.sort(d)[6]:
            continue  # a tie at the k-th distance: either neighbour is right
        w = 1.0 / d[nearest]
        expected = (w[:, None] * color[~m][nearest]).sum(0) / w.sum()
        np.testing.assert_allclose(out[r, c], expected, atol=1e-5)


def test_float_input_is_not_quantised(masks):
    # Values between 8-bit levels survive in the fill of the float paths (a flat image stays flat).
    x = np.full((40, 48), 0.5 + 0.3 / 255, np.float32)
    m = masks["lines"]
    for f in (telea, navier_stokes, biharmonic, knn):
        assert np.abs(f(x, mask=m)[m] - x[m]).max() < 0.05 / 255
