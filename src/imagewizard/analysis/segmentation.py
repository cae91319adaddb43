"""Segmentation scores as the BSDS500 benchmark defines them (Arbelaez, Maire, Fowlkes & Malik, TPAMI 2011).

A segmentation is scored against *several* human segmentations of the same image at once:

Segmentation covering
    For each human segmentation G and each of its regions R, the best overlap (intersection over
    union) of R with a region of the machine segmentation S, weighted by the size of R; summed over
    all the human segmentations and divided by their total size (BSDS's ``cntR / sumR``).
Probabilistic Rand index (PRI)
    The Rand index of S against each G, averaged over the Gs; BSDS's formula with squared counts,
    ``1 - (sum a_i^2 / 2 + sum b_j^2 / 2 - sum n_ij^2) / (N (N - 1) / 2)``.
Variation of information (VI)
    ``H(S) + H(G) - 2 I(S, G)`` in bits (log2, as the BSDS500 code computes it), averaged over the Gs (lower is better).
Boundary precision / recall
    The machine boundary is thresholded, thinned to one pixel (``bwmorph(.., 'thin', Inf)``,
    :func:`skimage.morphology.thin`) and matched one-to-one to each human boundary with a distance
    tolerance of 0.0075 of the image diagonal. A machine pixel is correct when it matches some
    human's pixel; recall counts every human's matched pixels. BSDS finds the matching with a
    min-cost assignment (``correspondPixels``); here it is a maximum-cardinality bipartite matching
    (Hopcroft-Karp, :func:`scipy.sparse.csgraph.maximum_bipartite_matching`) on the pixel pairs
    within the tolerance: the same counts whenever the assignment matches all it can, never fewer.

Over a dataset: ODS is the best single threshold (or scale) for all images, OIS the best per image
(:func:`dataset_scores`). Counts are accumulated as BSDS does, so F at ODS comes from summed counts.

Examples
--------
>>> a = np.array([[1, 1, 2, 2]] * 4)
>>> segmentation_covering(a, [a]), probabilistic_rand_index(a, [a]), variation_of_information(a, [a])
(1.0, 1.0, 0.0)
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from imagewizard.core.errors import ParameterError

#: The BSDS matching tolerance as a fraction of the image diagonal.
MAX_DIST = 0.0075


def _check(seg, truths) -> tuple[np.ndarray, list[np.ndarray]]:
    s = np.asarray(seg)
    if s.ndim != 2:
        raise ParameterError(f"a label map must be 2-D, got shape {s.shape}")
    gts = [np.asarray(g) for g in (truths if isinstance(truths, (list, tuple)) else [truths])]
    if not gts:
        raise ParameterError("no human segmentation to score against")
    for g in gts:
        if g.shape != s.shape:
            raise ParameterError(f"label map {s.shape} and ground truth {g.shape} differ in shape")
    return s, gts


def contingency(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pixel counts ``n[i, j]`` of (label i of ``a``, label j of ``b``), labels compacted to 0..k-1."""
    _, ia = np.unique(np.asarray(a).ravel(), return_inverse=True)
    _, ib = np.unique(np.asarray(b).ravel(), return_inverse=True)
    nb = int(ib.max()) + 1
    counts = np.bincount(ia.astype(np.int64) * nb + ib, minlength=(int(ia.max()) + 1) * nb)
    return counts.reshape(-1, nb).astype(np.float64)


def covering_counts(seg, truths) -> tuple[float, float]:
    """BSDS's ``(cntR, sumR)``: size-weighted best overlaps of the human regions, and their total size."""
    s, gts = _check(seg, truths)
    cnt = tot = 0.0
    for g in gts:
        n = contingency(g, s)  # rows: human regions
        rows, cols = n.sum(1, keepdims=True), n.sum(0, keepdims=True)
        iou = n / (rows + cols - n)
        cnt += float((iou.max(1) * rows[:, 0]).sum())
        tot += float(rows.sum())
    return cnt, tot


def segmentation_covering(seg, truths) -> float:
    """Covering of the human segmentations by ``seg`` (1 is perfect).

    Examples
    --------
    >>> g = np.array([[1, 1, 2, 2]])
    >>> segmentation_covering(np.array([[1, 1, 1, 1]]), [g])
    0.5
    """
    cnt, tot = covering_counts(seg, truths)
    return cnt / tot


def _rand(n: np.ndarray) -> float:
    total = n.sum()
    pairs = total * (total - 1) / 2.0
    if pairs == 0:
        return 1.0
    return 1.0 - ((n.sum(1) ** 2).sum() / 2 + (n.sum(0) ** 2).sum() / 2 - (n**2).sum()) / pairs


def _vi(n: np.ndarray) -> float:
    p = n / n.sum()
    pa, pb = p.sum(1), p.sum(0)
    nz = p > 0
    h_a = -float((pa[pa > 0] * np.log2(pa[pa > 0])).sum())
    h_b = -float((pb[pb > 0] * np.log2(pb[pb > 0])).sum())
    mi = float((p[nz] * np.log2(p[nz] / np.outer(pa, pb)[nz])).sum())
    return max(0.0, h_a + h_b - 2 * mi)


def probabilistic_rand_index(seg, truths) -> float:
    """Rand index of ``seg`` against each human segmentation, averaged (1 is perfect)."""
    s, gts = _check(seg, truths)
    return float(np.mean([_rand(contingency(s, g)) for g in gts]))


def variation_of_information(seg, truths) -> float:
    """Variation of information in bits (the BSDS500 code's unit) against each human segmentation, averaged (0 is perfect)."""
    s, gts = _check(seg, truths)
    return float(np.mean([_vi(contingency(s, g)) for g in gts]))


def region_scores(seg, truths) -> dict[str, float]:
    """Covering, PRI and VI at once, and covering's counts for dataset totals."""
    s, gts = _check(seg, truths)
    cnt, tot = covering_counts(s, gts)
    ns = [contingency(s, g) for g in gts]
    return {
        "covering": cnt / tot,
        "pri": float(np.mean([_rand(n) for n in ns])),
        "vi": float(np.mean([_vi(n) for n in ns])),
        "cov_cnt": cnt,
        "cov_sum": tot,
        "regions": float(len(np.unique(s))),
    }


# --- boundaries -------------------------------------------------------------------------------


def label_boundaries(labels: np.ndarray) -> np.ndarray:
    """One-pixel boundaries of a label map: where the right or lower neighbour has another label."""
    lab = np.asarray(labels)
    b = np.zeros(lab.shape, bool)
    b[:, :-1] |= lab[:, :-1] != lab[:, 1:]
    b[:-1, :] |= lab[:-1, :] != lab[1:, :]
    return b


#: Side of the tiles matched exactly first (see :func:`match_boundaries`).
MATCH_TILE = 32


def match_boundaries(pred: np.ndarray, truth: np.ndarray, max_dist: float) -> tuple[np.ndarray, np.ndarray]:
    """One-to-one matching of two binary boundary maps within ``max_dist`` pixels.

    Returns ``(matched_pred, matched_truth)`` boolean maps (BSDS's ``match1 > 0`` and ``match2 > 0``).

    Examples
    --------
    >>> a = np.zeros((5, 5), bool); a[2, :] = True
    >>> b = np.zeros((5, 5), bool); b[3, :3] = True
    >>> [int(m.sum()) for m in match_boundaries(a, b, 1.5)]
    [3, 3]
    """
    import scipy.sparse as sp
    from scipy.sparse.csgraph import maximum_bipartite_matching
    from scipy.spatial import cKDTree

    pred, truth = np.asarray(pred, bool), np.asarray(truth, bool)
    mp, mt = np.zeros(pred.shape, bool), np.zeros(truth.shape, bool)
    pp, tp = np.argwhere(pred), np.argwhere(truth)
    if len(pp) == 0 or len(tp) == 0:
        return mp, mt
    d = cKDTree(pp).sparse_distance_matrix(cKDTree(tp), max_dist, output_type="coo_matrix")
    if d.nnz == 0:
        return mp, mt
    graph = sp.coo_matrix((np.ones(d.nnz, np.int8), (d.row, d.col)), shape=d.shape).tocsr()
    r, c_, dist = d.row, d.col, d.data
    # scipy's Hopcroft-Karp can stall for minutes on these graphs (long parallel contours), even on
    # pieces of a few thousand pixels; it is used only inside small tiles, where it cannot. Tiles'
    # exact matchings, then nearest free pairs across tiles, then augmenting paths (Hopcroft-Karp
    # phases in :func:`_augment`) give a maximum matching of the whole graph.
    tile_p = (pp[r, 0] // MATCH_TILE) * 10**6 + pp[r, 1] // MATCH_TILE
    tile_t = (tp[c_, 0] // MATCH_TILE) * 10**6 + tp[c_, 1] // MATCH_TILE
    match_p = np.full(len(pp), -1, np.int64)
    match_t = np.full(len(tp), -1, np.int64)
    inside = tile_p == tile_t
    ri, ci, ti = r[inside], c_[inside], tile_p[inside]
    order = np.argsort(ti, kind="stable")
    ri, ci, ti = ri[order], ci[order], ti[order]
    starts = np.flatnonzero(np.r_[True, ti[1:] != ti[:-1]]) if len(ti) else np.zeros(0, int)
    for s0, s1 in zip(starts, np.r_[starts[1:], len(ti)]):
        ur, rr = np.unique(ri[s0:s1], return_inverse=True)
        uc, cc = np.unique(ci[s0:s1], return_inverse=True)
        sub = sp.csr_matrix((np.ones(s1 - s0, np.int8), (rr, cc)), shape=(len(ur), len(uc)))
        if len(ur) <= len(uc):
            m = maximum_bipartite_matching(sub, perm_type="column")
            a_, b_ = ur[m >= 0], uc[m[m >= 0]]
        else:
            m = maximum_bipartite_matching(sub.T.tocsr(), perm_type="column")
            a_, b_ = ur[m[m >= 0]], uc[m >= 0]
        match_p[a_], match_t[b_] = b_, a_
    free = (match_p[r] < 0) & (match_t[c_] < 0)
    order = np.lexsort((c_[free], r[free], dist[free]))
    for i, j in zip(r[free][order].tolist(), c_[free][order].tolist()):
        if match_p[i] < 0 and match_t[j] < 0:
            match_p[i], match_t[j] = j, i
    # only pieces with a free pixel on both sides can still grow: the augmenting search stays there
    from scipy.sparse.csgraph import connected_components

    n_p = len(pp)
    _, comp = connected_components(sp.bmat([[None, graph], [graph.T, None]]).tocsr(), directed=False)
    has_edge_p = np.zeros(n_p, bool)
    has_edge_p[r] = True
    has_edge_t = np.zeros(len(tp), bool)
    has_edge_t[c_] = True
    open_p = np.zeros(comp.max() + 1, bool)
    open_t = np.zeros(comp.max() + 1, bool)
    open_p[comp[:n_p][has_edge_p & (match_p < 0)]] = True
    open_t[comp[n_p:][has_edge_t & (match_t < 0)]] = True
    live = open_p & open_t
    rows = np.flatnonzero(has_edge_p & live[comp[:n_p]])
    if len(rows):
        _augment(graph, rows, match_p, match_t)
    mp[tuple(pp[match_p >= 0].T)] = True
    mt[tuple(tp[match_t >= 0].T)] = True
    return mp, mt


def _augment(g, rows, match_p, match_t) -> None:
    """Hopcroft-Karp phases from a given matching (``match_p``/``match_t``, -1 free), in place."""
    ind, ptr = g.indices, g.indptr
    rows = rows.tolist()
    adj = {i: ind[ptr[i] : ptr[i + 1]].tolist() for i in rows}  # every row an augmenting path can visit
    inf = 1 << 30
    while True:
        dist = {}
        queue = [i for i in rows if match_p[i] < 0]
        for i in queue:
            dist[i] = 0
        found = False
        head = 0
        while head < len(queue):
            i = queue[head]
            head += 1
            for j in adj[i]:
                k = int(match_t[j])
                if k < 0:
                    found = True
                elif k not in dist:
                    dist[k] = dist[i] + 1
                    queue.append(k)
        if not found:
            return

        def dfs(i: int) -> bool:
            stack = [(i, iter(adj[i]))]
            path = []
            while stack:
                u, it = stack[-1]
                advanced = False
                for j in it:
                    k = int(match_t[j])
                    if k < 0:
                        path.append((u, j))
                        for a, b in path:
                            match_p[a], match_t[b] = b, a
                        return True
                    if dist.get(k, inf) == dist[u] + 1:
                        path.append((u, j))
                        stack.append((k, iter(adj[k])))
                        advanced = True
                        break
                if not advanced:
                    dist[u] = inf  # dead end: not tried again this phase
                    stack.pop()
                    if path:
                        path.pop()
            return False

        progress = False
        for i in rows:
            if match_p[i] < 0 and dfs(i):
                progress = True
        if not progress:
            return


def boundary_counts(pred: np.ndarray, truths: Sequence[np.ndarray], *, thin: bool = True) -> np.ndarray:
    """BSDS's ``[cntR, sumR, cntP, sumP]`` for one binary machine boundary against human boundaries."""
    from skimage.morphology import thin as _thin

    b = np.asarray(pred, bool)
    if thin and b.any():
        b = _thin(b)
    tol = MAX_DIST * math.hypot(*b.shape)
    acc = np.zeros(b.shape, bool)
    cnt_r = sum_r = 0
    for g in truths:
        g = np.asarray(g, bool)
        mp, mt = match_boundaries(b, g, tol)
        acc |= mp
        cnt_r += int(mt.sum())
        sum_r += int(g.sum())
    return np.array([cnt_r, sum_r, int(acc.sum()), int(b.sum())], np.float64)


def boundary_pr(pred: np.ndarray, truths: Sequence[np.ndarray], *, thin: bool = True) -> dict[str, float]:
    """Precision, recall and F of a binary boundary map against human boundary maps.

    Examples
    --------
    >>> g = np.zeros((20, 20), bool); g[10, 2:18] = True
    >>> boundary_pr(g, [g])["f"]
    1.0
    """
    return prf(boundary_counts(pred, truths, thin=thin))


def prf(c: np.ndarray) -> dict[str, float]:
    """Precision, recall and F from ``[cntR, sumR, cntP, sumP]`` counts."""
    r = c[0] / c[1] if c[1] else 0.0
    p = c[2] / c[3] if c[3] else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": float(p), "recall": float(r), "f": float(f)}


def soft_boundary_counts(prob: np.ndarray, truths: Sequence[np.ndarray], thresholds: Sequence[float]) -> np.ndarray:
    """Counts (len(thresholds), 4) of a soft boundary map thresholded at each level (``prob >= t``)."""
    p = np.asarray(prob, np.float32)
    gts = [np.asarray(g, bool) for g in truths]
    return np.stack([boundary_counts(p >= t, gts) for t in thresholds])


# --- datasets ---------------------------------------------------------------------------------


def dataset_boundary_scores(counts: Sequence[np.ndarray]) -> dict[str, float]:
    """ODS and OIS boundary F from per-image counts, each (levels, 4), levels shared by all images."""
    c = np.stack([np.asarray(x, np.float64) for x in counts])  # (images, levels, 4)
    tot = c.sum(0)
    per_level = [prf(t)["f"] for t in tot]
    best = int(np.argmax(per_level))
    per_image = np.stack([img[int(np.argmax([prf(t)["f"] for t in img]))] for img in c]).sum(0)
    ods = prf(tot[best])
    return {
        "ods_f": ods["f"],
        "ods_precision": ods["precision"],
        "ods_recall": ods["recall"],
        "ods_level": best,
        "ois_f": prf(per_image)["f"],
    }


def dataset_region_scores(scores: Sequence[Sequence[dict[str, float]]]) -> dict[str, float]:
    """ODS and OIS covering, PRI and VI from per-image lists of :func:`region_scores`, one per level.

    Covering at ODS is the summed counts' ratio at the best level; PRI and VI are image means.
    """
    n_levels = len(scores[0])
    cnt = np.array([[s["cov_cnt"] for s in img] for img in scores])
    tot = np.array([[s["cov_sum"] for s in img] for img in scores])
    pri = np.array([[s["pri"] for s in img] for img in scores])
    vi = np.array([[s["vi"] for s in img] for img in scores])
    if any(len(img) != n_levels for img in scores):
        raise ParameterError("every image needs the same levels")
    cov_level = cnt.sum(0) / tot.sum(0)
    rows = np.arange(len(scores))
    best_cov = np.argmax(cnt / tot, axis=1)
    return {
        "covering_ods": float(cov_level.max()),
        "covering_ois": float(cnt[rows, best_cov].sum() / tot[rows, best_cov].sum()),
        "pri_ods": float(pri.mean(0).max()),
        "pri_ois": float(pri.max(1).mean()),
        "vi_ods": float(vi.mean(0).min()),
        "vi_ois": float(vi.min(1).mean()),
        "covering_level": int(np.argmax(cov_level)),
        "pri_level": int(np.argmax(pri.mean(0))),
        "vi_level": int(np.argmin(vi.mean(0))),
    }
