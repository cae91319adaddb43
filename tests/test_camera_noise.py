"""Camera noise (Brooks et al. 2019): the unprocess/process chain, raw noise statistics, records."""

from __future__ import annotations

import numpy as np
import pytest

from imagewizard.physics.degrade import Camera, camera_noise, degrade, draw_camera, process, unprocess
from imagewizard.physics.degrade.camera import BAYER_PATTERNS, add_raw_noise, demosaic_bilinear


@pytest.fixture
def smooth():
    """A smooth colour image: bilinear demosaicing is near exact on it."""
    y, x = np.mgrid[0:48, 0:64] / 64.0
    return np.stack([0.2 + 0.5 * x, 0.3 + 0.4 * y, 0.6 - 0.3 * x * y], axis=-1).astype(np.float32)


def test_drawn_camera_is_plausible_and_seeded():
    a, b = draw_camera(1600, rng=3), draw_camera(1600, rng=3)
    assert a.as_dict() == b.as_dict()
    assert a.bayer in BAYER_PATTERNS
    np.testing.assert_allclose(a.rgb2cam.sum(axis=1), 1.0)
    assert 1.9 <= a.red_gain <= 2.4 and 1.5 <= a.blue_gain <= 1.9
    assert a.shot == pytest.approx(0.012 * 1600 / 12800)
    # log(read) = 2.18 log(shot) + 1.20 + N(0, 0.26): within 4 sigma of the fit
    assert abs(np.log(a.read) - (2.18 * np.log(a.shot) + 1.20)) < 4 * 0.26
    assert draw_camera(6400, rng=3).shot == pytest.approx(4 * a.shot)


def test_unprocess_then_process_is_the_identity_without_noise(smooth):
    for seed in range(4):  # several cameras, hence all four Bayer phases likely
        cam = draw_camera(800, rng=seed)
        raw = unprocess(smooth, cam)
        assert raw.shape == smooth.shape[:2] and raw.min() >= 0 and raw.max() <= 1
        err = np.abs(process(raw, cam) - smooth)
        # bilinear demosaicing is exact on constants and near exact on smooth interiors; at the
        # border the mirrored samples flatten the slope by about one pixel's worth
        assert err[2:-2, 2:-2].max() < 3e-4 and err.max() < 0.02
    flat = np.full((20, 20, 3), [0.3, 0.5, 0.7])
    np.testing.assert_allclose(process(unprocess(flat, cam), cam), flat, atol=1e-9)


def test_demosaic_is_exact_at_samples_and_on_constant_channels():
    rng = np.random.default_rng(0)
    for bayer in BAYER_PATTERNS:
        flat = np.empty((16, 20))
        masks = np.zeros((3, 16, 20), bool)
        for k, ch in enumerate(bayer):
            dy, dx = divmod(k, 2)
            masks["RGB".index(ch), dy::2, dx::2] = True
        vals = rng.uniform(size=3)
        for c in range(3):
            flat[masks[c]] = vals[c]
        out = demosaic_bilinear(flat, bayer)
        np.testing.assert_allclose(out, np.broadcast_to(vals, out.shape), atol=1e-12)


def test_raw_noise_is_poisson_gaussian():
    cam = draw_camera(3200, rng=1)
    rng = np.random.default_rng(0)
    for level in (0.05, 0.2, 0.6):
        raw = np.full((256, 256), level)
        noisy = add_raw_noise(raw, cam, rng)
        assert noisy.mean() == pytest.approx(level, abs=3e-3)
        assert noisy.var() == pytest.approx(cam.shot * level + cam.read, rel=0.05)


def test_noise_grows_with_iso_and_is_strongest_in_the_shadows():
    flat = np.full((96, 96, 3), 0.5, np.float32)
    stds = [camera_noise(flat, iso, rng=5).std() for iso in (100, 400, 1600, 6400)]
    assert all(a < b for a, b in zip(stds, stds[1:]))
    ramp = np.broadcast_to(np.linspace(0.05, 0.95, 96)[None, :, None], (96, 96, 3)).astype(np.float32)
    diff = camera_noise(ramp, 3200, rng=2) - ramp
    dark, light = diff[:, 8:24].std(), diff[:, 72:88].std()
    assert dark > light  # the tone curve and gamma lift the noise in the shadows


def test_noise_is_spatially_and_chromatically_correlated():
    flat = np.full((128, 128, 3), 0.4, np.float32)
    n = camera_noise(flat, 3200, rng=4).astype(np.float64) - 0.4
    n -= n.mean(axis=(0, 1))
    # demosaicing spreads each raw sample to its neighbours: white noise would give ~0 here
    horiz = np.mean(n[:, 1:] * n[:, :-1]) / np.mean(n * n)
    assert horiz > 0.2
    # and the channels share the green samples and the colour matrix mixes them
    assert abs(np.corrcoef(n[..., 0].ravel(), n[..., 1].ravel())[0, 1]) > 0.1


def test_grey_in_grey_out_range_and_determinism(smooth):
    grey = smooth.mean(axis=2)
    out = camera_noise(grey, 1600, rng=0)
    assert out.shape == grey.shape and out.dtype == np.float32
    colour = camera_noise(smooth, 25600, rng=0)
    assert colour.min() >= 0 and colour.max() <= 1
    np.testing.assert_array_equal(camera_noise(smooth, 1600, rng=9), camera_noise(smooth, 1600, rng=9))
    assert not np.array_equal(camera_noise(smooth, 1600, rng=9), camera_noise(smooth, 1600, rng=10))


def test_degrade_records_the_camera_and_composes_with_jpeg(smooth):
    res = degrade(smooth, noise="camera:3200", jpeg=80, seed=7)
    assert res.spec == "camera:3200+jpeg=80"
    assert len(res.cameras) == 1 and res.cameras[0]["iso"] == 3200
    assert "shot=" in res.steps[0] and "bayer=" in res.steps[0] and res.steps[1] == "jpeg quality=80"
    again = degrade(smooth, noise="camera:3200", jpeg=80, seed=7)
    np.testing.assert_array_equal(res.image, again.image)
    assert degrade(smooth, noise="gaussian:5", seed=7).cameras == []
    assert isinstance(draw_camera(100, rng=0), Camera)


def test_iso_out_of_range_is_a_clear_error(smooth):
    with pytest.raises(ValueError, match="iso"):
        camera_noise(smooth, 10)


def test_only_the_noise_is_added_not_demosaicing_artefacts():
    from imagewizard.samples import sample

    textured = sample("astronaut")[:96, :96].astype(np.float32)
    quiet = camera_noise(textured, 50, rng=0)
    # ISO 50 on a textured photo: the noise is small, and the zipper/fringe errors of the bilinear
    # demosaic (about 10 grey levels RMS here) are not in the result
    assert 255 * np.sqrt(np.mean((quiet - textured) ** 2)) < 4.0
    loud = camera_noise(textured, 6400, rng=0)
    assert 255 * np.sqrt(np.mean((loud - textured) ** 2)) > 8.0
