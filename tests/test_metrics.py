"""Full-reference metrics: known answers and agreement with scikit-image."""

import math

import numpy as np
import pytest
from skimage import data
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from imagewizard.analysis import metrics
from imagewizard.core.errors import ParameterError


@pytest.fixture(scope="module")
def pair():
    rng = np.random.default_rng(0)
    clean = data.astronaut()[100:228, 150:310].astype(np.float64) / 255.0  # 128x160x3
    noisy = np.clip(clean + rng.normal(0, 20 / 255, clean.shape), 0, 1)
    return clean, noisy


def _sk_ssim(a, b, data_range, channel_axis=None):
    return structural_similarity(
        a,
        b,
        gaussian_weights=True,
        sigma=1.5,
        use_sample_covariance=False,
        data_range=data_range,
        channel_axis=channel_axis,
    )


def test_known_answers_constant_offset():
    a = np.full((32, 32), 0.5)
    b = a + 0.1
    assert metrics.mse(a, b) == pytest.approx(0.01, abs=1e-12)
    assert metrics.mae(a, b) == pytest.approx(0.1, abs=1e-12)
    assert metrics.psnr(a, b) == pytest.approx(20.0, abs=1e-9)
    assert metrics.psnr(a * 255, b * 255, data_range=255) == pytest.approx(20.0, abs=1e-9)


def test_identical_images():
    a = np.random.default_rng(1).random((40, 50, 3))
    assert metrics.psnr(a, a) == math.inf
    assert metrics.ssim(a, a) == pytest.approx(1.0, abs=1e-12)
    assert metrics.mse(a, a) == 0.0
    assert metrics.compare(a, a) == {"psnr": math.inf, "ssim": pytest.approx(1.0), "mse": 0.0, "mae": 0.0}


@pytest.mark.parametrize("color", [False, True])
def test_psnr_matches_skimage(pair, color):
    a, b = pair if color else (pair[0][..., 1], pair[1][..., 1])
    assert metrics.psnr(a, b) == pytest.approx(peak_signal_noise_ratio(a, b, data_range=1.0), abs=1e-6)
    a8, b8 = a * 255, b * 255
    assert metrics.psnr(a8, b8, data_range=255) == pytest.approx(
        peak_signal_noise_ratio(a8, b8, data_range=255), abs=1e-6
    )


@pytest.mark.parametrize("color", [False, True])
def test_ssim_matches_skimage(pair, color):
    a, b = pair if color else (pair[0][..., 0], pair[1][..., 0])
    axis = -1 if color else None
    ours = metrics.ssim(a, b)
    assert ours == pytest.approx(_sk_ssim(a, b, 1.0, axis), abs=1e-4)
    assert 0.2 < ours < 0.9  # a real, non-trivial value
    # the same on the 0..255 scale with data_range 255
    assert metrics.ssim(a * 255, b * 255, data_range=255) == pytest.approx(ours, abs=1e-9)


def test_ssim_matches_skimage_blurred_image():
    import cv2

    a = data.camera()[:96, :120].astype(np.float64) / 255
    b = cv2.GaussianBlur(a, (0, 0), 1.2)
    assert metrics.ssim(a, b) == pytest.approx(_sk_ssim(a, b, 1.0), abs=1e-4)


def test_integer_inputs_are_scaled():
    a = data.camera()[:64, :64]
    b = np.clip(a.astype(int) + 5, 0, 255).astype(np.uint8)
    assert metrics.psnr(a, b) == pytest.approx(metrics.psnr(a / 255.0, b / 255.0), abs=1e-9)
    with pytest.raises(ParameterError, match="data_range"):
        metrics.psnr(a, b, data_range=255)


def test_crop(pair):
    a, b = pair
    c = 5
    assert metrics.psnr(a, b, crop=c) == pytest.approx(metrics.psnr(a[c:-c, c:-c], b[c:-c, c:-c]), abs=1e-12)
    assert metrics.ssim(a, b, crop=c) == pytest.approx(_sk_ssim(a[c:-c, c:-c], b[c:-c, c:-c], 1.0, -1), abs=1e-4)
    # a difference only inside the border is ignored
    d = a.copy()
    d[:3] = 0
    assert metrics.psnr(a, d, crop=3) == math.inf
    assert metrics.psnr(a, d) < 30


def test_y_channel_hand_computed():
    red = np.zeros((16, 16, 3))
    red[..., 0] = 1.0
    green = np.zeros((16, 16, 3))
    green[..., 1] = 1.0
    # Y = 16 + 65.481 R + 128.553 G + 24.966 B on 0..255: 81.481 for red, 144.553 for green
    diff = (144.553 - 81.481) / 255.0
    assert metrics.mse(red, green, y_channel=True) == pytest.approx(diff**2, rel=1e-9)
    assert metrics.psnr(red, green, y_channel=True) == pytest.approx(20 * math.log10(255 / 63.072), abs=1e-9)
    assert metrics.rgb_to_y(np.ones((1, 1, 3)))[0, 0] * 255 == pytest.approx(235.0)
    assert metrics.rgb_to_y(np.zeros((1, 1, 3)))[0, 0] * 255 == pytest.approx(16.0)


def test_y_channel_on_gray_is_unchanged(pair):
    a, b = pair[0][..., 0], pair[1][..., 0]
    assert metrics.psnr(a, b, y_channel=True) == metrics.psnr(a, b)


def test_compare_agrees_with_single_metrics(pair):
    a, b = pair
    scores = metrics.compare(a, b, crop=2, y_channel=True)
    assert set(scores) == {"psnr", "ssim", "mse", "mae"}
    assert scores["psnr"] == pytest.approx(metrics.psnr(a, b, crop=2, y_channel=True), abs=1e-12)
    assert scores["ssim"] == pytest.approx(metrics.ssim(a, b, crop=2, y_channel=True), abs=1e-12)
    assert scores["mse"] == pytest.approx(metrics.mse(a, b, crop=2, y_channel=True), abs=1e-15)
    assert scores["mae"] == pytest.approx(metrics.mae(a, b, crop=2, y_channel=True), abs=1e-15)


def test_errors():
    a = np.zeros((20, 20))
    with pytest.raises(ParameterError, match="same shape"):
        metrics.psnr(a, np.zeros((20, 21)))
    with pytest.raises(ParameterError, match="data_range"):
        metrics.ssim(a, a, data_range=0)
    with pytest.raises(ParameterError, match="data_range"):
        metrics.psnr(a, a, data_range=-1.0)
    with pytest.raises(ParameterError, match="crop"):
        metrics.mse(a, a, crop=10)
    with pytest.raises(ParameterError, match="11x11"):
        metrics.ssim(np.zeros((8, 8)), np.zeros((8, 8)))
    with pytest.raises(ParameterError, match="RGB"):
        metrics.rgb_to_y(np.zeros((4, 4, 4)))


@pytest.mark.parametrize("strip", [7, 16, 1000])
def test_scores_in_strips_equal_the_whole_image_ones(monkeypatch, strip):
    # the scores read a strip of rows at a time (bounded memory on 12 MP photos); strip borders
    # must not show: compare with scikit-image on the whole image, in float64, gray and colour
    from skimage.metrics import mean_squared_error, structural_similarity

    from imagewizard.analysis import metrics as M

    monkeypatch.setattr(M, "_STRIP", strip)
    rng = np.random.default_rng(3)
    for shape in [(53, 41), (40, 37, 3)]:
        a = rng.random(shape)
        b = np.clip(a + rng.normal(0, 0.1, shape), 0, 1)
        want = structural_similarity(
            a,
            b,
            data_range=1.0,
            gaussian_weights=True,
            sigma=1.5,
            use_sample_covariance=False,
            channel_axis=2 if a.ndim == 3 else None,
        )
        assert M.ssim(a, b) == pytest.approx(want, abs=1e-12)
        assert M.mse(a, b) == pytest.approx(mean_squared_error(a, b), rel=1e-12)
        assert M.mae(a, b) == pytest.approx(np.mean(np.abs(a - b)), rel=1e-12)
        u8a, u8b = (a * 255).round().astype(np.uint8), (b * 255).round().astype(np.uint8)
        assert M.compare(u8a, u8b)["psnr"] == pytest.approx(M.psnr(u8a / 255.0, u8b / 255.0), abs=1e-9)
