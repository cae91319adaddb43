"""Noise: its level (sigma on the 0..255 scale, per intensity band) and its type (Gaussian,
Poisson-like, salt-and-pepper, ...)."""

from __future__ import annotations

import cv2
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy.optimize import nnls
from scipy.special import gammaincinv, ndtr
from scipy.stats import theilslopes

from imagewizard.analysis.estimate.common import _image


_PATCH = 7  # patch side for the covariance (49 dimensions)


_RING = 4  # width of the ring around a patch whose gradients judge its texture


_KEEP = 0.2  # keep patches whose ring is smoother than this quantile of pure noise


_CAP = 20000  # patches in the covariance at most (strided subsample)


_ITERS = 6


_LEAST = 2000  # patches in the covariance at least (the smoothest, if the quantile keeps fewer)


_TILE_BUDGET = 1_500_000  # pixels per channel looked at; larger images are sampled in tiles


_SQRT_2PI = float(np.sqrt(2 * np.pi))


def noise_sigma(img) -> float:
    """Standard deviation of additive white Gaussian noise, on the 0..255 scale.

    Patch-covariance (PCA) estimate restricted to weakly textured patches:

    1. every 7x7 patch is judged by the gradient energy of the ring of
       pixels around it (4 pixels wide, the patch itself excluded), and
       kept when that energy is below the 20% quantile of what pure noise
       of the current estimate would give (a Gamma law with the ring's
       exact first two moments), or when it is among the 2000 smoothest;
    2. the noise variance is read from the eigenvalues of the covariance
       of the kept patches with the rule of Chen, Zhu & Heng, "An
       Efficient Statistical Method for Image Noise Level Estimation"
       (ICCV 2015): the mean of the smallest eigenvalues, taking the
       largest set whose mean equals its median;
    3. steps 1-2 repeat until the estimate settles (from the estimate on
       all patches).

    Selecting on the ring rather than on the patch (as Liu, Tanaka &
    Okutomi, "Single-image noise level estimation for blind denoising",
    IEEE TIP 2013 do) keeps the selection independent of the noise
    inside the patch, so pure noise is estimated without the downward bias
    of truncation, and the selection can be strict enough to drop most
    texture, the cause of the overestimates of wavelet MAD estimators
    (``skimage.restoration.estimate_sigma``) at low noise.

    Colour channels are assumed to carry the same noise: their patches are
    pooled and one value is returned. Unclipped float input (the benchmark
    protocol) and clipped 8-bit input both work: when many pixels sit at
    the extreme values, the variance seen in each patch is matched to that
    of a Gaussian clipped at those values (censored-normal moments at the
    patch's level), which recovers the level before clipping. A clean image
    gives a value near 0 (what is left is the image's own grain and
    compression noise; 8-bit rounding alone is not counted). Images too
    small for 15x15 windows fall back to the wavelet MAD estimate.

    For signal-dependent noise (Poisson, speckle) a single Gaussian level
    does not exist; the value then reflects the smoothest areas, often
    the darkest and least noisy: see :func:`noise_levels` and
    :func:`noise_type`. Accuracy on BSDS500 images, speed and the command
    that measures them: ``docs/noise-estimation.md``.

    Parameters
    ----------
    img : array_like
        HxW or HxWx3 image (float nominally in [0, 1], or uint8/uint16).

    Returns
    -------
    float
        Estimated noise standard deviation on the 0..255 scale.

    Examples
    --------
    >>> from skimage import data
    >>> clean = data.camera()[:256, :256] / 255.0
    >>> noisy = clean + np.random.default_rng(0).normal(0, 15 / 255, clean.shape)
    >>> abs(noise_sigma(noisy) - 15) < 1
    True
    """
    return _noise_sigma(_image(img))


def noise_levels(img, *, bins: int = 8) -> list[dict]:
    """Noise standard deviation by intensity: the :func:`noise_sigma` estimate within intensity bins.

    Patches are grouped by the mean of the ring of pixels around them (so
    the grouping does not depend on their own noise; in colour images each
    channel by its own intensity) into ``bins`` bins of equal population;
    each bin is estimated on its own. For additive
    Gaussian noise all levels agree; Poisson noise grows as the square root
    of the intensity, speckle in proportion to it (see :func:`noise_type`).

    Returns
    -------
    list of dict
        One per bin with enough smooth patches: ``sigma`` (0..255), and
        the mean intensity (``mean``, 0..255) and number (``patches``) of
        the patches it was measured on.

    Examples
    --------
    >>> ramp = np.tile(np.linspace(0.1, 0.9, 256), (256, 1))
    >>> noisy = ramp + np.random.default_rng(0).normal(0, 10 / 255, ramp.shape)
    >>> [round(lv["sigma"]) for lv in noise_levels(noisy, bins=4)]
    [10, 10, 10, 10]
    """
    return _noise_levels(_image(img), bins)


def _noise_levels(x: np.ndarray, bins: int = 8) -> list[dict]:
    field = _PatchField(x)
    if field.too_small:
        return []
    out = []
    pooled = np.concatenate(
        [lv[ok] if ok is not None else lv.ravel() for lv, ok in zip(field.ring_means, field.usable)]
    )
    if pooled.size == 0:
        return []
    edges = np.quantile(pooled, np.linspace(0, 1, bins + 1))
    for k in range(bins):
        members = [
            (lv >= edges[k]) & ((lv <= edges[k + 1]) if k == bins - 1 else (lv < edges[k + 1]))
            for lv in field.ring_means
        ]
        var, n, mean = field.estimate(members, cap=_CAP // 4, least=_LEAST // 4, exact=False)
        if var is None:
            continue
        out.append({"mean": mean, "sigma": float(np.sqrt(max(var, 0.0))), "patches": int(n)})
    return out


def _noise_sigma(
    x: np.ndarray, p: int = _PATCH, b: int = _RING, keep: float = _KEEP, cap: int = _CAP, iters: int = _ITERS
) -> float:
    field = _PatchField(x, p, b, keep, iters)
    if field.too_small:
        return _small_image_sigma(field.planes)
    var, _n, _level = field.estimate(None, cap=cap)
    if var is None:
        return _small_image_sigma(field.planes)
    return float(np.sqrt(max(var, 0.0)))


class _PatchField:
    """The patches of an image with their ring energies: what the noise estimates select from."""

    def __init__(self, x: np.ndarray, p: int = _PATCH, b: int = _RING, keep: float = _KEEP, iters: int = _ITERS):
        planes = [x] if x.ndim == 2 else [x[..., c] for c in range(x.shape[2])]
        # Large images: noise statistics are local, so equal tiles spread over
        # the image stand in for it (pooled like channels).
        planes = [t for pl in planes for t in _tiles(pl)]
        self.planes = [np.asarray(pl, np.float64) * 255.0 for pl in planes]
        self.p, self.keep, self.iters = p, keep, iters
        h, w = self.planes[0].shape
        q = p + 2 * b
        self.too_small = h < q + 2 or w < q + 2
        if self.too_small:
            return
        self.shape = shape = (h - q + 1, w - q + 1)
        self.k, self.theta = _ring_gamma(p, b)
        self.limits = _clip_limits(self.planes)
        self.quantized = _on_8bit_grid(x)
        inner = (slice(b, b + shape[0]), slice(b, b + shape[1]))
        n_ring = q * q - p * p
        self.rings, self.wins, self.usable, self.ring_means = [], [], [], []
        for pl in self.planes:
            self.rings.append(_ring_energy(pl, p, b))
            self.wins.append(sliding_window_view(pl, (p, p))[inner])
            # intensity at each patch position, from its ring
            self.ring_means.append((_box_sum(pl, q, q) - _box_sum(pl, p, p)[inner]) / n_ring)
            if self.limits is not None:
                # A ring that is all saturated says nothing about the centre (judged
                # on the ring so that the noise inside the patch is not selected on).
                sat = ((pl <= self.limits[0]) | (pl >= self.limits[1])).astype(np.float64)
                ring_sat = _box_sum(sat, q, q) - _box_sum(sat, p, p)[inner]
                self.usable.append(ring_sat < n_ring - 0.5)
            else:
                self.usable.append(None)

    def _variance(
        self,
        members: list[np.ndarray] | None,
        threshold: float | None,
        cap: int,
        unclip: float | None = None,
        exact: bool = True,
    ) -> tuple[float | None, int, float, float]:
        """(variance, patches, their mean intensity, variance before the clipping correction).

        The correction for clipping (if any) is solved exactly, or when
        ``unclip`` is given, approximated by that factor (while the selection
        settles); ``exact=False`` solves it on fewer patches.
        """
        p = self.p
        masks = []
        for i, (ring, ok) in enumerate(zip(self.rings, self.usable)):
            m = np.ones(self.shape, bool) if threshold is None else ring < threshold
            if ok is not None:
                m &= ok
            if members is not None:
                m &= members[i]
            masks.append(m)
        total = sum(int(np.count_nonzero(m)) for m in masks)
        if total < 4 * p * p:
            return None, total, float("nan"), float("nan")
        step = max(1, -(-total // cap))
        parts = []
        for m, win in zip(masks, self.wins):
            idx = np.flatnonzero(m)[::step]
            i, j = np.divmod(idx, self.shape[1])
            parts.append(win[i, j].reshape(len(idx), p * p))
        patches = np.concatenate(parts)
        means = patches.mean(axis=1)
        patches -= patches.mean(axis=0)
        raw = v = _chen_rule(np.linalg.eigvalsh(patches.T @ patches / len(patches)))
        if self.limits is not None:
            if unclip is not None:
                v = raw * unclip
            else:
                v = _unclip_variance(raw, means, self.limits, samples=800 if exact else 250)
        return v, len(patches), float(np.mean(means)), raw

    def estimate(
        self, members: list[np.ndarray] | None, cap: int = _CAP, least: int = _LEAST, exact: bool = True
    ) -> tuple[float | None, int, float]:
        """Noise variance (0..255 scale) from the patches in ``members`` (a mask per plane; all if
        None), the number of patches it used and their mean intensity.

        At least ``least`` patches (the smoothest) are used where there are
        that many: fewer make the small eigenvalues spread and the rule
        biased low. With ``exact=False`` a clipping correction is solved
        only on the first selection and the last, and scaled in between (faster).
        """
        pool = []
        for i, (ring, ok) in enumerate(zip(self.rings, self.usable)):
            m = np.ones(self.shape, bool) if ok is None else ok.copy()
            if members is not None:
                m &= members[i]
            pool.append(ring[m])
        pool = np.concatenate(pool)
        floor = float(np.partition(pool, least)[least]) if len(pool) > least else np.inf

        def threshold(v: float) -> float:
            return max(self.theta * max(v, 1e-4) * gammaincinv(self.k, self.keep), floor)

        # Settle the selection on a subsample, then estimate once on up to ``cap`` patches.
        small = max(cap // 4, 1000)
        s2, n, level, _raw = self._variance(members, None, small, exact=exact)
        if s2 is None:
            return None, n, level
        factor = None  # the clipping correction as a factor, when not solved each time
        for _ in range(self.iters):
            new = self._variance(members, threshold(s2), small, unclip=factor, exact=exact)
            if new[0] is None:
                break
            done = abs(new[0] - s2) <= 0.01 * max(s2, 1e-4)
            s2, n, level, raw = new
            if not exact:
                factor = s2 / raw if raw > 0 else 1.0
            if done:
                break
        final = self._variance(members, threshold(s2), cap, exact=exact)
        if final[0] is not None:
            s2, n, level, _raw = final
        if self.quantized:
            s2 -= 1.0 / 12.0  # rounding to integers adds uniform noise of variance 1/12
        return s2, n, level


def _tiles(plane: np.ndarray, budget: int = _TILE_BUDGET, side: int = 384) -> list[np.ndarray]:
    """The plane itself, or (when larger than ``budget`` pixels) equal tiles spread evenly over it."""
    h, w = plane.shape
    if h * w <= budget:
        return [plane]
    th, tw = min(h, side), min(w, side)
    count = max(1, budget // (th * tw))
    ny = int(np.clip(round(np.sqrt(count * h / w)), 1, max(1, h // th)))
    nx = int(np.clip(count // ny, 1, max(1, w // tw)))
    ys = np.linspace(0, h - th, ny).round().astype(int)
    xs = np.linspace(0, w - tw, nx).round().astype(int)
    return [plane[y : y + th, x : x + tw] for y in ys for x in xs]


def _chen_rule(eigenvalues: np.ndarray) -> float:
    ev = np.sort(eigenvalues)
    means = np.cumsum(ev) / np.arange(1, len(ev) + 1)
    for m in range(len(ev), 0, -1):
        tau = means[m - 1]
        if np.count_nonzero(ev[:m] > tau) == np.count_nonzero(ev[:m] < tau):
            return float(tau)
    return float(ev[0])


def _box_sum(a: np.ndarray, h: int, w: int) -> np.ndarray:
    """Sums over all h x w windows (valid positions), by an integral image."""
    c = cv2.integral(np.ascontiguousarray(a, dtype=np.float64), sdepth=cv2.CV_64F)
    return c[h:, w:] - c[:-h, w:] - c[h:, :-w] + c[:-h, :-w]


def _ring_energy(pl: np.ndarray, p: int, b: int) -> np.ndarray:
    """Squared neighbour differences in each (p+2b)^2 window that touch none of its central p x p pixels."""
    q = p + 2 * b
    dh = np.diff(pl, axis=1) ** 2
    dv = np.diff(pl, axis=0) ** 2
    full = _box_sum(dh, q, q - 1) + _box_sum(dv, q - 1, q)
    n0, n1 = full.shape
    # differences touching the centre: p rows x (p+1) horizontal pairs, (p+1) x p vertical ones
    inner = (
        _box_sum(dh, p, p + 1)[b : b + n0, b - 1 : b - 1 + n1] + _box_sum(dv, p + 1, p)[b - 1 : b - 1 + n0, b : b + n1]
    )
    return full - inner


_GAMMA_CACHE: dict[tuple[int, int], tuple[float, float]] = {}


def _ring_gamma(p: int, b: int) -> tuple[float, float]:
    """Shape and scale (per unit noise variance) of the Gamma law matching the ring energy of pure noise."""
    key = (p, b)
    if key not in _GAMMA_CACHE:
        q = p + 2 * b
        centre = np.zeros((q, q), bool)
        centre[b : b + p, b : b + p] = True
        eye = np.eye(q * q).reshape(q * q, q, q)
        dh = np.diff(eye, axis=2)[:, ~(centre[:, :-1] | centre[:, 1:])]
        dv = np.diff(eye, axis=1)[:, ~(centre[:-1, :] | centre[1:, :])]
        d = np.concatenate([dh, dv], axis=1)  # pixels x differences
        a = d @ d.T
        # energy = n^T A n for white noise n: mean tr(A), variance 2 tr(A^2)
        mean, var = np.trace(a), 2.0 * np.sum(a * a)
        _GAMMA_CACHE[key] = (mean * mean / var, var / mean)
    return _GAMMA_CACHE[key]


def _clip_limits(planes: list[np.ndarray]) -> tuple[float, float] | None:
    """(low, high) saturation levels on the 0..255 scale when clipping is evident; else None."""
    lo = min(float(pl.min()) for pl in planes)
    hi = max(float(pl.max()) for pl in planes)
    n = sum(pl.size for pl in planes)
    low_hit = sum(int(np.count_nonzero(pl == lo)) for pl in planes) > 1e-3 * n
    high_hit = sum(int(np.count_nonzero(pl == hi)) for pl in planes) > 1e-3 * n
    if not (low_hit or high_hit):
        return None
    # an unclipped side is put far away (finite, so the censored-normal formulas stay finite)
    return (lo if low_hit else lo - 1e4, hi if high_hit else hi + 1e4)


def _censored_moments(mu: np.ndarray, sigma, lo: float, hi: float) -> tuple[np.ndarray, np.ndarray]:
    """Mean and variance of clip(mu + sigma Z, lo, hi) for standard normal Z (finite lo < hi)."""
    a = (lo - mu) / sigma
    b = (hi - mu) / sigma
    pa, pb = ndtr(a), ndtr(b)
    da, db = np.exp(-0.5 * a * a) / _SQRT_2PI, np.exp(-0.5 * b * b) / _SQRT_2PI
    inside = pb - pa
    mean = lo * pa + hi * (1 - pb) + mu * inside + sigma * (da - db)
    second = (
        lo * lo * pa
        + hi * hi * (1 - pb)
        + (mu * mu + sigma * sigma) * inside
        + 2 * mu * sigma * (da - db)
        + sigma * sigma * (a * da - b * db)
    )
    return mean, np.maximum(second - mean * mean, 0.0)


def _unclip_variance(v_obs: float, means: np.ndarray, limits: tuple[float, float], samples: int = 800) -> float:
    """Noise variance before clipping that explains variance ``v_obs`` seen in patches with these means.

    Each patch is taken as flat with noise clipped at ``limits``; its
    underlying level is found from its observed mean, and the variance of a
    clipped Gaussian is averaged over the patches (censored-normal moments).
    Solved on a coarse, then a fine grid of candidate sigmas, vectorised.
    """
    lo, hi = limits
    if v_obs <= 0:
        return v_obs
    means = means[:: max(1, len(means) // samples)]  # the average needs no more
    root = np.sqrt(v_obs)
    top = 4.0 * root  # clipping that hides more than a factor 4 in sigma is not recoverable
    # patches further than 7 sigma from both limits see their noise unclipped
    near = means[(means - lo < 7 * top) | (hi - means < 7 * top)]
    if len(near) == 0:
        return v_obs
    far = (len(means) - len(near)) / len(means)

    def seen(grid: np.ndarray) -> np.ndarray:
        return far * grid**2 + (1 - far) * _clipped_variance(near, grid, lo, hi)

    grid = root * np.geomspace(1.0, 4.0, 12)
    seen_grid = seen(grid)
    above = np.flatnonzero(seen_grid >= v_obs)
    if len(above) == 0:
        return float(grid[-1] ** 2)
    i = int(above[0])
    if i == 0:
        return float(grid[0] ** 2)
    grid = np.linspace(grid[i - 1], grid[i], 8)
    s = float(np.interp(v_obs, seen(grid), grid))  # seen rises with sigma
    return s * s


def _clipped_variance(means: np.ndarray, sigmas: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Mean over patches of the clipped-noise variance, for each candidate sigma."""
    s = sigmas[:, None]
    mu = np.broadcast_to(means, (len(sigmas), len(means))).copy()
    for _ in range(4):  # Newton: the clipped mean rises monotonically with the underlying level
        m, _var = _censored_moments(mu, s, lo, hi)
        slope = np.maximum(ndtr((hi - mu) / s) - ndtr((lo - mu) / s), 1e-3)
        mu -= (m - means) / slope
    return _censored_moments(mu, s, lo, hi)[1].mean(axis=1)


def _on_8bit_grid(x: np.ndarray) -> bool:
    sample = x.ravel()[:: max(1, x.size // 4096)].astype(np.float64) * 255.0
    return bool(np.all(np.abs(sample - np.round(sample)) < 1e-3))


def _small_image_sigma(planes: list[np.ndarray]) -> float:
    # Too small for patch statistics: median absolute deviation of the
    # finest diagonal wavelet band (Donoho & Johnstone).
    import pywt

    vals = []
    for pl in planes:
        if min(pl.shape) < 2:
            return 0.0
        hh = pywt.dwt2(pl, "db1")[1][2]
        vals.append(np.median(np.abs(hh)) / 0.6745)
    return float(np.mean(vals))


_NO_NOISE = 1.0  # below this sigma (0..255) an image counts as clean


_IMPULSE_MIN = 0.002  # fraction of pixels that are impulses, for 'salt-pepper'


_IMPULSE_PURITY = 0.6  # share of the strong outliers that sit at an extreme, for 'salt-pepper'


_MIN_SPAN = 2.0  # brightest / darkest usable intensity bin needed to fit the level dependence


_DEPENDENT_SHARE = 0.5  # share of the noise variance (at the median intensity) that grows with it


_SPECKLE_MARGIN = 0.6  # speckle needs a relative fit residual below this share of Poisson's


def noise_type(img, *, sigma: float | None = None) -> tuple[str, dict]:
    """The likely kind of noise, with the evidence.

    Returns one of

    ``'salt-pepper'``
        impulses: at least 0.2% of the pixels sit at exactly the image's
        extreme values and differ by more than a quarter of the range from
        their 3x3 median, and they make up most of the pixels that differ
        that strongly (clipped heavy Gaussian noise has many more strong
        outliers that are not at an extreme);
    ``'gaussian'``, ``'poisson'``, ``'speckle'``
        by how the noise grows with intensity: :func:`noise_levels` measures
        it in intensity bins, and ``var = a + b*mean`` and
        ``var = a + c*mean**2`` are fitted (non-negative coefficients,
        relative error). If the growing term is less than half the variance
        at the median intensity the noise is Gaussian (signal-independent);
        otherwise speckle (multiplicative: std grows linearly) when its fit
        leaves under 0.6 times the residual of the other, else Poisson
        (shot noise: variance grows linearly). Also reported: the Theil-Sen
        slope of log variance on log intensity (about 0, 1 and 2 for the
        three);
    ``'none'``
        no impulses, a noise level (:func:`noise_sigma`) below 1 (0..255
        scale) and no noise growing with intensity either;
    ``'unknown'``
        noise is present but the smooth parts of the image span too narrow
        a range of intensities (less than a factor 2) to tell how it
        depends on them.

    Parameters
    ----------
    img : array_like
        HxW or HxWx3 image.
    sigma : float, optional
        The noise level if already known (0..255 scale); estimated otherwise.

    Returns
    -------
    kind : str
    evidence : dict
        ``impulse_fraction`` and ``impulse_purity``; unless impulses were
        found also ``sigma`` and, where the levels could be fitted,
        ``dependent_model`` (the better signal-dependent fit),
        ``signal_dependent_share``, ``variance_exponent``,
        ``intensity_span``, ``median_level`` and ``levels`` (pairs of
        intensity and noise std, both 0..255).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> clean = np.tile(np.linspace(0.1, 0.9, 128), (128, 1))
    >>> noisy = clean.copy(); noisy[rng.random(clean.shape) < 0.05] = 1.0
    >>> noise_type(noisy)[0]
    'salt-pepper'
    """
    return _noise_type(_image(img), sigma)


def _noise_type(x: np.ndarray, sigma: float | None) -> tuple[str, dict]:
    planes = [x] if x.ndim == 2 else [x[..., c] for c in range(x.shape[2])]
    fraction, purity = _impulses(planes)
    evidence: dict = {"impulse_fraction": fraction, "impulse_purity": purity}
    if fraction >= _IMPULSE_MIN and purity >= _IMPULSE_PURITY:
        return "salt-pepper", evidence
    s = float(_noise_sigma(x) if sigma is None else sigma)
    evidence = {"sigma": s, **evidence}
    fit = _level_dependence(_noise_levels(x))
    if fit is not None:
        evidence.update(fit)
    dependent = fit is not None and fit["signal_dependent_share"] >= _DEPENDENT_SHARE
    # Signal-dependent noise hides in the dark, smooth areas that noise_sigma trusts most.
    if s < _NO_NOISE and not (dependent and fit["median_level"] >= 2 * _NO_NOISE):
        return "none", evidence
    if fit is None:
        return "unknown", evidence
    return (fit["dependent_model"] if dependent else "gaussian"), evidence


def _level_dependence(levels: list[dict]) -> dict | None:
    """How the noise variance grows with intensity; None when the intensities span too little.

    Fits, in relative error and with non-negative coefficients,
    ``var = a + b*mean`` (Poisson plus Gaussian) and ``a + c*mean**2``
    (speckle plus Gaussian); the constant ``a`` also absorbs texture that
    inflates the darker, busier bins. The noise is signal-dependent when
    the growing term is most of the variance at the median intensity.
    Also a robust (Theil-Sen) slope of log variance on log intensity, for
    the record.
    """
    lv = np.array([(d["mean"], d["sigma"]) for d in levels if 8.0 <= d["mean"] <= 247.0 and d["sigma"] > 0.1])
    if len(lv) < 3 or lv[:, 0].max() / lv[:, 0].min() < _MIN_SPAN:
        return None
    mu, var = lv[:, 0], lv[:, 1] ** 2
    ones = np.ones_like(mu)
    fits = {}
    for name, col in (("poisson", mu), ("speckle", mu * mu)):
        coef, resid = nnls(np.column_stack([ones, col]) / var[:, None], ones)
        mid = float(np.median(mu))
        dependent = coef[1] * (mid if name == "poisson" else mid * mid)
        fits[name] = (resid, dependent / max(coef[0] + dependent, 1e-12), coef)
    # Shot noise is the common case: speckle must fit clearly better.
    best = "speckle" if fits["speckle"][0] < _SPECKLE_MARGIN * fits["poisson"][0] else "poisson"
    slope = theilslopes(np.log(var), np.log(mu))[0]
    return {
        "dependent_model": best,
        "signal_dependent_share": float(fits[best][1]),
        "variance_exponent": float(slope),
        # var = intercept + slope * level (0..255 scale): the Poisson-Gaussian model's two numbers
        "poisson_fit": [float(fits["poisson"][2][0]), float(fits["poisson"][2][1])],
        "intensity_span": float(mu.max() / mu.min()),
        "median_level": float(np.median(lv[:, 1])),
        "levels": [[round(float(m), 1), round(float(sd), 2)] for m, sd in lv],
    }


def _impulses(planes: list[np.ndarray]) -> tuple[float, float]:
    """Fraction of pixels that are impulses at an extreme, and impulses / all strong outliers."""
    impulses = outliers = total = 0
    for pl in planes:
        lo, hi = float(pl.min()), float(pl.max())
        for tile in _tiles(pl):  # large images: a sample of tiles
            total += tile.size
            if hi - lo <= 0:
                continue
            tile = np.ascontiguousarray(tile, dtype=np.float32)
            strong = np.abs(tile - cv2.medianBlur(tile, 3)) > 0.25 * (hi - lo)
            extreme = (tile == lo) | (tile == hi)
            impulses += int(np.count_nonzero(strong & extreme))
            outliers += int(np.count_nonzero(strong))
    return impulses / max(total, 1), impulses / outliers if outliers else 0.0
