"""Enhancement methods: equalization, CLAHE, stretching, curves, histogram matching, unsharp mask, gray world."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from imagewizard.core import registry
from imagewizard.api import apply
from imagewizard.core.errors import ParameterError
from imagewizard.tasks.enhance.color import gray_world
from imagewizard.tasks.enhance.curves import gamma, log, sigmoid
from imagewizard.tasks.enhance.histogram import clahe, equalize, equalize_levels, match_histogram, stretch
from imagewizard.tasks.enhance.luminance import luminance, with_luminance
from imagewizard.tasks.enhance.sharpen import unsharp

METHODS = ["equalize", "clahe", "stretch", "gamma", "log", "sigmoid", "match-histogram", "unsharp", "gray-world"]


@pytest.fixture(scope="module")
def camera_u8() -> np.ndarray:
    from skimage import data

    return data.camera()[::4, ::4].copy()  # 128x128 uint8


@pytest.fixture(scope="module")
def color(photo) -> np.ndarray:
    return photo("astronaut", slice(None, None, 8), slice(None, None, 8))  # 64x64x3


def hue(rgb: np.ndarray) -> np.ndarray:
    from skimage.color import rgb2hsv

    return rgb2hsv(np.clip(rgb, 0, 1))[..., 0]


def hue_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    d = np.abs(hue(a) - hue(b))
    return np.minimum(d, 1.0 - d)


def test_methods_are_declared_for_enhance():
    names = {m.name for m in registry.methods("enhance")}
    assert set(METHODS) <= names
    assert registry.get("enhance", "match-histogram").needs == frozenset({"reference"})


@pytest.mark.parametrize("name", METHODS)
def test_shapes_dtype_range_and_determinism(name, camera_u8, color):
    for x in (camera_u8 / np.float32(255), color):
        kw = {"reference": color[::-1]} if name == "match-histogram" else {}
        out = apply("enhance", x, name, **kw)
        assert out.shape == x.shape and out.dtype == np.float32
        assert 0.0 <= out.min() and out.max() <= 1.0
        np.testing.assert_array_equal(out, apply("enhance", x, name, **kw))


def test_equalization_rule_by_hand():
    # L = 8 levels, 16 pixels: counts 4,4,0,0,4,0,0,4 at levels 0,1,4,7.
    levels = np.array([0, 1, 4, 7] * 4).reshape(4, 4)
    x = levels / np.float32(7)
    # T(k) = floor(7 * cdf(k)): cdf = 4/16, 8/16, 8/16, 8/16, 12/16, ..., 1 -> T = 1, 3, 3, 3, 5, 5, 5, 7.
    expected = np.array([1, 3, 5, 7] * 4).reshape(4, 4) / np.float32(7)
    np.testing.assert_allclose(equalize_levels(x, levels=8), expected, atol=1e-7)


def test_equalization_8bit_matches_course_rule_and_libraries(camera_u8):
    out = np.rint(equalize(camera_u8 / np.float32(255)) * 255).astype(int)
    counts = np.bincount(camera_u8.ravel(), minlength=256)
    table = np.floor(255 * np.cumsum(counts) / camera_u8.size + 1e-9).astype(int)
    np.testing.assert_array_equal(out, table[camera_u8])
    # OpenCV maps the lowest level to 0 and rounds; scikit-image returns the cdf itself.
    assert np.abs(out - cv2.equalizeHist(camera_u8).astype(int)).max() <= 1
    from skimage.exposure import equalize_hist

    assert np.abs(out / 255.0 - equalize_hist(camera_u8)).max() <= 1 / 255 + 1e-9


def test_equalization_flattens_the_histogram(camera_u8):
    out = np.rint(equalize(camera_u8 / np.float32(255)) * 255).astype(int)
    cdf = np.cumsum(np.bincount(out.ravel(), minlength=256)) / out.size
    assert np.abs(cdf - np.arange(1, 257) / 256).max() < 0.03


def test_luminance_equalization_keeps_hue_and_per_channel_does_not(color):
    lum = equalize(color, mode="luminance")
    per = equalize(color, mode="per-channel")
    chroma = color.max(2) - color.min(2) > 0.1
    assert hue_distance(lum, color)[chroma].max() < 1e-3
    assert hue_distance(per, color)[chroma].mean() > 0.01
    # The luminance itself is the equalized one.
    np.testing.assert_allclose(luminance(lum), equalize_levels(luminance(color)), atol=2e-3)
    g = equalize(color, mode="gray")
    assert np.array_equal(g[..., 0], g[..., 1]) and np.array_equal(g[..., 1], g[..., 2])


def test_with_luminance_is_exact_in_gamut_and_hue_preserving(color):
    target = np.random.default_rng(0).random(color.shape[:2]).astype(np.float32)
    out = with_luminance(color, target)
    assert 0 <= out.min() and out.max() <= 1
    np.testing.assert_allclose(luminance(out), target, atol=1e-5)
    ok = (color.max(2) - color.min(2) > 0.05) & (target > 0.02) & (target < 0.98)
    assert hue_distance(out, color)[ok].max() < 1e-3


def test_clahe_matches_scikit_image_with_mapped_clip_limit(camera_u8):
    from skimage.exposure import equalize_adapthist

    x = camera_u8 / np.float32(255)
    ref = equalize_adapthist(x, kernel_size=(16, 16), clip_limit=3.0 / 256, nbins=256)
    np.testing.assert_allclose(clahe(x, clip_limit=3.0, tiles=8), ref, atol=1e-6)


def test_clahe_raises_local_contrast_and_keeps_hue(color):
    low = (0.3 + 0.4 * color).astype(np.float32)
    out = clahe(low)
    assert out.std() > low.std()
    chroma = low.max(2) - low.min(2) > 0.05
    assert hue_distance(out, low)[chroma & (luminance(out) < 0.97)].max() < 1e-3


def test_stretch_maps_percentiles_and_keeps_hue(color):
    dim = (0.2 + 0.5 * color).astype(np.float32)
    out = stretch(dim, low=0, high=100)
    assert out.min() == 0.0 and out.max() == 1.0
    chroma = dim.max(2) - dim.min(2) > 0.05
    assert hue_distance(out, dim)[chroma].max() < 1e-3
    per = stretch(dim, low=1, high=99, per_channel=True)
    for c in range(3):
        lo, hi = np.percentile(dim[..., c], [1, 99])
        np.testing.assert_allclose(per[..., c], np.clip((dim[..., c] - lo) / (hi - lo), 0, 1), atol=1e-6)
    with pytest.raises(ParameterError, match="below"):
        stretch(dim, low=60, high=40)


def test_curves_match_scikit_image(color):
    from skimage import exposure

    np.testing.assert_allclose(gamma(color, gamma=0.4, gain=0.9), exposure.adjust_gamma(color, 0.4, 0.9), atol=1e-6)
    np.testing.assert_allclose(log(color, gain=0.8), exposure.adjust_log(color, 0.8), atol=1e-6)
    np.testing.assert_allclose(log(color, inverse=True), exposure.adjust_log(color, 1, inv=True), atol=1e-6)
    np.testing.assert_allclose(sigmoid(color, cutoff=0.4, gain=7), exposure.adjust_sigmoid(color, 0.4, 7), atol=1e-6)
    np.testing.assert_allclose(
        sigmoid(color, cutoff=0.4, gain=7, negative=True), exposure.adjust_sigmoid(color, 0.4, 7, inv=True), atol=1e-6
    )


def test_match_histogram_combinations(camera_u8, color):
    from skimage.exposure import match_histograms

    ref = color[::-1, ::-1] ** 2
    np.testing.assert_allclose(
        match_histogram(color, reference=ref), match_histograms(color, ref, channel_axis=-1), atol=1e-6
    )
    gray = camera_u8 / np.float32(255)
    out = match_histogram(gray, reference=ref)  # gray image, colour reference: its luminance
    np.testing.assert_allclose(out, match_histograms(gray, luminance(ref)), atol=1e-6)
    out = match_histogram(color, reference=gray)  # colour image, gray reference: luminance, hues kept
    chroma = color.max(2) - color.min(2) > 0.1
    assert hue_distance(out, color)[chroma & (luminance(out) < 0.97)].max() < 1e-3
    assert abs(np.median(luminance(out)) - np.median(gray)) < 0.03


def test_unsharp_matches_scikit_image_and_threshold_spares_flat_areas(camera_u8):
    from skimage.filters import unsharp_mask

    x = camera_u8 / np.float32(255)
    np.testing.assert_allclose(
        np.clip(unsharp(x, radius=2.0, amount=1.5), 0, 1), unsharp_mask(x, radius=2.0, amount=1.5), atol=1e-5
    )
    noisy = (0.5 + np.random.default_rng(0).normal(0, 1 / 255, (32, 32))).astype(np.float32)
    np.testing.assert_array_equal(unsharp(noisy, threshold=8.0), noisy)  # detail below 8 levels
    assert np.abs(unsharp(noisy) - noisy).max() > 0


def test_unsharp_on_colour_adds_the_same_detail_to_all_channels(color):
    out = unsharp(color, radius=1.0, amount=1.0)
    d = out - color
    np.testing.assert_allclose(d[..., 0], d[..., 1], atol=1e-6)
    np.testing.assert_allclose(d[..., 1], d[..., 2], atol=1e-6)


def test_gray_world_equalizes_channel_means(color):
    cast = (color * np.array([0.9, 0.6, 0.4], np.float32)).astype(np.float32)
    out = gray_world(cast)
    means = out.reshape(-1, 3).mean(0)
    assert np.ptp(means) < 1e-5
    assert abs(means.mean() - cast.mean()) < 1e-5  # brightness kept
    g = cast[..., 0]
    np.testing.assert_array_equal(gray_world(g), g)


def test_stretch_maps_the_percentiles_to_the_given_output_levels():
    x = np.linspace(0.3, 0.6, 1001, dtype=np.float32).reshape(7, 143)
    out = apply("enhance", x, "stretch", low=0, high=100, black=0.04, white=0.95)
    assert out.min() == pytest.approx(0.04, abs=1e-6) and out.max() == pytest.approx(0.95, abs=1e-6)
    np.testing.assert_allclose(out, 0.04 + 0.91 * (x - 0.3) / 0.3, atol=1e-5)
    with pytest.raises(ParameterError, match="black"):
        apply("enhance", x, "stretch", black=0.9, white=0.1)


def test_brightening_keeps_saturation_and_hue():
    import skimage.color as skc

    from imagewizard.samples import sample
    from imagewizard.tasks.enhance.luminance import with_luminance

    img = sample("astronaut")[::2, ::2]
    dark = ((img.astype(np.float64) ** 2.2) * 0.1) ** (1 / 2.2)  # ~3.3 stops darker in linear light
    sat = skc.rgb2hsv(dark)[..., 1].mean()
    for method in ("clahe", "equalize"):
        out = apply("enhance", dark.astype(np.float32), method)
        assert skc.rgb2hsv(out)[..., 1].mean() > 0.9 * sat  # was 0.118 vs 0.357 with the complementary map
    # in gamut: an exact scaling (saturation unchanged); out of gamut: brightest channel at 1, same hue
    rgb = np.array([[[0.2, 0.1, 0.05], [0.6, 0.3, 0.1]]], np.float32)
    ny = np.array([[0.3, 0.8]], np.float32)
    out = with_luminance(rgb, ny)
    np.testing.assert_allclose(out @ np.array([0.299, 0.587, 0.114]), ny, atol=1e-6)
    y0 = rgb[0, 0] @ np.array([0.299, 0.587, 0.114])
    np.testing.assert_allclose(out[0, 0], rgb[0, 0] * (0.3 / y0), atol=1e-6)
    assert out[0, 1].max() == pytest.approx(1.0)
    h_in, h_out = skc.rgb2hsv(rgb)[..., 0], skc.rgb2hsv(out)[..., 0]
    np.testing.assert_allclose(h_out, h_in, atol=1e-6)


def test_exposure_undoes_a_linear_light_darkening_and_keeps_hue():
    from imagewizard.samples import sample
    from imagewizard.tasks.enhance.exposure import auto_stops, exposure, linear_to_srgb, log_average, srgb_to_linear

    img = sample("astronaut")[::4, ::4].astype(np.float32)
    dark = linear_to_srgb(srgb_to_linear(img) / 2**3.5).astype(np.float32)
    np.testing.assert_allclose(exposure(dark, stops=3.5, knee=1.0), img, atol=2e-3)  # 8-bit-free: exact inverse
    assert auto_stops(dark) == pytest.approx(np.log2(0.13 / log_average(dark)))
    assert auto_stops(img) == pytest.approx(max(0.0, np.log2(0.13 / log_average(img))))
    out = exposure(dark)  # auto
    assert out.min() >= 0 and out.max() <= 1
    assert log_average(out) == pytest.approx(0.13, rel=0.01)  # at a typical key, the shoulder included
    # linear-light ratios between channels (hue and saturation) are kept, highlights included
    lin_in, lin_out = srgb_to_linear(dark), srgb_to_linear(exposure(dark, stops=5.0))
    bright = lin_in.max(axis=-1) > 1e-3
    ratio_in = lin_in[bright] / lin_in[bright].max(axis=-1, keepdims=True)
    ratio_out = lin_out[bright] / lin_out[bright].max(axis=-1, keepdims=True)
    np.testing.assert_allclose(ratio_out, ratio_in, atol=2e-3)
    ramp = np.linspace(0, 1, 256, dtype=np.float32)[None]
    assert np.all(np.diff(exposure(ramp, stops=2.0)) >= 0)  # monotone, rolls off into white


def test_wizard_lifts_an_underexposed_photo_after_denoising_but_not_a_dark_scene():
    from imagewizard.physics.degrade import degrade
    from imagewizard.run.wizard import plan
    from imagewizard.samples import sample
    from imagewizard.tasks.enhance.exposure import linear_to_srgb, srgb_to_linear

    img = sample("astronaut")[::2, ::2].astype(np.float32)
    dark = linear_to_srgb(srgb_to_linear(img) / 2**3.5).astype(np.float32)
    noisy = degrade(dark, noise="camera:3200", seed=0, protocol="uint8").image
    steps = [(s.task, s.method) for s in plan(noisy).pipeline.steps]
    assert steps[0][0] == "denoise" and steps[-1] == ("enhance", "exposure")
    night = dark.copy()  # a scene meant to be dark keeps its lights: no exposure change
    night[:20, :20] = 0.95
    decided = plan(night)
    assert decided.pipeline is None or all(s.method != "exposure" for s in decided.pipeline.steps)


def test_stretch_with_max_range_only_touches_images_spanning_less():
    narrow = np.linspace(0.4, 0.6, 101, dtype=np.float32).reshape(1, -1)
    wide = np.linspace(0.1, 0.9, 101, dtype=np.float32).reshape(1, -1)
    np.testing.assert_array_equal(stretch(wide, low=1, high=99, max_range=0.5), wide)
    np.testing.assert_allclose(stretch(narrow, low=1, high=99, max_range=0.5), stretch(narrow, low=1, high=99))
    assert float(stretch(narrow, low=0, high=100, max_range=0.5).max()) == 1.0
