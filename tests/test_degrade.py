"""Degradation models: noise statistics, blur against references, masks, JPEG, downscaling, specs, seeds."""

from __future__ import annotations

import math

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from imagewizard.physics.degrade import (
    BLUR_MODES,
    MASKS,
    NOISES,
    apply_mask,
    blur,
    box_mask,
    degrade,
    derive_seed,
    downscale,
    format_degrade_spec,
    gaussian_noise,
    jpeg_compress,
    parse_degrade_spec,
    poisson_noise,
    random_pixel_mask,
    salt_pepper_noise,
    scribble_mask,
    speckle_noise,
    text_mask,
)
from imagewizard.core.errors import ParameterError
from imagewizard.physics.kernels import make_kernel, save_kernel
from imagewizard.core.registry import Param


def _psnr(a, b):
    return 10 * math.log10(1.0 / np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2))


@pytest.fixture(scope="module")
def camera():
    from skimage import data

    return data.camera()  # 512x512 uint8, with saturated blacks and whites


@pytest.fixture(scope="module")
def textured():
    rng = np.random.default_rng(5)
    base = ndimage.gaussian_filter(rng.random((64, 64, 3)), (2, 2, 0))
    base = (base - base.min()) / (base.max() - base.min())
    return (np.round(base * 255) / 255).astype(np.float32)


# --------------------------------------------------------------------------- noise


def test_gaussian_noise_std_and_mean_on_flat_image():
    flat = np.full((512, 512), 0.5, np.float32)
    out = gaussian_noise(flat, 25, rng=0)
    assert out.dtype == np.float32
    assert (out - 0.5).std() * 255 == pytest.approx(25, rel=0.01)
    assert abs((out - 0.5).mean() * 255) < 0.2
    shifted = gaussian_noise(flat, 5, mean=10, rng=0)
    assert (shifted - 0.5).mean() * 255 == pytest.approx(10, abs=0.1)


def test_done_criterion_psnr_of_sigma_25(camera):
    clean = camera.astype(np.float64) / 255
    res = degrade(camera, noise=["gaussian:25"], seed=0, protocol="float")
    assert _psnr(res.image, clean) == pytest.approx(20 * math.log10(255 / 25), abs=0.05)
    assert res.image.dtype == np.float32
    assert res.image.min() < 0 and res.image.max() > 1  # unclipped
    res8 = degrade(camera, noise=["gaussian:25"], seed=0, protocol="uint8")
    assert 20.1 < _psnr(res8.image, clean) < 20.8
    assert res8.image.min() >= 0 and res8.image.max() <= 1
    np.testing.assert_allclose(res8.image * 255, np.round(res8.image * 255), atol=1e-4)
    assert res8.steps[-1] == "clip and round to 8 bits"


def test_salt_pepper_exact_fraction_and_ratio_whole_pixels():
    img = np.full((100, 80, 3), 0.5, np.float32)
    out = salt_pepper_noise(img, amount=0.1, salt_ratio=0.3, rng=3)
    hit = (out != 0.5).any(axis=2)
    assert hit.sum() == 800
    assert (out[hit] == out[hit][:, :1]).all()  # all channels together
    assert (out[hit][:, 0] == 1).sum() == 240 and (out[hit][:, 0] == 0).sum() == 560
    np.testing.assert_array_equal(out[~hit], 0.5)


@pytest.mark.parametrize("level", [0.2, 0.7])
def test_speckle_preserves_mean_and_scales_std_with_intensity(level):
    out = speckle_noise(np.full((400, 400), level), sigma=0.3, rng=1)
    assert out.mean() == pytest.approx(level, rel=0.005)
    assert out.std() == pytest.approx(0.3 * level, rel=0.01)


@pytest.mark.parametrize("level,peak", [(0.2, 30.0), (0.8, 100.0)])
def test_poisson_mean_preserved_variance_is_level_over_peak(level, peak):
    out = poisson_noise(np.full((400, 400), level), peak=peak, rng=2)
    assert out.mean() == pytest.approx(level, rel=0.005)
    assert out.var() == pytest.approx(level / peak, rel=0.02)
    np.testing.assert_allclose(out * peak, np.round(out * peak), atol=1e-3)  # photon counts


def test_poisson_treats_negative_values_as_dark():
    out = poisson_noise(np.array([[-0.5, 0.0]]), 30, rng=0)
    np.testing.assert_array_equal(out, 0)


def test_colour_noise_is_independent_per_channel():
    out = gaussian_noise(np.zeros((200, 200, 3)), 25, rng=0)
    c = np.corrcoef(out.reshape(-1, 3).T)
    assert np.abs(c[np.triu_indices(3, 1)]).max() < 0.02


# --------------------------------------------------------------------------- blur


@pytest.mark.parametrize("mode", BLUR_MODES)
def test_blur_equals_scipy_convolve_for_every_mode(mode):
    img = np.random.default_rng(0).random((30, 33, 3)).astype(np.float32)
    k = make_kernel("motion:9,30")
    out = blur(img, k, mode=mode)
    ref = np.stack([ndimage.convolve(img[..., c].astype(np.float64), k, mode=mode) for c in range(3)], axis=2)
    assert out.shape == img.shape and out.dtype == np.float32
    np.testing.assert_allclose(out, ref, atol=1e-5)


def test_blur_matches_cv2_filter2d_and_takes_specs_and_files(tmp_path):
    import cv2

    img = np.random.default_rng(1).random((25, 31)).astype(np.float32)
    k = make_kernel("motion:7,60")
    ref = cv2.filter2D(img, -1, k[::-1, ::-1].copy(), borderType=cv2.BORDER_REFLECT)
    np.testing.assert_allclose(blur(img, k), ref, atol=1e-5)
    path = save_kernel(tmp_path / "k.npy", k)
    np.testing.assert_array_equal(blur(img, "motion:7,60"), blur(img, path))


def test_wrap_mode_is_circular_convolution():
    img = np.random.default_rng(2).random((32, 32))
    k = make_kernel("gaussian:1.5")
    big = np.zeros_like(img)
    big[: k.shape[0], : k.shape[1]] = k
    big = np.roll(big, (-(k.shape[0] // 2), -(k.shape[1] // 2)), axis=(0, 1))
    ref = np.real(np.fft.ifft2(np.fft.fft2(img) * np.fft.fft2(big)))
    np.testing.assert_allclose(blur(img, k, mode="wrap"), ref, atol=1e-5)


# --------------------------------------------------------------------------- masks


def test_pixel_mask_fraction_is_exact():
    m = random_pixel_mask((50, 40), 0.37, rng=0)
    assert m.dtype == bool and m.shape == (50, 40)
    assert m.sum() == round(0.37 * 2000)


def test_box_mask_area_and_position():
    m = box_mask((40, 60), 0.25, rng=0)
    ys, xs = np.nonzero(m)
    assert m.sum() == 20 * 30
    assert ys.max() - ys.min() + 1 == 20 and xs.max() - xs.min() + 1 == 30
    c = box_mask((40, 60), 0.25, center=True)
    assert c[10:30, 15:45].all() and c.sum() == 600


def test_scribble_and_text_masks_cover_plausible_fractions():
    fr = [scribble_mask((128, 128), 8, 5, rng=s).mean() for s in range(4)]
    assert 0.03 < np.mean(fr) < 0.25
    assert scribble_mask((128, 128), 0, 5, rng=0).sum() == 0
    more = np.mean([scribble_mask((128, 128), 16, 5, rng=s).mean() for s in range(4)])
    assert more > np.mean(fr)
    t = text_mask((128, 192), "Hello", rng=0)
    assert t.shape == (128, 192) and 0.03 < t.mean() < 0.3  # OpenCV 5 draws small text thinner (0.049)
    assert not np.array_equal(t, text_mask((128, 192), "Hello", rng=1))


def test_apply_mask_fills_all_channels():
    img = np.full((4, 5, 3), 0.7, np.float32)
    m = np.zeros((4, 5), bool)
    m[1, 2] = True
    out = apply_mask(img, m, fill=0.25)
    assert (out[1, 2] == 0.25).all() and (out[~m] == np.float32(0.7)).all()
    assert (img == np.float32(0.7)).all()  # input untouched
    with pytest.raises(ParameterError, match="does not match"):
        apply_mask(img, np.zeros((5, 4), bool))


# --------------------------------------------------------------------------- JPEG and downscaling


def test_jpeg_psnr_rises_with_quality(textured):
    scores = [_psnr(jpeg_compress(textured, q), textured) for q in (5, 20, 50, 90)]
    assert all(a < b for a, b in zip(scores, scores[1:])), scores
    out = jpeg_compress(textured, 50)
    assert out.shape == textured.shape and out.dtype == np.float32
    np.testing.assert_allclose(out * 255, np.round(out * 255), atol=1e-4)
    gray = jpeg_compress(textured[..., 0], 50)
    assert gray.shape == (64, 64)
    with pytest.raises(ParameterError, match="jpeg.quality"):
        jpeg_compress(textured, 0)


def test_downscale_shapes_crop_to_a_multiple():
    img = np.zeros((50, 37, 3), np.float32)
    assert downscale(img, 2).shape == (25, 18, 3)
    assert downscale(img, 3).shape == (16, 12, 3)
    assert downscale(img[..., 0], 4).shape == (12, 9)
    np.testing.assert_allclose(downscale(np.full((12, 12), 0.3), 3), 0.3, atol=1e-6)


@pytest.mark.parametrize("factor", [2, 3, 4])
def test_downscale_matches_pil_bicubic_away_from_borders(factor):
    # Pillow uses the same a=-0.5 cubic stretched by the factor; only border handling differs.
    img = np.random.default_rng(factor).random((48, 40)).astype(np.float32)
    out = downscale(img, factor)
    h, w = out.shape
    ref = np.asarray(Image.fromarray(img[: h * factor, : w * factor]).resize((w, h), Image.Resampling.BICUBIC))
    np.testing.assert_allclose(out[2:-2, 2:-2], ref[2:-2, 2:-2], atol=1e-5)


def test_downscale_samples_a_ramp_at_the_pixel_area_centres():
    x = np.tile(np.arange(48, dtype=np.float64), (8, 1)) / 47
    out = downscale(x, 4)
    expected = ((np.arange(12) + 0.5) * 4 - 0.5) / 47  # output i sits at input (i + 0.5) * f - 0.5
    np.testing.assert_allclose(out[:, 2:-2], np.tile(expected, (2, 1))[:, 2:-2], atol=1e-6)


# --------------------------------------------------------------------------- degrade


def test_fixed_order_steps_spec_and_outputs(textured):
    res = degrade(textured, mask="box:0.25", jpeg=40, noise=["gaussian:5"], downscale=2, blur="motion:7,30", seed=3)
    assert [s.split()[0] for s in res.steps] == ["blur", "downscale", "noise", "jpeg", "mask"]
    assert res.steps[0] == "blur motion length=7 angle=30"
    assert res.steps[2] == "noise gaussian sigma=5"
    assert res.image.shape == (32, 32, 3) and res.mask.shape == (32, 32)
    assert (res.image[res.mask] == 0).all()
    np.testing.assert_array_equal(res.kernel, make_kernel("motion:7,30"))
    assert res.spec == "blur=motion:7,30+downscale=2+gaussian:5+jpeg=40+mask=box:0.25"
    again = degrade(textured, **parse_degrade_spec(res.spec), seed=3)
    np.testing.assert_array_equal(again.image, res.image)


def test_blur_then_noise_equals_the_parts(textured):
    res = degrade(textured, blur="gaussian:1.2", blur_mode="wrap", seed=0)
    np.testing.assert_array_equal(res.image, blur(textured, "gaussian:1.2", mode="wrap"))
    assert res.steps == ["blur gaussian sigma=1.2 boundary=wrap"]
    assert res.spec == "blur=gaussian:1.2+blur_mode=wrap"


def test_seeds_determinism_and_independent_streams(textured):
    a = degrade(textured, noise=["gaussian:25", "salt-pepper:0.05"], mask="lines:6,3", seed=11)
    b = degrade(textured, noise=["gaussian:25", "salt-pepper:0.05"], mask="lines:6,3", seed=11)
    c = degrade(textured, noise=["gaussian:25", "salt-pepper:0.05"], mask="lines:6,3", seed=12)
    np.testing.assert_array_equal(a.image, b.image)
    np.testing.assert_array_equal(a.mask, b.mask)
    assert not np.array_equal(a.image, c.image) and not np.array_equal(a.mask, c.mask)
    # the mask has its own stream: adding JPEG or changing the noise does not move it
    d = degrade(textured, noise=["poisson:30"], jpeg=50, mask="lines:6,3", seed=11)
    np.testing.assert_array_equal(a.mask, d.mask)
    r = degrade(textured, noise=["gaussian:5"], seed=None)
    np.testing.assert_array_equal(degrade(textured, noise=["gaussian:5"], seed=r.seed).image, r.image)


def test_derive_seed_is_stable_and_type_aware():
    assert derive_seed(0) == 8092923473078854532  # fixed forever: benchmarks depend on it
    assert derive_seed(0, "bsd68", 3) == 4463869717250478788
    assert derive_seed(0, "bsd68", np.int64(3)) == derive_seed(0, "bsd68", 3)
    assert derive_seed(0, "3") != derive_seed(0, 3)
    assert derive_seed(0, "a", "b") != derive_seed(0, "ab")
    assert 0 <= derive_seed(123, 4.5) < 2**63


def test_alpha_is_carried_and_degrade_accepts_uint8(camera):
    rgba = np.dstack([np.repeat(camera[:64, :64, None], 3, axis=2), np.full((64, 64), 255, np.uint8)])
    res = degrade(rgba, noise="gaussian:10", downscale=2, protocol="uint8")
    assert res.image.shape == (32, 32, 4)
    np.testing.assert_allclose(res.image[..., 3], 1.0)


@pytest.mark.parametrize(
    "text,expected",
    [
        ("gaussian:25", {"noise": ["gaussian:25"]}),
        ("gaussian:sigma=25,mean=0", {"noise": ["gaussian:sigma=25,mean=0"]}),
        ("blur=motion:15,30+gaussian:2", {"blur": "motion:15,30", "noise": ["gaussian:2"]}),
        ("mask=text", {"mask": "text"}),
        ("mask=text:Hello World", {"mask": "text:Hello World"}),
        ("jpeg=30", {"jpeg": 30}),
        (" downscale=4 + poisson:30 + noise=gaussian:2 ", {"downscale": 4, "noise": ["poisson:30", "gaussian:2"]}),
        (
            "salt-pepper:0.1,0.5+blur-mode=wrap+blur=disk:3",
            {"noise": ["salt-pepper:0.1,0.5"], "blur_mode": "wrap", "blur": "disk:3"},
        ),
        ("downscale=1", {"downscale": 1}),
        ("contrast=0.5+gaussian:10", {"contrast": 0.5, "noise": ["gaussian:10"]}),
        ("none", {}),
    ],
)
def test_parse_degrade_spec_examples(text, expected):
    base = {
        "noise": [],
        "blur": None,
        "blur_mode": "reflect",
        "downscale": None,
        "jpeg": None,
        "mask": None,
        "contrast": None,
    }
    assert parse_degrade_spec(text) == {**base, **expected}


@pytest.mark.parametrize(
    "text,fragment",
    [
        ("foo:1", "unknown noise 'foo'"),
        ("gaussian:300", "gaussian.sigma"),
        ("gaussian:25++jpeg=30", "empty part"),
        ("jpeg=0", "jpeg.quality"),
        ("jpeg=abc", "must be an integer"),
        ("jpeg=30+jpeg=40", "'jpeg' given twice"),
        ("blur=motion:0", "motion.length"),
        ("blur=nothere.npy", "does not exist"),
        ("mask=pixels:2", "pixels.fraction"),
        ("mask=stars", "unknown mask 'stars'"),
        ("text", "write masks as mask=text"),
        ("downscale=0", "downscale.factor"),
        ("contrast=0", "contrast must be > 0"),
        ("contrast=1.5", "contrast.factor"),
        ("wat=3", "unknown key 'wat'"),
        ("blur_mode=circular", "blur_mode must be one of"),
        ("salt-pepper:0.1,0.5,3", "at most 2 values"),
        ("", "empty degradation spec"),
    ],
)
def test_bad_degrade_specs_give_one_line_errors(text, fragment):
    with pytest.raises(ParameterError) as exc:
        parse_degrade_spec(text)
    assert fragment in str(exc.value) and "\n" not in str(exc.value)


@pytest.mark.parametrize(
    "kwargs,fragment",
    [
        ({"protocol": "int8"}, "protocol"),
        ({"seed": -1}, "seed"),
        ({"noise": ["gaussian:25", "speckle:x"]}, "speckle.sigma"),
        ({"mask": "text:Grüße"}, "ASCII"),
        ({"mask": np.zeros((3, 3), bool)}, "does not match"),
        ({"blur": "gaussian:2", "blur_mode": "periodic"}, "blur_mode"),
    ],
)
def test_degrade_rejects_bad_arguments(textured, kwargs, fragment):
    with pytest.raises(ParameterError) as exc:
        degrade(textured, **kwargs)
    assert fragment in str(exc.value) and "\n" not in str(exc.value)


def test_declaration_tables_drive_specs():
    for table in (NOISES, MASKS):
        for name, decl in table.items():
            assert all(isinstance(p, Param) for p in decl.params)
            assert decl.summary and "\n" not in decl.summary
            assert parse_degrade_spec(name if table is NOISES else f"mask={name}")  # defaults are valid
    assert set(NOISES) == {"gaussian", "salt-pepper", "speckle", "poisson", "camera"}
    assert set(MASKS) == {"pixels", "lines", "box", "text"}
    assert format_degrade_spec(noise="gaussian:sigma=25,mean=0") == "gaussian:25"


def test_contrast_pulls_tones_toward_mid_grey_before_the_noise(textured):
    res = degrade(textured, contrast=0.5, noise="gaussian:0", seed=0)
    np.testing.assert_allclose(res.image, 0.5 + 0.5 * (textured.astype(np.float32) - 0.5), atol=1e-6)
    assert res.steps[0].startswith("contrast x0.5") and res.spec.startswith("contrast=0.5")
    assert degrade(textured, contrast=1.0, seed=0).spec == "none"  # 1 changes nothing
