"""Blur kernels: known answers, reference cross-checks, specs and files."""

from __future__ import annotations

import math

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage
from scipy.signal import windows

from imagewizard.core.errors import ParameterError
from imagewizard.physics.kernels import (
    KERNELS,
    box_kernel,
    check_kernel,
    describe_kernel,
    disk_kernel,
    format_declared,
    gaussian_kernel,
    load_kernel,
    make_kernel,
    motion_kernel,
    parse_declared,
    resolve_kernel,
    save_kernel,
    spec_usage,
)
from imagewizard.core.registry import Param

SPECS = [
    "gaussian:0.8",
    "gaussian:2",
    "gaussian:sigma=2,size=15",
    "motion:1",
    "motion:15",
    "motion:15,30",
    "motion:9.5,-70",
    "motion:22,135",
    "disk:0.5",
    "disk:4",
    "disk:6.3",
    "box:1",
    "box:5",
]


@pytest.mark.parametrize("spec", SPECS)
def test_every_kernel_is_a_valid_psf(spec):
    k = make_kernel(spec)
    assert k.dtype == np.float64 and k.ndim == 2
    assert k.shape[0] % 2 == 1 and k.shape[1] % 2 == 1
    assert k.min() >= 0
    assert k.sum() == pytest.approx(1.0, abs=1e-12)
    # centred: the first moments vanish
    yy, xx = np.mgrid[: k.shape[0], : k.shape[1]]
    assert (k * (yy - k.shape[0] // 2)).sum() == pytest.approx(0, abs=1e-9)
    assert (k * (xx - k.shape[1] // 2)).sum() == pytest.approx(0, abs=1e-9)


@pytest.mark.parametrize("sigma,size", [(0.7, None), (2.0, None), (2.0, 15), (3.3, 9)])
def test_gaussian_matches_scipy_window_outer_product(sigma, size):
    k = gaussian_kernel(sigma, size)
    n = size or 2 * int(4 * sigma + 0.5) + 1
    w = windows.gaussian(n, sigma)
    ref = np.outer(w, w)
    np.testing.assert_allclose(k, ref / ref.sum(), rtol=1e-12, atol=1e-15)


def test_gaussian_blur_equals_scipy_gaussian_filter():
    # the default support (truncate 4) is the one of ndimage.gaussian_filter
    img = np.random.default_rng(0).random((40, 37))
    out = ndimage.convolve(img, gaussian_kernel(1.7), mode="reflect")
    np.testing.assert_allclose(out, ndimage.gaussian_filter(img, 1.7, mode="reflect"), atol=1e-12)


def test_box_is_ones_over_area():
    np.testing.assert_array_equal(box_kernel(5), np.ones((5, 5)) / 25)
    np.testing.assert_array_equal(make_kernel("box:3"), np.ones((3, 3)) / 9)


@pytest.mark.parametrize("k", [gaussian_kernel(2.5), disk_kernel(4.3), disk_kernel(1.0), box_kernel(7)])
def test_isotropic_kernels_have_all_eight_symmetries(k):
    for t in (k[::-1], k[:, ::-1], k.T):
        np.testing.assert_allclose(t, k, atol=1e-15)


@pytest.mark.parametrize("radius", [1.5, 4.0, 7.2])
def test_disk_area_is_pi_r_squared(radius):
    k = disk_kernel(radius)
    assert k.shape == (2 * math.ceil(radius - 0.5) + 1,) * 2
    # the centre pixel is fully inside, so k / k.max() holds the covered fraction per pixel
    assert (k / k.max()).sum() == pytest.approx(math.pi * radius**2, rel=2e-3)


def test_motion_angle_zero_is_a_horizontal_run_of_equal_taps():
    k = motion_kernel(7, 0)
    assert k.shape == (1, 7)
    np.testing.assert_allclose(k, np.full((1, 7), 1 / 7))
    # an even length has half-weight ends: the segment [-2, 2] covers pixels -1..1 and half of +-2
    np.testing.assert_allclose(motion_kernel(4, 0), [[0.125, 0.25, 0.25, 0.25, 0.125]])


def test_motion_angle_90_is_vertical_and_180_equals_0():
    np.testing.assert_allclose(motion_kernel(7, 90), np.full((7, 1), 1 / 7), atol=1e-15)
    np.testing.assert_allclose(motion_kernel(11, 180), motion_kernel(11, 0), atol=1e-15)
    np.testing.assert_allclose(motion_kernel(11, 210), motion_kernel(11, 30), atol=1e-12)


def test_motion_45_is_the_rising_diagonal():
    k = motion_kernel(12, 45)
    n = k.shape[0]
    assert k.shape == (n, n)
    anti = np.fliplr(np.eye(n, dtype=bool))  # up and to the right on screen
    assert k[~anti].max() == 0
    assert k[anti].min() > 0


@pytest.mark.parametrize("length,angle", [(21, 30), (15, 120), (25, -10)])
def test_motion_length_and_direction_from_moments(length, angle):
    k = motion_kernel(length, angle)
    assert np.array_equal(k, k[::-1, ::-1])  # point symmetric
    yy, xx = np.mgrid[: k.shape[0], : k.shape[1]]
    x, y = xx - k.shape[1] // 2, -(yy - k.shape[0] // 2)  # y up, as the angle is measured
    t = math.radians(angle)
    along = x * math.cos(t) + y * math.sin(t)
    across = -x * math.sin(t) + y * math.cos(t)
    # a uniform segment of length L has variance L^2 / 12 along it; across it is about one pixel wide
    assert math.sqrt(12 * (k * along**2).sum()) == pytest.approx(length, rel=0.03)
    assert (k * across**2).sum() < 0.2  # linear split between two rows: at most 1/4


def test_spec_parsing_binds_positional_and_keywords():
    np.testing.assert_array_equal(make_kernel("gaussian:2"), gaussian_kernel(2))
    assert make_kernel("gaussian:sigma=2,size=15").shape == (15, 15)
    np.testing.assert_array_equal(make_kernel("motion:15,30"), motion_kernel(15, 30))
    np.testing.assert_array_equal(make_kernel("Motion:length=15,angle=30"), motion_kernel(15, 30))
    np.testing.assert_array_equal(make_kernel("disk"), disk_kernel(KERNELS["disk"].params[0].default))


@pytest.mark.parametrize(
    "spec,fragment",
    [
        ("blob:3", "unknown kernel 'blob'"),
        ("gaussian:-1", "gaussian.sigma"),
        ("gaussian:2,4", "odd"),
        ("gaussian:two", "must be a number"),
        ("box:4", "odd"),
        ("motion:0.5", "motion.length"),
        ("motion:15,30,2", "at most 2 values"),
        ("disk:0", "radius must be > 0"),
        ("gaussian:sigma=2,width=3", "no parameter 'width'"),
        ("", "empty"),
    ],
)
def test_bad_specs_give_one_line_parameter_errors(spec, fragment):
    with pytest.raises(ParameterError) as exc:
        resolve_kernel(spec) if spec else make_kernel(spec)
    assert fragment in str(exc.value)
    assert "\n" not in str(exc.value)


def test_declaration_table_and_spec_round_trip():
    for name, decl in KERNELS.items():
        assert all(isinstance(p, Param) for p in decl.params)
        assert callable(decl.func) and decl.summary and "\n" not in decl.summary
        assert spec_usage(name, KERNELS).startswith(name + ":")
        k = make_kernel(name)  # defaults make a valid kernel
        assert k.sum() == pytest.approx(1.0)
    for spec in ("motion:15,30", "gaussian:sigma=2.5,size=13", "disk:4", "box:7"):
        name, bound = parse_declared(KERNELS, spec, kind="kernel")
        canon = format_declared(KERNELS, name, bound)
        assert parse_declared(KERNELS, canon, kind="kernel") == (name, bound)
    assert format_declared(KERNELS, "gaussian", {"sigma": 2.0, "size": None}) == "gaussian:2"
    assert describe_kernel("motion:15,30") == "motion length=15 angle=30"


def test_resolve_accepts_arrays_specs_and_paths(tmp_path):
    k = motion_kernel(9, 30)
    p = save_kernel(tmp_path / "k.npy", k)
    for given in (k, k * 7, k.tolist(), "motion:9,30", str(p), p):
        np.testing.assert_allclose(resolve_kernel(given), k, atol=1e-15)
    with pytest.raises(ParameterError, match="does not exist"):
        resolve_kernel(str(tmp_path / "missing.npy"))
    with pytest.raises(ParameterError, match="unknown kernel 'zigzag'"):
        resolve_kernel("zigzag")


def test_even_kernels_are_padded_keeping_the_convolution_origin():
    raw = np.random.default_rng(1).random((4, 6))
    k = check_kernel(raw)
    assert k.shape == (5, 7)
    img = np.random.default_rng(2).random((20, 23))
    np.testing.assert_allclose(ndimage.convolve(img, k), ndimage.convolve(img, raw / raw.sum()), atol=1e-12)


def test_npy_and_tif_round_trips_are_exact_png_is_close(tmp_path):
    k = motion_kernel(13, 20)
    np.testing.assert_array_equal(load_kernel(save_kernel(tmp_path / "k.npy", k)), k)
    np.testing.assert_array_equal(load_kernel(save_kernel(tmp_path / "k.tif", k)), k)
    png = save_kernel(tmp_path / "k.png", k)
    with Image.open(png) as im:
        assert im.mode.startswith("I")  # 16-bit
        assert ".npy" in im.info["Comment"]
    np.testing.assert_allclose(load_kernel(png), k, atol=1e-5 * k.max())
    with pytest.raises(ParameterError, match="unsupported format"):
        save_kernel(tmp_path / "k.jpg", k)


def test_image_kernels_any_depth_and_colour(tmp_path):
    line = np.zeros((5, 5), np.uint8)
    line[2, 1:4] = 255
    Image.fromarray(line).save(tmp_path / "k8.png")
    Image.fromarray(line.astype(np.uint16) * 200).save(tmp_path / "k16.png")
    Image.fromarray(np.stack([line] * 3, axis=2)).save(tmp_path / "krgb.png")
    want = line / line.sum()
    for name in ("k8.png", "k16.png", "krgb.png"):
        np.testing.assert_allclose(load_kernel(tmp_path / name), want, atol=1e-12)
    np.savetxt(tmp_path / "k.csv", want, delimiter=",")
    np.testing.assert_allclose(load_kernel(tmp_path / "k.csv"), want, atol=1e-12)


@pytest.mark.parametrize(
    "content,fragment",
    [
        (np.zeros((3, 3)), "all zeros"),
        (np.array([[0, -1, 0], [0, 3, 0], [0, 0, 0]], float), "negative"),
        (np.array([[0, np.nan, 0], [0, 1, 0], [0, 0, 0]]), "NaN"),
        (np.ones((3, 3, 3, 2)), "2-D"),
    ],
)
def test_bad_kernel_files_are_rejected_naming_the_file(tmp_path, content, fragment):
    p = tmp_path / "bad.npy"
    np.save(p, content)
    with pytest.raises(ParameterError) as exc:
        load_kernel(p)
    msg = str(exc.value)
    assert "bad.npy" in msg and fragment in msg and "\n" not in msg


def test_unreadable_and_missing_files(tmp_path):
    p = tmp_path / "junk.png"
    p.write_bytes(b"not an image\nat all")
    with pytest.raises(ParameterError) as exc:
        load_kernel(p)
    assert "junk.png" in str(exc.value) and "\n" not in str(exc.value)
    with pytest.raises(ParameterError, match="nope.npy' does not exist"):
        load_kernel(tmp_path / "nope.npy")


@pytest.mark.parametrize("radius", [1e-9, 1e-3, 0.004])
def test_a_disk_smaller_than_the_sampling_is_a_delta_not_nan(radius):
    # found by the property tests: a tiny radius left every sub-sample outside, and 0 / 0 followed
    k = disk_kernel(radius)
    assert np.isfinite(k).all() and k.sum() == pytest.approx(1.0)
