"""Classical denoisers: contracts, cross-checks against the wrapped libraries, properties."""

from __future__ import annotations

import importlib.util

import cv2
import numpy as np
import pytest
from scipy import ndimage, sparse
from scipy.sparse.linalg import spsolve
from skimage.restoration import cycle_spin, denoise_nl_means, denoise_tv_bregman, denoise_tv_chambolle, denoise_wavelet

from imagewizard.api import apply
from imagewizard.tasks.denoise import diffusion, filters, mrf, nlm, opponent, rules, tv, wavelet
from imagewizard.core.errors import ParameterError
from imagewizard.core.registry import get

HAS_BM3D = importlib.util.find_spec("bm3d") is not None
SIGMA = 25.0
OURS = (
    "box",
    "gaussian",
    "median",
    "weighted-median",
    "bilateral",
    "nlm",
    "tv",
    "wavelet",
    "anisotropic",
    "mrf-map",
    "bm3d",
)
NOISE_AWARE = ("bilateral", "nlm", "tv", "wavelet", "anisotropic", "mrf-map", "bm3d")
VARIANTS = [
    ("nlm", {"impl": "opencv"}),
    ("tv", {"solver": "bregman"}),
    ("wavelet", {"shrink": "visu"}),
    ("wavelet", {"mode": "hard", "shifts": 0}),
    ("anisotropic", {"conductance": "rational"}),
    ("mrf-map", {"prior": "quadratic"}),
]


def clean_image(shape=(40, 40), color=False) -> np.ndarray:
    """Smooth shading plus a bright square and a dark disc: edges and flat parts."""
    h, w = shape
    y, x = np.mgrid[0:h, 0:w] / max(h, w)
    img = 0.3 + 0.3 * x + 0.1 * y
    img[h // 4 : h // 2, w // 4 : w // 2] = 0.85
    img[(y - 0.7) ** 2 + (x - 0.65) ** 2 < 0.03] = 0.1
    if color:
        img = np.stack([img, 0.8 * img + 0.1, np.flipud(img)], axis=2)
    return img.astype(np.float32)


def noisy_pair(shape=(40, 40), color=False, sigma=SIGMA, seed=0):
    clean = clean_image(shape, color)
    noise = np.random.default_rng(seed).standard_normal(clean.shape) * sigma / 255.0
    return clean, (clean + noise).astype(np.float32)


def psnr(a, b) -> float:
    return float(10 * np.log10(1.0 / np.mean((np.asarray(a, np.float64) - b) ** 2)))


def run(name, img, **params):
    sigma = SIGMA if name in NOISE_AWARE else None
    return apply("denoise", img, name, sigma=sigma, **params)


# ------------------------------------------------------------------ contracts


def _cases():
    for name in OURS:
        marks = [pytest.mark.skipif(not HAS_BM3D, reason="bm3d not installed")] if name == "bm3d" else []
        yield pytest.param(name, {}, id=name, marks=marks)
    for name, params in VARIANTS:
        yield pytest.param(name, params, id=f"{name}-{'-'.join(map(str, params.values()))}")


@pytest.mark.parametrize("color", [False, True], ids=["gray", "color"])
@pytest.mark.parametrize("name,params", list(_cases()))
def test_contract_and_improvement(name, params, color):
    if name == "bm3d" and not color:
        pytest.skip("gray bm3d: see test_bm3d_matches_package (each bm3d call costs seconds)")
    clean, noisy = noisy_pair((24, 24) if name == "bm3d" else (40, 40), color)
    out = run(name, noisy, **params)
    assert out.shape == noisy.shape and out.dtype == np.float32
    assert out.min() >= 0.0 and out.max() <= 1.0
    gain = psnr(out, clean) - psnr(np.clip(noisy, 0, 1), clean)
    assert gain > 2.0, f"{name} {params}: only {gain:.2f} dB better than the noisy input"
    if name != "bm3d":  # one bm3d call is slow; the library cross-check covers its determinism
        np.testing.assert_array_equal(out, run(name, noisy, **params))


def test_declarations():
    for name in OURS:
        m = get("denoise", name)
        assert m.sigma == ("auto" if name in NOISE_AWARE else "none"), name
        assert all(p.help for p in m.params), name
        assert m.color == ("native" if name in NOISE_AWARE else "per-channel"), name
    b = get("denoise", "bm3d")
    assert b.requires == ("bm3d",) and b.extra == "bm3d" and "non-commercial" in b.note


def test_bad_parameters_raise_one_line_errors():
    img = clean_image((16, 16))
    with pytest.raises(ParameterError, match="odd"):
        apply("denoise", img, "median", size=4)
    with pytest.raises(ParameterError, match="orthogonal"):
        apply("denoise", img, "wavelet", sigma=10, wavelet="bior2.2")
    with pytest.raises(ParameterError, match="impl"):
        apply("denoise", img, "nlm", sigma=10, impl="cuda")
    with pytest.raises(ParameterError):
        filters.weighted_median(img, np.ones((4, 4)))


# ------------------------------------------------------------------ cross-checks against libraries


def test_box_gaussian_median_match_scipy_and_opencv():
    _, x = noisy_pair((23, 31))
    np.testing.assert_allclose(filters.box(x, size=5), ndimage.uniform_filter(x, 5, mode="reflect"), atol=1e-6)
    # ndimage's Gaussian against OpenCV's, same 9-tap kernel and mirrored border.
    np.testing.assert_allclose(
        filters.gaussian(x, sigma_px=1.0), cv2.GaussianBlur(x, (9, 9), 1.0, borderType=cv2.BORDER_REFLECT), atol=1e-5
    )
    pad = np.pad(x, 1, mode="symmetric")
    brute = np.median(np.lib.stride_tricks.sliding_window_view(pad, (3, 3)), axis=(2, 3))
    np.testing.assert_array_equal(filters.median(x, size=3), brute)


def _weighted_median_brute(img, w):
    """Smallest window value minimising sum w_k |x_k - t| (the weighted median), pixel by pixel."""
    ry, rx = w.shape[0] // 2, w.shape[1] // 2
    pad = np.pad(img, ((ry, ry), (rx, rx)), mode="symmetric")
    out = np.empty_like(img)
    for i in range(img.shape[0]):
        for j in range(img.shape[1]):
            win = pad[i : i + w.shape[0], j : j + w.shape[1]].ravel()
            cost = [(np.sum(w.ravel() * np.abs(win - t)), t) for t in win]
            best = min(c for c, _ in cost)
            out[i, j] = min(t for c, t in cost if c <= best + 1e-9)
    return out


def test_weighted_median_equals_brute_force():
    rng = np.random.default_rng(3)
    img = (rng.integers(0, 5, (9, 11)) / 4.0).astype(np.float32)  # few, exactly representable levels: exact ties
    for w in (
        filters.center_weighted_mask(5, 2),
        filters.center_weighted_mask(3, 3),
        rng.integers(0, 4, (3, 5)).astype(float) + np.eye(3, 5),
    ):
        np.testing.assert_array_equal(filters.weighted_median(img, w, block_rows=4), _weighted_median_brute(img, w))
    # Unit weights over an odd window: the plain median.
    np.testing.assert_array_equal(filters.weighted_median(img, np.ones((3, 3))), filters.median(img, size=3))


def test_bilateral_matches_opencv():
    _, x = noisy_pair((30, 30))
    out = filters.bilateral(x, sigma=SIGMA, sigma_range=40.0, sigma_px=2.0)
    ref = cv2.bilateralFilter(x, 7, 40.0 / 255, 2.0, borderType=cv2.BORDER_REFLECT)
    np.testing.assert_array_equal(out, ref)


def test_nlm_matches_skimage_and_opencv():
    _, x = noisy_pair((30, 30))
    out = nlm.nlm(x, sigma=SIGMA, h=12.0, patch_size=5, search_radius=4)
    ref = denoise_nl_means(x, h=12 / 255, sigma=SIGMA / 255, patch_size=5, patch_distance=4, fast_mode=True)
    np.testing.assert_allclose(out, ref, atol=1e-6)
    # OpenCV route: an image spanning exactly [0, 1] maps to 16-bit codes without any offset.
    x01 = (x - x.min()) / (x.max() - x.min())
    out = nlm.nlm(x01, sigma=SIGMA, impl="opencv", h=20.0, patch_size=5, search_radius=4)
    codes = np.round(x01 * 65535).astype(np.uint16)
    ref = cv2.fastNlMeansDenoising(codes, [20 / 255 * 65535], None, 5, 9, cv2.NORM_L1) / 65535.0
    np.testing.assert_allclose(out, ref, atol=1e-6)


def test_opencv_nlm_keeps_values_outside_unit_range():
    _, x = noisy_pair((30, 30), sigma=60)
    assert x.min() < 0 and x.max() > 1
    out = nlm.nlm(x, sigma=60, impl="opencv", h=1e-3, patch_size=3, search_radius=2)  # h ~ 0: identity
    np.testing.assert_allclose(out, x, atol=(x.max() - x.min()) / 65535)


def test_tv_matches_skimage():
    _, x = noisy_pair((30, 30))
    np.testing.assert_allclose(
        tv.tv(x, sigma=SIGMA, weight=0.07, flips=1, iterations=60),
        denoise_tv_chambolle(x, weight=0.07, eps=0, max_num_iter=60),
        atol=1e-6,
    )
    np.testing.assert_allclose(
        tv.tv(x, sigma=SIGMA, solver="bregman", weight=0.07, flips=1, isotropic=False),
        denoise_tv_bregman(x, weight=1 / 0.14, isotropic=False),
        atol=1e-6,
    )
    # flips=4: the mean of the solutions for the four mirror images, each mirrored back.
    ref = np.mean(
        [
            denoise_tv_chambolle(np.ascontiguousarray(x[v]), weight=0.07, eps=0, max_num_iter=40)[v]
            for v in [np.s_[:, :], np.s_[::-1, ::-1], np.s_[::-1, :], np.s_[:, ::-1]]
        ],
        axis=0,
    )
    np.testing.assert_allclose(tv.tv(x, sigma=SIGMA, weight=0.07, flips=4), ref, atol=1e-6)


def test_color_methods_run_in_opponent_space():
    _, x = noisy_pair((24, 24), color=True)
    o = opponent.OPPONENT
    np.testing.assert_allclose(o @ o.T, np.eye(3), atol=1e-12)  # orthonormal: white noise stays white, same sigma
    np.testing.assert_allclose(opponent.opponent_to_rgb(opponent.rgb_to_opponent(x)), x, atol=1e-6)
    opp = opponent.rgb_to_opponent(x)
    ref = opponent.opponent_to_rgb(
        np.stack([denoise_tv_chambolle(opp[..., c], weight=0.05, eps=0, max_num_iter=40) for c in range(3)], 2)
    )
    np.testing.assert_allclose(tv.tv(x, sigma=SIGMA, weight=0.05, flips=1), ref, atol=1e-6)


def test_wavelet_matches_skimage():
    _, x = noisy_pair((32, 32))
    kw = dict(sigma=SIGMA * 0.9 / 255, wavelet="db2", wavelet_levels=2, method="BayesShrink", mode="soft")
    out = wavelet.wavelet(x, sigma=SIGMA, levels=2, shifts=0, threshold_scale=0.9)
    np.testing.assert_allclose(out, denoise_wavelet(x, **kw), atol=1e-6)
    out = wavelet.wavelet(x, sigma=SIGMA, levels=2, shifts=2, threshold_scale=0.9)
    np.testing.assert_allclose(out, cycle_spin(x, denoise_wavelet, max_shifts=2, func_kw=kw, workers=1), atol=1e-6)


@pytest.mark.skipif(not HAS_BM3D, reason="bm3d not installed")
def test_bm3d_matches_package():
    import bm3d as bm3d_pkg

    clean, x = noisy_pair((32, 32))
    out = apply("denoise", x, "bm3d", sigma=SIGMA)
    assert out.dtype == np.float32 and out.shape == x.shape
    assert psnr(out, clean) > psnr(np.clip(x, 0, 1), clean) + 2
    ref = np.clip(bm3d_pkg.bm3d(x.astype(np.float64), SIGMA / 255), 0, 1)
    np.testing.assert_allclose(out, ref, atol=1e-6)


# ------------------------------------------------------------------ hand-written parts: properties


def _perona_malik_reference(u, kappa, iterations, step, conductance):
    g = (lambda d: np.exp(-((d / kappa) ** 2))) if conductance == "exp" else (lambda d: 1 / (1 + (d / kappa) ** 2))
    u = u.astype(np.float64)
    for _ in range(iterations):
        p = np.pad(u, 1, mode="edge")  # edge padding: zero difference, zero flux across the border
        total = 0
        for d in (p[:-2, 1:-1] - u, p[2:, 1:-1] - u, p[1:-1, :-2] - u, p[1:-1, 2:] - u):
            total = total + g(d) * d
        u = u + step * total
    return u


@pytest.mark.parametrize("conductance", diffusion.CONDUCTANCES)
def test_perona_malik_matches_reference_and_conserves_mass(conductance):
    _, x = noisy_pair((20, 24))
    out = diffusion.perona_malik(x, kappa=0.1, iterations=7, step=0.2, conductance=conductance)
    np.testing.assert_allclose(out, _perona_malik_reference(x, 0.1, 7, 0.2, conductance), atol=1e-5)
    assert abs(out.mean() - x.mean()) < 1e-6  # no flux through the border
    flat = np.full((8, 8), 0.4, np.float32)
    np.testing.assert_allclose(diffusion.perona_malik(flat, kappa=0.1, iterations=5), flat)


def test_mrf_gradient_matches_finite_differences():
    rng = np.random.default_rng(1)
    y = rng.random((6, 7))
    x = rng.random((6, 7))
    for prior in mrf.PRIORS:
        _, grad = mrf.mrf_energy(x, y, alpha=0.7, prior=prior, delta=0.2)
        eps = 1e-6
        num = np.empty_like(x)
        for idx in np.ndindex(x.shape):
            xp, xm = x.copy(), x.copy()
            xp[idx] += eps
            xm[idx] -= eps
            num[idx] = (
                mrf.mrf_energy(xp, y, alpha=0.7, prior=prior, delta=0.2)[0]
                - mrf.mrf_energy(xm, y, alpha=0.7, prior=prior, delta=0.2)[0]
            ) / (2 * eps)
        np.testing.assert_allclose(grad, num, rtol=1e-5, atol=1e-6)


def test_mrf_map_decreases_energy_and_solves_quadratic_case():
    _, y = noisy_pair((12, 14))
    y = y.astype(np.float64)
    for prior in mrf.PRIORS:
        x = mrf.mrf_map(y, alpha=0.5, prior=prior, delta=0.05, iterations=200)
        assert (
            mrf.mrf_energy(x, y, alpha=0.5, prior=prior, delta=0.05)[0]
            < mrf.mrf_energy(y, y, alpha=0.5, prior=prior, delta=0.05)[0]
        )
    # Quadratic prior: the minimiser solves (alpha I + L) x = alpha y, L the 4-neighbour graph Laplacian.
    h, w = y.shape

    def path_laplacian(n):
        d = sparse.diags([np.ones(n - 1)], [1], shape=(n, n))
        a = d + d.T
        return sparse.diags(np.asarray(a.sum(axis=1)).ravel()) - a

    lap = sparse.kron(path_laplacian(h), sparse.eye(w)) + sparse.kron(sparse.eye(h), path_laplacian(w))
    exact = spsolve((0.5 * sparse.eye(h * w) + lap).tocsc(), 0.5 * y.ravel()).reshape(h, w)
    np.testing.assert_allclose(mrf.mrf_map(y, alpha=0.5, prior="quadratic", iterations=500), exact, atol=1e-4)


def test_median_beats_linear_filters_on_salt_and_pepper():
    rng = np.random.default_rng(5)
    clean = clean_image((64, 64))
    x = clean.copy()
    hit = rng.random(x.shape) < 0.10
    x[hit] = rng.random(int(hit.sum())) < 0.5
    scores = {m: psnr(apply("denoise", x, m), clean) for m in ("median", "weighted-median", "box", "gaussian")}
    assert scores["median"] > max(scores["box"], scores["gaussian"]) + 3
    assert scores["weighted-median"] > max(scores["box"], scores["gaussian"]) + 3


# ------------------------------------------------------------------ rules


def test_rules_are_sensible_and_monotone():
    sigmas = [0, 5, 10, 15, 25, 35, 50, 75, 100]
    for color in (False, True):
        r = {name: [rules.rule(name, s, color=color) for s in sigmas] for name in rules.names()}
        assert all(np.isfinite(v).all() and min(v) > 0 for v in r.values())
        for name in (
            "bilateral.sigma_range",
            "nlm.h_skimage",
            "nlm.h_opencv",
            "tv.weight_chambolle",
            "tv.weight_bregman",
            "anisotropic.kappa_exp",
            "anisotropic.kappa_rational",
            "mrf-map.delta_huber",
        ):
            assert np.all(np.diff(r[name]) >= 0), name  # more noise: stronger smoothing
        for name in ("mrf-map.alpha_quadratic", "mrf-map.alpha_huber"):
            assert np.all(np.diff(r[name]) <= 0), name  # more noise: less weight on the data
        for name in ("nlm.h_skimage", "nlm.h_opencv"):
            assert 0.2 < r[name][4] / 25 < 2.0, name  # h of the order of the noise level
        for name in rules.names():
            if name.startswith("wavelet."):
                assert all(0.05 < v < 4 for v in r[name]), name
        for impl in ("skimage", "opencv"):
            assert all(3 <= v <= 9 for v in r[f"nlm.patch_size_{impl}"])


@pytest.mark.skipif(importlib.util.find_spec("imagewizard.analysis.estimate") is None, reason="no noise estimator yet")
def test_auto_sigma_is_the_estimated_noise_level():
    from imagewizard.analysis.estimate import noise_sigma

    _, x = noisy_pair((48, 48))
    level = noise_sigma(x)
    assert 15 < level < 35
    np.testing.assert_array_equal(apply("denoise", x, "tv"), np.clip(tv.tv(x, sigma=level), 0, 1))


# ------------------------------------------------------------------ JPEG deblocking and shot noise


def test_deblock_raises_psnr_of_jpegs_and_estimates_the_quality():
    from skimage import data

    from imagewizard.physics.degrade import jpeg_compress

    clean = (data.camera()[120:216, 180:276] / 255.0).astype(np.float32)  # the photographer: edges and texture
    for q in (10, 30):
        blocky = jpeg_compress(clean, q)
        told = apply("denoise", blocky, "deblock", quality=q)
        assert psnr(told, clean) > psnr(blocky, clean) + 0.4
        np.testing.assert_array_equal(apply("denoise", blocky, "deblock"), told)  # quality estimated exactly
    colour = (data.astronaut()[100:196, 100:196] / 255.0).astype(np.float32)
    blocky = jpeg_compress(colour, 20)
    out = apply("denoise", blocky, "deblock", shifts=4)
    assert out.shape == colour.shape and psnr(out, colour) > psnr(blocky, colour) + 0.3
    # one shift is the plain re-encoding: the image itself, as re-encoding at its quality is idempotent
    assert (
        psnr(apply("denoise", jpeg_compress(clean, 30), "deblock", quality=30, shifts=1), jpeg_compress(clean, 30)) > 45
    )


def test_anscombe_beats_gaussian_denoising_of_shot_noise():
    from skimage import data

    from imagewizard.physics.degrade import poisson_noise

    clean = (data.camera()[60:188, 180:308] / 255.0).astype(np.float32)  # dark coat against bright sky
    noisy = poisson_noise(clean, peak=20, rng=0)
    vst = apply("denoise", noisy, "anscombe", denoiser="wavelet")
    plain = apply("denoise", noisy, "wavelet", sigma="auto")
    assert vst.dtype == np.float32 and vst.shape == clean.shape
    assert psnr(vst, clean) > psnr(np.clip(noisy, 0, 1), clean) + 6
    assert psnr(vst, clean) > psnr(plain, clean) + 1
    told = apply("denoise", noisy, "anscombe", denoiser="wavelet", peak=20)
    assert abs(psnr(told, clean) - psnr(vst, clean)) < 0.5  # the estimated peak is close to the true one
    # the unbiased inverse keeps the mean brightness; the algebraic one would darken the shadows
    assert abs(float(told.mean()) - float(clean.mean())) < 0.01
    flat = np.full((48, 48), 0.5, np.float32) + np.random.default_rng(0).normal(0, 0.05, (48, 48)).astype(np.float32)
    # Gaussian noise (no peak to estimate): the Gaussian denoiser itself
    np.testing.assert_array_equal(
        apply("denoise", flat, "anscombe", denoiser="wavelet"), apply("denoise", flat, "wavelet", sigma="auto")
    )


def test_dust_finds_isolated_specks_and_leaves_texture_alone():
    from imagewizard.run.wizard import plan
    from imagewizard.samples import sample
    from imagewizard.tasks.denoise.dust import dust, speck_fraction, speck_mask

    clean = sample("astronaut").astype(np.float32)
    rng = np.random.default_rng(0)
    dirty = clean.copy()
    h, w = clean.shape[:2]
    spots = []
    for _ in range(int(0.002 * h * w / 2.5)):  # 0.2 % of the pixels, 1x1 to 2x2 white specks
        y, x, s = rng.integers(4, h - 6), rng.integers(4, w - 6), rng.integers(1, 3)
        if clean[y - 4 : y + s + 4, x - 4 : x + s + 4].max() < 0.65:  # where a white speck stands out
            dirty[y : y + s, x : x + s] = 1.0
            spots.append((y, x))
    found = speck_mask(dirty)
    pts = np.array(spots)
    near = np.abs(pts[:, None] - pts[None]).max(axis=2)
    alone = [tuple(p) for p, d in zip(pts, near) if np.sort(d)[1] > 6]  # a cluster is no isolated speck
    assert len(alone) > 15 and np.mean([found[y, x] for y, x in alone]) > 0.95
    assert speck_fraction(clean) < 0.0005 <= speck_fraction(dirty)
    out = dust(dirty)
    err = lambda a: float(np.sqrt(np.mean((a - clean) ** 2)))  # noqa: E731
    assert err(out) < 0.4 * err(dirty)
    assert np.array_equal(out[~found], dirty[~found])  # nothing else touched
    # the wizard: dust on 0.2 % of the pixels, scattered anywhere, as on a scan
    scan = sample("chelsea").astype(np.float32)
    h, w = scan.shape[:2]
    for _ in range(int(0.002 * h * w / 2.5)):
        y, x, s = rng.integers(0, h - 3), rng.integers(0, w - 3), rng.integers(1, 3)
        scan[y : y + s, x : x + s] = rng.uniform(0.9, 1.0)
    steps = [s.method for s in plan(scan).pipeline.steps]
    assert steps[0] == "dust"
    decided = plan(clean)
    assert decided.pipeline is None or "dust" not in [s.method for s in decided.pipeline.steps]
