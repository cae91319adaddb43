"""Classical segmentation: thresholds, clustering, graphs and regions, active contours.

Every method takes an RGB or gray float image in [0, 1] and returns an int32 label map, labels
1..n (0 is never used), with one parameter setting the number of regions or the scale and an
automatic default. Thresholds return classes (1 dark .. k bright); the others return connected
regions. scikit-image and OpenCV do the work; the code here picks features (Lab colour) and
turns their outputs into label maps.
"""

from __future__ import annotations

import numpy as np

from imagewizard.core.registry import Param, register
from imagewizard.tasks.segment.render import relabel


def _gray(img: np.ndarray) -> np.ndarray:
    if img.ndim == 3:
        from skimage.color import rgb2gray

        return rgb2gray(img[..., :3]).astype(np.float32)
    return np.asarray(img, np.float32)


def _rgb(img: np.ndarray) -> np.ndarray:
    return np.repeat(img[..., None], 3, axis=2) if img.ndim == 2 else np.asarray(img[..., :3], np.float32)


def _lab(img: np.ndarray) -> np.ndarray:
    from skimage.color import rgb2lab

    return rgb2lab(_rgb(img)).astype(np.float32)


def _classes(gray: np.ndarray, thresholds) -> np.ndarray:
    return (np.digitize(gray, np.atleast_1d(thresholds)) + 1).astype(np.int32)


# --- thresholds -----------------------------------------------------------------------------------


def _threshold(name: str, summary: str, fn_name: str):
    def run(img: np.ndarray) -> np.ndarray:
        import skimage.filters as f

        g = _gray(img)
        if np.ptp(g) == 0:
            return np.ones(g.shape, np.int32)
        return _classes(g, getattr(f, fn_name)(g))

    run.__name__ = name.replace("-", "_")
    run.__doc__ = f"{summary}\n\nTwo classes: 1 below the threshold, 2 above."
    register("segment", name, summary, tags=("fast", "threshold"))(run)
    globals()[run.__name__] = run


_threshold(
    "otsu", "Otsu's threshold: the split that maximises the between-class variance (bimodal images).", "threshold_otsu"
)
_threshold("li", "Li's minimum cross-entropy threshold (uneven classes, e.g. small bright objects).", "threshold_li")
_threshold("yen", "Yen's maximum-correlation threshold.", "threshold_yen")
_threshold(
    "triangle", "Triangle threshold: for one dominant peak with a long tail (faint objects).", "threshold_triangle"
)


@register(
    "segment",
    "multi-otsu",
    "Multi-level Otsu: several classes of brightness from one histogram.",
    params=(Param("classes", int, 3, "number of brightness classes", low=2, high=5),),
    tags=("fast", "threshold"),
)
def multi_otsu(img: np.ndarray, *, classes: int = 3) -> np.ndarray:
    """Classes 1..``classes`` by the thresholds that maximise the between-class variance.

    Examples
    --------
    >>> x = np.repeat(np.array([0.1, 0.5, 0.9], np.float32), 10)[None].repeat(4, 0)
    >>> np.unique(multi_otsu(x, classes=3)).tolist()
    [1, 2, 3]
    """
    from skimage.filters import threshold_multiotsu

    g = _gray(img)
    if len(np.unique(g)) < classes:
        return relabel(np.searchsorted(np.unique(g), g))
    return _classes(g, threshold_multiotsu(g, classes=classes))


@register(
    "segment",
    "max-entropy",
    "Kapur's maximum-entropy threshold: the split whose two histograms carry the most information.",
    tags=("fast", "threshold"),
)
def max_entropy(img: np.ndarray) -> np.ndarray:
    """Two classes split where the sum of the entropies of both sides' histograms is largest
    (Kapur, Sahoo & Wong 1985), on a 256-bin histogram."""
    g = _gray(img)
    hist = np.histogram(g, bins=256, range=(0.0, 1.0))[0].astype(np.float64)
    p = hist / max(hist.sum(), 1)
    c = np.cumsum(p)
    best, best_t = -np.inf, 0.5
    for t in range(1, 255):
        w0, w1 = c[t - 1], 1 - c[t - 1]
        if w0 <= 0 or w1 <= 0:
            continue
        a, b = p[:t][p[:t] > 0] / w0, p[t:][p[t:] > 0] / w1
        h = -(a * np.log(a)).sum() - (b * np.log(b)).sum()
        if h > best:
            best, best_t = h, t / 256.0
    return _classes(g, best_t)


@register(
    "segment",
    "local-threshold",
    "Adaptive threshold: each pixel against the mean or Gaussian average of its neighbourhood (uneven light, documents).",
    params=(
        Param("block_size", int, 35, "neighbourhood side in pixels (odd)", low=3, high=1001),
        Param("offset", float, 0.0, "subtracted from the local average (0..1 scale)", low=-0.5, high=0.5),
        Param("kind", str, "gaussian", "local average", choices=("gaussian", "mean")),
    ),
    tags=("fast", "threshold"),
)
def local_threshold(
    img: np.ndarray, *, block_size: int = 35, offset: float = 0.0, kind: str = "gaussian"
) -> np.ndarray:
    """1 where a pixel is darker than its neighbourhood's average minus ``offset``, 2 elsewhere."""
    from skimage.filters import threshold_local

    g = _gray(img)
    b = int(block_size) | 1
    return np.where(g > threshold_local(g, b, method=kind, offset=offset), 2, 1).astype(np.int32)


# --- clustering -------------------------------------------------------------------------------


def _features(img: np.ndarray, position: float) -> np.ndarray:
    lab = _lab(img)
    h, w = lab.shape[:2]
    f = lab.reshape(-1, 3)
    if position > 0:
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        scale = 100.0 * position / max(h, w)  # Lab L spans 0..100: position weight 1 = one image side per L range
        f = np.concatenate([f, (yy * scale).reshape(-1, 1), (xx * scale).reshape(-1, 1)], 1)
    return np.ascontiguousarray(f, np.float32)


_POSITION = Param(
    "position", float, 0.0, "weight of pixel position beside Lab colour (0: colour only)", low=0.0, high=10.0
)
_CONNECTED = Param("connected", bool, True, "split each cluster into connected regions")


def _finish(classes: np.ndarray, connected: bool) -> np.ndarray:
    if not connected:
        return relabel(classes)
    from skimage.measure import label

    # pixels whose colour sits between clusters form specks: hand those under 0.05% of the image on
    return merge_small(label(classes, background=-1, connectivity=1), max(20, classes.size // 2000))


@register(
    "segment",
    "kmeans",
    "k-means clustering of Lab colours (optionally with position): k colour groups.",
    params=(Param("clusters", int, 6, "number of colour clusters", low=2, high=64), _POSITION, _CONNECTED),
    tags=("clustering",),
)
def kmeans(img: np.ndarray, *, clusters: int = 6, position: float = 0.0, connected: bool = True) -> np.ndarray:
    """k-means (OpenCV, k-means++ seeding, fixed seed) on Lab colour [and position].

    Examples
    --------
    >>> x = np.zeros((8, 8, 3), np.float32); x[:, 4:] = 1
    >>> np.unique(kmeans(x, clusters=2)).tolist()
    [1, 2]
    """
    import cv2

    f = _features(img, position)
    k = int(min(clusters, len(np.unique(f, axis=0))))
    if k < 2:
        return np.ones(img.shape[:2], np.int32)
    cv2.setRNGSeed(0)
    crit = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 30, 0.1)
    _, lab, _ = cv2.kmeans(f, k, None, crit, 3, cv2.KMEANS_PP_CENTERS)
    return _finish(lab.reshape(img.shape[:2]), connected)


@register(
    "segment",
    "gmm",
    "Gaussian mixture of Lab colours (full covariances, EM): soft-edged colour groups.",
    params=(Param("components", int, 5, "number of Gaussian components", low=2, high=32), _POSITION, _CONNECTED),
    tags=("clustering",),
)
def gmm(img: np.ndarray, *, components: int = 5, position: float = 0.0, connected: bool = True) -> np.ndarray:
    """EM on a random subsample of at most 20000 pixels (seeded), then every pixel to its most likely component."""
    from sklearn.mixture import GaussianMixture

    f = _features(img, position).astype(np.float64)
    rng = np.random.default_rng(0)
    sample = f[rng.choice(len(f), size=min(len(f), 20000), replace=False)]
    k = int(min(components, len(np.unique(sample, axis=0))))
    if k < 2:
        return np.ones(img.shape[:2], np.int32)
    model = GaussianMixture(k, covariance_type="full", random_state=0, reg_covar=1e-3).fit(sample)
    return _finish(model.predict(f).reshape(img.shape[:2]), connected)


@register(
    "segment",
    "meanshift",
    "Mean shift (Comaniciu & Meer): colour modes found jointly in space and Lab colour, small regions merged.",
    params=(
        Param("spatial", int, 7, "spatial bandwidth in pixels", low=1, high=50),
        Param("color", float, 8.0, "colour bandwidth (0..255 Lab units): larger = fewer regions", low=1.0, high=100.0),
        Param("min_size", int, 0, "smallest region in pixels (0: 0.05% of the image)", low=0, high=100000),
    ),
    tags=("clustering",),
)
def meanshift(img: np.ndarray, *, spatial: int = 7, color: float = 8.0, min_size: int = 0) -> np.ndarray:
    """EDISON's recipe: mean-shift filtering (OpenCV ``pyrMeanShiftFiltering`` in 8-bit Lab), then
    neighbouring pixels whose modes lie within ``color / 2`` joined into regions, and regions
    smaller than ``min_size`` given to their nearest large neighbour."""
    import cv2

    lab8 = cv2.cvtColor(np.round(_rgb(img) * 255).astype(np.uint8), cv2.COLOR_RGB2LAB)
    modes = cv2.pyrMeanShiftFiltering(lab8, float(spatial), float(color), maxLevel=1).astype(np.float32)
    labels = _join_similar(modes, color / 2.0)
    return merge_small(labels, int(min_size) or max(20, labels.size // 2000))


def _join_similar(feat: np.ndarray, tol: float) -> np.ndarray:
    """Connected components of the 4-neighbour graph whose edges join pixels closer than ``tol``."""
    import scipy.sparse as sp
    from scipy.sparse.csgraph import connected_components

    h, w = feat.shape[:2]
    idx = np.arange(h * w).reshape(h, w)
    rows, cols = [], []
    for a, b, fa, fb in (
        (idx[:, :-1], idx[:, 1:], feat[:, :-1], feat[:, 1:]),
        (idx[:-1], idx[1:], feat[:-1], feat[1:]),
    ):
        near = np.linalg.norm(fa - fb, axis=-1) < tol
        rows.append(a[near])
        cols.append(b[near])
    r, c = np.concatenate(rows), np.concatenate(cols)
    g = sp.coo_matrix((np.ones(r.size, np.int8), (r, c)), shape=(h * w, h * w))
    _, lab = connected_components(g, directed=False)
    return lab.reshape(h, w) + 1


def merge_small(labels: np.ndarray, min_size: int) -> np.ndarray:
    """Regions under ``min_size`` pixels handed to the nearest pixel of a larger region."""
    from scipy import ndimage as ndi

    lab = relabel(labels)
    sizes = np.bincount(lab.ravel())
    small = sizes[lab] < min_size
    if small.all() or not small.any():
        return lab
    _, (iy, ix) = ndi.distance_transform_edt(small, return_indices=True)
    return relabel(lab[iy, ix])


# --- graphs and regions -----------------------------------------------------------------------


@register(
    "segment",
    "felzenszwalb",
    "Felzenszwalb-Huttenlocher graph segmentation: regions grow while their inner variation stays below the contrast to their neighbours.",
    params=(
        Param(
            "scale",
            float,
            300.0,
            "larger = larger regions (the k of the paper, 0..255 intensities)",
            low=1.0,
            high=100000.0,
        ),
        Param("sigma", float, 0.8, "Gaussian pre-smoothing in pixels", low=0.0, high=5.0),
        Param("min_size", int, 0, "smallest region in pixels (0: 0.05% of the image)", low=0, high=100000),
    ),
    tags=("fast", "regions"),
)
def felzenszwalb(img: np.ndarray, *, scale: float = 300.0, sigma: float = 0.8, min_size: int = 0) -> np.ndarray:
    """Efficient graph-based segmentation (Felzenszwalb & Huttenlocher 2004, scikit-image).

    ``scale`` is on the paper's 0..255 scale, so the BSDS-era settings carry over.

    Examples
    --------
    >>> x = np.zeros((20, 20, 3), np.float32); x[:, 10:] = 1
    >>> int(felzenszwalb(x, sigma=0).max())  # two flat halves (smoothing would add the ramp between them)
    2
    """
    from skimage.segmentation import felzenszwalb as fh

    ms = int(min_size) or max(20, img.shape[0] * img.shape[1] // 2000)
    # scikit-image divides scale by 255 for its 0..1 images: the paper's k, as given, on our [0, 1] pixels
    return relabel(fh(_rgb(img), scale=scale, sigma=sigma, min_size=ms, channel_axis=-1))


@register(
    "segment",
    "slic",
    "SLIC superpixels: compact regions of even size that follow edges (a base for region merging).",
    params=(
        Param("segments", int, 400, "approximate number of superpixels", low=2, high=100000),
        Param(
            "compactness", float, 10.0, "larger = squarer superpixels, smaller = closer to edges", low=0.01, high=100.0
        ),
    ),
    tags=("fast", "superpixels"),
)
def slic(img: np.ndarray, *, segments: int = 400, compactness: float = 10.0) -> np.ndarray:
    """Simple linear iterative clustering in Lab + position (Achanta et al. 2012, scikit-image)."""
    from skimage.segmentation import slic as _slic

    return relabel(_slic(_rgb(img), n_segments=segments, compactness=compactness, start_label=1, channel_axis=-1))


@register(
    "segment",
    "quickshift",
    "Quickshift superpixels: mode seeking in colour and position with a distance cut-off.",
    params=(
        Param("kernel_size", float, 5.0, "width of the density kernel in pixels", low=1.0, high=30.0),
        Param("max_dist", float, 10.0, "cut-off distance: larger = fewer regions", low=1.0, high=200.0),
    ),
    tags=("superpixels",),
)
def quickshift(img: np.ndarray, *, kernel_size: float = 5.0, max_dist: float = 10.0) -> np.ndarray:
    """Quickshift (Vedaldi & Soatto 2008, scikit-image) on Lab colour."""
    from skimage.segmentation import quickshift as _qs

    return relabel(
        _qs(
            _rgb(img).astype(np.float64), kernel_size=kernel_size, max_dist=max_dist, ratio=0.5, convert2lab=True, rng=0
        )
    )


@register(
    "segment",
    "rag-merge",
    "SLIC superpixels merged along a region adjacency graph while their Lab colours differ by less than a threshold.",
    params=(
        Param(
            "threshold",
            float,
            12.0,
            "largest Lab distance of regions merged (larger = fewer regions)",
            low=0.5,
            high=100.0,
        ),
        Param("segments", int, 600, "superpixels to start from", low=10, high=20000),
    ),
    tags=("regions",),
)
def rag_merge(img: np.ndarray, *, threshold: float = 12.0, segments: int = 600) -> np.ndarray:
    """Hierarchical merging of a mean-colour RAG (scikit-image ``graph.merge_hierarchical``)."""
    from skimage import graph

    base = slic(img, segments=segments, compactness=10.0)
    rag = graph.rag_mean_color(_lab(img), base)

    def weight(g, src, dst, n):
        diff = g.nodes[dst]["mean color"] - g.nodes[n]["mean color"]
        return {"weight": float(np.linalg.norm(diff))}

    def merge(g, src, dst):
        g.nodes[dst]["total color"] += g.nodes[src]["total color"]
        g.nodes[dst]["pixel count"] += g.nodes[src]["pixel count"]
        g.nodes[dst]["mean color"] = g.nodes[dst]["total color"] / g.nodes[dst]["pixel count"]

    out = graph.merge_hierarchical(
        base, rag, thresh=threshold, rag_copy=False, in_place_merge=True, merge_func=merge, weight_func=weight
    )
    return relabel(out)


@register(
    "segment",
    "ncut",
    "Normalized cut (Shi & Malik) of a colour-similarity graph on SLIC superpixels.",
    params=(
        Param(
            "threshold",
            float,
            0.001,
            "stop splitting when the cut costs more than this (smaller = more regions)",
            low=1e-6,
            high=1.0,
        ),
        Param("segments", int, 400, "superpixels the graph is built on", low=10, high=20000),
    ),
    tags=("regions",),
)
def ncut(img: np.ndarray, *, threshold: float = 0.001, segments: int = 400) -> np.ndarray:
    """Recursive two-way normalized cuts (scikit-image ``graph.cut_normalized``, seeded)."""
    from skimage import graph

    base = slic(img, segments=segments, compactness=10.0)
    rag = graph.rag_mean_color(_lab(img), base, mode="similarity", sigma=30.0)
    return relabel(graph.cut_normalized(base, rag, thresh=threshold, rng=0))


@register(
    "segment",
    "spectral",
    "Spectral clustering (Ng, Jordan & Weiss) of superpixels by colour affinity: k groups from the graph's eigenvectors.",
    params=(
        Param("clusters", int, 8, "number of groups", low=2, high=64),
        Param(
            "segments", int, 400, "SLIC superpixels the affinity is built on (the downsampled graph)", low=10, high=5000
        ),
    ),
    tags=("clustering",),
)
def spectral(img: np.ndarray, *, clusters: int = 8, segments: int = 400) -> np.ndarray:
    """scikit-learn's spectral clustering on a superpixel graph: neighbouring superpixels joined with
    weight ``exp(-d^2 / 2 s^2)`` of their mean Lab distance ``d`` (``s``: the median distance)."""
    import scipy.sparse as sp
    from sklearn.cluster import SpectralClustering

    base = slic(img, segments=segments, compactness=10.0) - 1
    n = int(base.max()) + 1
    k = int(min(clusters, n))
    if k < 2:
        return np.ones(img.shape[:2], np.int32)
    lab = _lab(img).reshape(-1, 3)
    counts = np.bincount(base.ravel(), minlength=n).astype(np.float64)
    means = np.stack([np.bincount(base.ravel(), lab[:, c], minlength=n) for c in range(3)], 1) / counts[:, None]
    pairs = np.concatenate(
        [np.stack([base[:, :-1].ravel(), base[:, 1:].ravel()], 1), np.stack([base[:-1].ravel(), base[1:].ravel()], 1)]
    )
    pairs = np.unique(np.sort(pairs[pairs[:, 0] != pairs[:, 1]], 1), axis=0)
    d = np.linalg.norm(means[pairs[:, 0]] - means[pairs[:, 1]], axis=1)
    s = max(float(np.median(d)), 1e-3)
    w = np.exp(-(d**2) / (2 * s**2)) + 1e-6
    a = sp.coo_matrix((np.r_[w, w], (np.r_[pairs[:, 0], pairs[:, 1]], np.r_[pairs[:, 1], pairs[:, 0]])), shape=(n, n))
    model = SpectralClustering(k, affinity="precomputed", random_state=0, assign_labels="cluster_qr")
    groups = model.fit_predict(a.tocsr())
    return _finish(groups[base], True)


@register(
    "segment",
    "watershed",
    "Watershed of the colour gradient from markers (gradient minima or distance-transform peaks): touching objects apart.",
    params=(
        Param(
            "markers",
            int,
            0,
            "number of markers (0: the gradient's regional minima after smoothing)",
            low=0,
            high=100000,
        ),
        Param("compactness", float, 0.0, "compact watershed: larger = rounder basins", low=0.0, high=10.0),
        Param("seeds", str, "gradient", "where markers come from", choices=("gradient", "distance")),
    ),
    tags=("fast", "regions"),
)
def watershed(img: np.ndarray, *, markers: int = 0, compactness: float = 0.0, seeds: str = "gradient") -> np.ndarray:
    """Meyer's flooding (scikit-image). ``seeds="distance"`` floods the inverted distance transform of
    Otsu's foreground, the classic way to split touching round objects."""
    from scipy import ndimage as ndi
    from skimage.feature import peak_local_max
    from skimage.filters import gaussian, sobel, threshold_otsu
    from skimage.morphology import h_minima
    from skimage.segmentation import watershed as ws

    if seeds == "distance":
        g = _gray(img)
        fg = g > threshold_otsu(g) if np.ptp(g) else np.ones(g.shape, bool)
        dist = ndi.distance_transform_edt(fg)
        peaks = peak_local_max(
            dist, min_distance=max(3, min(g.shape) // 50), labels=fg.astype(int), num_peaks=markers or np.inf
        )
        m = np.zeros(g.shape, np.int32)
        m[tuple(peaks.T)] = np.arange(1, len(peaks) + 1)
        out = ws(-dist, m, mask=fg, compactness=compactness)
        return relabel(np.where(fg, out + 1, 1))
    lab = _lab(img)
    grad = np.sqrt(sum(sobel(gaussian(lab[..., c], 1.0)) ** 2 for c in range(3)))
    if markers:
        return relabel(ws(grad, markers=int(markers), compactness=compactness))
    m = ndi.label(h_minima(grad, 0.02 * float(grad.max()) + 1e-6))[0]
    return relabel(ws(grad, m, compactness=compactness))


@register(
    "segment",
    "chan-vese",
    "Chan-Vese active contour: two regions whose inside and outside are each as uniform as possible (no edges needed).",
    params=(
        Param("smoothness", float, 0.25, "contour length penalty (mu): larger = smoother outline", low=0.0, high=2.0),
        Param("iterations", int, 200, "level-set iterations", low=1, high=5000),
    ),
    tags=("contour",),
)
def chan_vese(img: np.ndarray, *, smoothness: float = 0.25, iterations: int = 200) -> np.ndarray:
    """Chan & Vese (2001) level set on the gray image (scikit-image); 2 inside, 1 outside."""
    from skimage.segmentation import chan_vese as cv

    g = _gray(img)
    return np.where(cv(g, mu=smoothness, max_num_iter=iterations), 2, 1).astype(np.int32)


@register(
    "segment",
    "morph-acwe",
    "Morphological active contour without edges: Chan-Vese with morphology, fast and stable.",
    params=(
        Param("iterations", int, 100, "iterations", low=1, high=5000),
        Param("smoothing", int, 2, "smoothing steps per iteration", low=0, high=8),
    ),
    tags=("contour",),
)
def morph_acwe(img: np.ndarray, *, iterations: int = 100, smoothing: int = 2) -> np.ndarray:
    """Morphological Chan-Vese (Marquez-Neila et al. 2014, scikit-image); 2 inside, 1 outside."""
    from skimage.segmentation import morphological_chan_vese

    g = _gray(img)
    return np.where(
        morphological_chan_vese(g, iterations, init_level_set="checkerboard", smoothing=smoothing), 2, 1
    ).astype(np.int32)
