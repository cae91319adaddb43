"""Blind image analysis: noise level/type, blur, blockiness, tone."""

import io
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image
from skimage import data
from skimage.restoration import estimate_sigma

from imagewizard.analysis import estimate as est

BSDS_TRAIN = Path(__file__).resolve().parents[2] / "shared" / "data" / "bsds500" / "images" / "train"


def _crop(img, size=256):
    return img[:size, :size].astype(np.float64) / 255.0


@pytest.fixture(scope="module")
def images():
    """Textured test images that ship with scikit-image (256x256 crops)."""
    return {
        "camera": _crop(data.camera()),
        "astronaut": _crop(data.astronaut()[100:, 100:]),
        "coffee": _crop(data.coffee()[50:, 150:]),
    }


def _noisy(img, sigma, seed=0):
    return img + np.random.default_rng(seed).normal(0, sigma / 255.0, img.shape)


# --------------------------------------------------------------------------- noise_sigma


@pytest.mark.parametrize("name", ["camera", "astronaut", "coffee"])
@pytest.mark.parametrize("sigma", [5, 15, 30, 50])
def test_noise_sigma_accurate_on_textured_images(images, name, sigma):
    got = est.noise_sigma(_noisy(images[name], sigma, seed=sigma))
    assert abs(got - sigma) <= max(0.1 * sigma, 1.0)


def test_noise_sigma_beats_wavelet_mad_at_low_noise(images):
    # the MAD estimator mistakes texture for noise; ours must be markedly closer
    errs_ours, errs_mad = [], []
    for name, img in images.items():
        noisy = _noisy(img, 5, seed=1)
        axis = -1 if noisy.ndim == 3 else None
        errs_ours.append(abs(est.noise_sigma(noisy) - 5))
        errs_mad.append(abs(255 * estimate_sigma(noisy, channel_axis=axis, average_sigmas=True) - 5))
    assert np.mean(errs_ours) < 0.5 * np.mean(errs_mad)


def test_noise_sigma_clean_is_near_zero(images):
    for img in images.values():
        assert est.noise_sigma(img) < 1.0
    assert est.noise_sigma(np.full((64, 64), 0.3)) == pytest.approx(0.0, abs=1e-6)


def test_noise_sigma_monotone(images):
    img = images["astronaut"]
    values = [est.noise_sigma(_noisy(img, s, seed=7)) for s in (0, 2, 5, 12, 30, 75)]
    assert all(b > a for a, b in zip(values, values[1:])), values


def test_noise_sigma_clipped_8bit(images):
    for sigma in (10, 25, 50):
        x = np.clip(_noisy(images["camera"], sigma, seed=3), 0, 1)
        x8 = np.round(x * 255).astype(np.uint8)
        assert abs(est.noise_sigma(x8) - sigma) <= 0.1 * sigma


def test_noise_sigma_agrees_with_skimage_on_flat_noise():
    rng = np.random.default_rng(5)
    for sigma in (3, 10, 30):
        flat = 0.5 + rng.normal(0, sigma / 255, (256, 256))
        ours = est.noise_sigma(flat)
        theirs = 255 * estimate_sigma(flat, channel_axis=None)
        assert ours == pytest.approx(sigma, rel=0.04)
        assert theirs == pytest.approx(sigma, rel=0.04)
        assert ours == pytest.approx(theirs, rel=0.05)


def test_noise_sigma_inputs():
    rng = np.random.default_rng(2)
    rgba = np.concatenate([0.5 + rng.normal(0, 10 / 255, (64, 64, 3)), np.ones((64, 64, 1))], axis=2)
    assert est.noise_sigma(rgba) == pytest.approx(10, rel=0.1)
    tiny = 0.5 + rng.normal(0, 20 / 255, (10, 10))  # too small for patches: wavelet MAD fallback
    assert 5 < est.noise_sigma(tiny) < 60


def test_noise_levels_follow_the_noise_model():
    ramp = np.tile(np.linspace(0.05, 0.95, 256), (192, 1))
    rng = np.random.default_rng(4)
    flat = [lv["sigma"] for lv in est.noise_levels(ramp + rng.normal(0, 10 / 255, ramp.shape))]
    assert len(flat) >= 6 and max(flat) / min(flat) < 1.2
    shot = est.noise_levels(rng.poisson(ramp * 255) / 255.0)
    assert shot[-1]["mean"] > 3 * shot[0]["mean"]
    # Poisson: sigma = sqrt(intensity) on the 0..255 scale
    for lv in shot:
        assert lv["sigma"] == pytest.approx(np.sqrt(lv["mean"]), rel=0.15)


# --------------------------------------------------------------------------- noise_type


def _speckle(img, rng):
    return img + img * rng.normal(0, 0.1, img.shape)


def _salt_pepper(img, rng):
    out = img.copy()
    hit = rng.random(img.shape) < 0.05
    out[hit] = rng.integers(0, 2, int(hit.sum()))
    return out


@pytest.mark.parametrize("name", ["camera", "astronaut"])
def test_noise_type_synthetic(images, name):
    img = images[name]
    rng = np.random.default_rng(11)
    assert est.noise_type(img)[0] == "none"
    kind, ev = est.noise_type(img + rng.normal(0, 15 / 255, img.shape))
    assert kind == "gaussian" and ev["signal_dependent_share"] < 0.5
    kind, ev = est.noise_type(rng.poisson(img * 255) / 255.0)
    assert kind == "poisson" and ev["signal_dependent_share"] >= 0.5
    kind, ev = est.noise_type(_speckle(img, rng))
    assert kind == "speckle" and ev["variance_exponent"] > 1.0
    kind, ev = est.noise_type(_salt_pepper(img, rng))
    assert kind == "salt-pepper" and ev["impulse_fraction"] == pytest.approx(0.05 * 0.75, rel=0.5)


def test_noise_type_heavy_clipped_gaussian_is_not_impulses(images):
    x = np.clip(_noisy(images["camera"], 50, seed=9), 0, 1)
    kind, ev = est.noise_type(x)
    assert kind == "gaussian"
    assert ev["impulse_purity"] < 0.6


def test_noise_type_narrow_intensity_range_is_unknown():
    flat = 0.5 + np.random.default_rng(3).normal(0, 10 / 255, (96, 96))
    kind, ev = est.noise_type(flat)
    assert kind == "unknown" and ev["sigma"] == pytest.approx(10, rel=0.1)


# --------------------------------------------------------------------------- blur, blocks, tone


def test_blur_flag(images):
    for img in images.values():
        blurred = cv2.GaussianBlur(img, (0, 0), 2)
        assert not est.is_blurred(img)
        assert est.is_blurred(blurred)
        assert est.sharpness(blurred) < est.sharpness(img)
        # noise does not pass for detail
        assert est.is_blurred(_noisy(blurred, 10, seed=1))
        assert not est.is_blurred(_noisy(img, 10, seed=1))
    assert not est.is_blurred(np.full((32, 32), 0.5))


def _jpeg(img, quality):
    buf = io.BytesIO()
    Image.fromarray(np.round(img * 255).astype(np.uint8)).save(buf, "JPEG", quality=quality)
    return np.asarray(Image.open(buf))


def test_blockiness_after_jpeg(images):
    for img in images.values():
        q95, q10 = est.blockiness(_jpeg(img, 95)), est.blockiness(_jpeg(img, 10))
        assert q10 > q95
        assert q95 < est.BLOCKY_THRESHOLD < q10
        # the block grid is found when a crop shifts it
        assert est.blockiness(_jpeg(img, 10)[3:, 5:]) > est.BLOCKY_THRESHOLD


@pytest.mark.parametrize("quality", [8, 25, 50, 90])
def test_jpeg_quality_is_recovered_from_pixels(images, quality):
    from imagewizard.physics.degrade import jpeg_compress

    for name, img in images.items():
        q, exact = est.jpeg_quality(jpeg_compress(img, quality))
        assert q == quality
        assert exact or img.ndim == 3  # colour: chroma subsampling can leave more than rounding
    # saved by Pillow (libjpeg's standard tables as well) and cropped off the 8x8 grid
    assert est.jpeg_quality(_jpeg(images["camera"], quality)[3:, 5:] / 255.0)[0] == quality
    assert est.jpeg_quality(images["camera"]) == (None, False)  # never a JPEG: no dip


@pytest.mark.parametrize("quality,iso", [(75, 6400), (85, 1600)])
def test_jpeg_quality_is_recovered_under_camera_noise(quality, iso):
    # chroma-heavy camera noise keeps the colour round trip from being idempotent (the colour curve
    # alone missed quality 75 here on every seed); the luma curve finds it
    from imagewizard.physics.degrade import degrade

    x = data.astronaut()[100:292, 150:342].astype(np.float32) / 255.0
    for seed in range(3):
        noisy = degrade(x, noise=f"camera:{iso}", jpeg=quality, seed=seed, protocol="uint8").image
        assert est.jpeg_quality(noisy)[0] == quality
        assert est.jpeg_quality(degrade(x, noise=f"camera:{iso}", seed=seed, protocol="uint8").image)[0] is None


def test_flat_blocks_on_the_grid_are_no_jpeg_evidence():
    # 8x8 flat colour blocks survive re-encoding at almost any quality: no quality is claimed
    rng = np.random.default_rng(0)
    blocks = np.kron(rng.random((24, 32, 3)), np.ones((8, 8, 1))).astype(np.float32)
    assert est.jpeg_quality(np.round(blocks * 255) / 255) == (None, False)


def test_poisson_fit_recovers_the_peak(images):
    from imagewizard.physics.degrade import poisson_noise

    for peak in (10, 30, 100):
        _, ev = est.noise_type(poisson_noise(images["camera"], peak=peak, rng=0))
        assert 0.7 * peak < 255.0 / ev["poisson_fit"][1] < 1.3 * peak


def test_exposure_and_contrast(images):
    cam = images["camera"]
    assert est.exposure(cam)["exposure"] == "ok"
    assert est.exposure(cam * 0.3)["exposure"] == "under"
    assert est.exposure(np.clip(cam * 2.0 + 0.3, 0, 1))["exposure"] == "over"
    crushed = est.exposure(np.clip(cam * 1.5 - 0.3, 0, 1))
    assert crushed["dark_clipped"] > 0.05 and crushed["exposure"] == "under"
    assert not est.contrast(cam)["low_contrast"]
    dull = est.contrast(0.45 + 0.1 * cam)
    assert dull["low_contrast"] and dull["spread"] == pytest.approx(0.1 * est.contrast(cam)["spread"], rel=0.02)


def test_histogram_stats():
    x = np.linspace(0, 1, 101 * 3).reshape(101, 3)
    stats = est.histogram_stats(x)
    assert stats["min"] == 0.0 and stats["max"] == 1.0
    assert stats["mean"] == pytest.approx(0.5, abs=1e-6)
    assert stats["p1"] == pytest.approx(0.01, abs=1e-3) and stats["p99"] == pytest.approx(0.99, abs=1e-3)
    assert "channel_means" not in stats


def test_analyze_report(images):
    rng = np.random.default_rng(0)
    noisy = np.clip(images["astronaut"] + rng.normal(0, 20 / 255, images["astronaut"].shape), 0, 1)
    rgba = np.concatenate([noisy, np.ones(noisy.shape[:2] + (1,))], axis=2)
    info = est.analyze((rgba * 255).round().astype(np.uint8))
    json.dumps(info)  # plain JSON types only
    assert (info["height"], info["width"], info["channels"], info["alpha"]) == (256, 256, 3, True)
    assert info["dtype"] == "uint8"
    assert info["noise_type"] == "gaussian" and info["noise_sigma"] == pytest.approx(20, rel=0.1)
    assert not info["likely_blurred"] and not info["likely_blocky"]
    assert info["exposure"] in ("ok", "under", "over")
    for key in (
        "min",
        "max",
        "mean",
        "std",
        "p1",
        "p99",
        "range_used",
        "low_contrast",
        "sharpness",
        "detail_ratio",
        "blockiness",
        "dark_clipped",
        "bright_clipped",
        "mean_luminance",
    ):
        assert key in info


@pytest.mark.skipif(not BSDS_TRAIN.is_dir(), reason="BSDS500 data not present")
def test_noise_sigma_on_bsds_train():
    files = sorted(BSDS_TRAIN.glob("*.jpg"))[:3]
    errors = []
    for i, f in enumerate(files):
        clean = np.asarray(Image.open(f).convert("RGB"), np.float32) / 255.0
        for sigma in (5, 25):
            errors.append(est.noise_sigma(_noisy(clean, sigma, seed=i)) - sigma)
    assert np.mean(np.abs(errors)) < 0.6
