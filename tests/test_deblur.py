"""Deconvolution methods: inverse, Wiener, unsupervised Wiener, Richardson-Lucy (non-blind and blind)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from imagewizard.core import registry
from imagewizard.api import apply
from imagewizard.tasks.deblur.boundary import Frame, psf2otf
from imagewizard.tasks.deblur.fourier import inverse, unsupervised_wiener, wiener
from imagewizard.tasks.deblur.richardson_lucy import blind_deconvolve, initial_kernel, richardson_lucy
from imagewizard.core.errors import ParameterError


def gaussian_kernel(sigma: float) -> np.ndarray:
    r = int(np.ceil(3 * sigma))
    g = np.exp(-0.5 * (np.arange(-r, r + 1) / sigma) ** 2)
    k = np.outer(g, g)
    return k / k.sum()


def line_kernel(length: int = 9) -> np.ndarray:
    """Diagonal motion blur: ``length`` taps on the main diagonal."""
    return np.eye(length) / length


@pytest.fixture(scope="module")
def scene(photo) -> np.ndarray:
    """A 64x64 natural-image crop (texture, edges and flat areas)."""
    return photo("camera", slice(160, 224), slice(200, 264), np.float64)


@pytest.fixture(scope="module")
def color_scene(photo) -> np.ndarray:
    return photo("astronaut", slice(100, 148), slice(180, 236), np.float64)


def blurred(x: np.ndarray, k: np.ndarray, noise: float = 2.0, seed: int = 0) -> np.ndarray:
    """Blur with mirrored borders (as ``degrade``) and add Gaussian noise of ``noise`` on 0..255."""
    if x.ndim == 3:
        y = np.stack([ndimage.convolve(x[:, :, c], k, mode="reflect") for c in range(3)], axis=2)
    else:
        y = ndimage.convolve(x, k, mode="reflect")
    return y + np.random.default_rng(seed).normal(0.0, noise / 255.0, y.shape)


def psnr(ref: np.ndarray, img: np.ndarray) -> float:
    return float(10 * np.log10(1.0 / np.mean((np.clip(img, 0, 1) - ref) ** 2)))


NON_BLIND = ["inverse", "wiener", "unsupervised-wiener", "richardson-lucy"]


def test_methods_are_declared_for_deblur():
    names = {m.name for m in registry.methods("deblur")}
    assert set(NON_BLIND) | {"blind-rl"} <= names
    for name in NON_BLIND:
        assert "kernel" in registry.get("deblur", name).needs
    assert "kernel" not in registry.get("deblur", "blind-rl").needs
    assert registry.get("deblur", "wiener").sigma == "auto"


@pytest.mark.parametrize("name", NON_BLIND + ["blind-rl"])
def test_shapes_dtype_range_gray_and_color(name, scene, color_scene):
    k = gaussian_kernel(1.0)
    kw = {} if name == "blind-rl" else {"kernel": k}
    sig = {"sigma": 2.0} if registry.get("deblur", name).sigma != "none" else {}
    for x in (scene[:40, :48], color_scene[:40, :48]):
        out = apply("deblur", blurred(x, k).astype(np.float32), name, **kw, **sig)
        assert out.shape == x.shape and out.dtype == np.float32
        assert 0.0 <= out.min() and out.max() <= 1.0


def test_psf2otf_is_the_convolution_of_scipy_with_wrapped_borders():
    rng = np.random.default_rng(1)
    x = rng.random((20, 27))
    k = rng.random((5, 7))
    k /= k.sum()
    via_fft = np.fft.irfft2(np.fft.rfft2(x) * psf2otf(k, x.shape), s=x.shape)
    np.testing.assert_allclose(via_fft, ndimage.convolve(x, k, mode="wrap"), atol=1e-12)


def test_taper_frame_keeps_observed_pixels_and_crops_back(scene):
    f = Frame(scene, gaussian_kernel(1.5), "taper")
    assert f.fshape[0] > scene.shape[0] and f.fshape[1] > scene.shape[1]
    np.testing.assert_array_equal(f.crop(f.data), scene)


def test_inverse_filter_recovers_a_noise_free_circular_blur(scene):
    k = gaussian_kernel(1.0)  # |H| >= 2e-4 on a 64x64 grid (at the corner frequency)
    y = ndimage.convolve(scene, k, mode="wrap")
    out = inverse(y, kernel=k, threshold=1e-4, boundary="periodic")
    assert np.abs(out - scene).max() < 1e-9


def test_inverse_threshold_drops_frequencies_the_blur_removed(scene):
    k = np.ones((1, 4)) / 4.0  # exact zeros in H at multiples of 1/4 cycle per pixel
    y = ndimage.convolve(scene, k, mode="wrap")
    out = inverse(y, kernel=k, threshold=0.05, boundary="periodic")
    assert np.isfinite(out).all() and np.abs(out).max() < 5


@pytest.mark.parametrize("kernel", [gaussian_kernel(1.5), line_kernel(9)], ids=["gaussian", "motion"])
def test_wiener_raises_psnr_at_mild_noise(scene, kernel):
    y = blurred(scene, kernel)
    gain = psnr(scene, wiener(y, kernel=kernel, sigma=2.0)) - psnr(scene, y)
    assert gain > 1.0


def test_unknown_boundary_beats_periodic_on_a_real_scene(scene):
    k = line_kernel(9)
    y = blurred(scene, k)
    unknown = psnr(scene, wiener(y, kernel=k, sigma=2.0, boundary="unknown"))
    periodic = psnr(scene, wiener(y, kernel=k, sigma=2.0, boundary="periodic"))
    assert unknown > periodic + 1.0


def test_wiener_snr_overrides_the_noise_level(scene):
    k = gaussian_kernel(1.5)
    y = blurred(scene, k)
    smooth = wiener(y, kernel=k, snr=0.0, boundary="taper")
    sharp = wiener(y, kernel=k, snr=60.0, boundary="taper")
    # Heavy regularisation (SNR 0 dB) smooths more than the blur did; 60 dB amplifies the noise.
    assert np.abs(np.diff(smooth, axis=1)).mean() < np.abs(np.diff(y, axis=1)).mean()
    assert np.abs(np.diff(sharp, axis=1)).mean() > np.abs(np.diff(y, axis=1)).mean()


def test_wiener_identity_regulariser_and_own_noise_estimate(scene):
    k = gaussian_kernel(1.5)
    y = blurred(scene, k)
    base = psnr(scene, y)
    assert psnr(scene, wiener(y, kernel=k, sigma=2.0, reg="identity")) > base + 0.5
    assert psnr(scene, wiener(y, kernel=k)) > base + 0.5  # sigma=None: estimated from the image


def test_wiener_colour_equals_channelwise_with_the_same_weight(color_scene):
    k = gaussian_kernel(1.0)
    y = blurred(color_scene, k)
    both = wiener(y, kernel=k, snr=30.0, boundary="taper")
    one = wiener(np.ascontiguousarray(y[:, :, 1]), kernel=k, snr=30.0, boundary="taper")
    np.testing.assert_allclose(both[:, :, 1], one, atol=1e-10)
    # The iterative border solve stops on all channels together: equal to within its tolerance.
    both = wiener(y, kernel=k, snr=30.0)
    one = wiener(np.ascontiguousarray(y[:, :, 1]), kernel=k, snr=30.0)
    np.testing.assert_allclose(both[:, :, 1], one, atol=3e-3)


def test_unsupervised_wiener_gains_and_is_deterministic(scene):
    k = gaussian_kernel(1.5)
    y = blurred(scene, k)
    a = unsupervised_wiener(y, kernel=k, sigma=2.0, seed=3)
    b = unsupervised_wiener(y, kernel=k, sigma=2.0, seed=3)
    np.testing.assert_array_equal(a, b)
    assert psnr(scene, a) > psnr(scene, y) + 1.0
    c = unsupervised_wiener(y, kernel=k, sigma=2.0, seed=3, boundary="taper")
    assert psnr(scene, c) > psnr(scene, y)


def test_richardson_lucy_matches_scikit_image():
    from skimage.restoration import richardson_lucy as sk_rl

    # A scene on a black frame wider than the kernel: the zero borders of scikit-image's
    # convolution and the periodic ones here then see the same data.
    rng = np.random.default_rng(0)
    x = np.zeros((48, 52))
    x[10:38, 10:42] = ndimage.gaussian_filter(rng.random((28, 32)), 1.0) + 0.2
    k = gaussian_kernel(1.2)
    y = ndimage.convolve(x, k, mode="constant")
    ours = richardson_lucy(y, kernel=k, iterations=15, boundary="periodic")
    ref = sk_rl(y, k, num_iter=15, clip=False)
    np.testing.assert_allclose(ours, ref, atol=2e-5)


def test_richardson_lucy_raises_psnr_and_handles_colour(scene, color_scene):
    k = line_kernel(7)
    y = blurred(scene, k)
    assert psnr(scene, richardson_lucy(y, kernel=k)) > psnr(scene, y) + 1.0
    yc = blurred(color_scene, gaussian_kernel(1.0))
    out = richardson_lucy(yc, kernel=gaussian_kernel(1.0), iterations=10)
    assert out.shape == color_scene.shape
    assert psnr(color_scene, out) > psnr(color_scene, yc)


def test_blind_rl_without_kernel_raises_psnr_on_gaussian_blur(scene):
    y = blurred(scene, gaussian_kernel(1.5))
    out, g = blind_deconvolve(y, size=9)
    assert psnr(scene, out) > psnr(scene, y) + 0.5
    assert g.shape == (9, 9) and g.min() >= 0
    assert abs(g.sum() - 1.0) < 1e-9
    np.testing.assert_allclose(g, g[::-1, ::-1], atol=1e-12)  # point-symmetric by construction


def test_blind_rl_initial_kernels():
    g = initial_kernel(7, "gaussian")
    assert g.shape == (7, 7) and abs(g.sum() - 1) < 1e-12 and g[3, 3] == g.max()
    np.testing.assert_allclose(initial_kernel(5, "flat"), np.full((5, 5), 1 / 25))
    with pytest.raises(ParameterError, match="odd"):
        initial_kernel(6)


def test_user_errors_are_parameter_errors(scene):
    with pytest.raises(ParameterError, match="larger than the image"):
        wiener(scene[:8, :8], kernel=np.ones((11, 11)), sigma=1.0)
    with pytest.raises(ParameterError, match="one of"):
        apply("deblur", scene.astype(np.float32), "wiener", kernel=gaussian_kernel(1.0), sigma=1.0, boundary="zero")
    with pytest.raises(ParameterError, match="positive sum"):
        wiener(scene, kernel=np.zeros((3, 3)), sigma=1.0)
