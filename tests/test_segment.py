"""Segmentation: BSDS500 measures on known cases and against scikit-image / scikit-learn, the methods,
label-map files, the ``segment`` command and the benchmark on a tiny set made here."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import imagewizard as iw
from imagewizard.analysis import segmentation as S
from imagewizard.cli.commands import main
from imagewizard.core import registry
from imagewizard.core.errors import ParameterError


def cli(capsys, *args) -> tuple[int, str]:
    """The command line as a user runs it (the input guard included): exit code, stdout + stderr."""
    code = main([str(a) for a in args])
    out = capsys.readouterr()
    return code, out.out + out.err


RNG = np.random.default_rng(0)


def _blocks(h=24, w=36):
    """Four flat rectangles, and that image's own label map."""
    lab = np.ones((h, w), np.int32)
    lab[:, w // 2 :] = 2
    lab[h // 2 :, : w // 2] = 3
    lab[h // 2 :, w // 2 :] = 4
    colours = np.array([[0, 0, 0], [0.9, 0.2, 0.1], [0.1, 0.3, 0.9], [0.95, 0.95, 0.2], [0.2, 0.8, 0.3]], np.float32)
    return colours[lab], lab


# --- metrics ----------------------------------------------------------------------------------


def test_region_measures_known_cases():
    a = RNG.integers(1, 5, (20, 30))
    s = S.region_scores(a, [a])
    assert (
        s["covering"] == pytest.approx(1.0)
        and s["pri"] == pytest.approx(1.0)
        and s["vi"] == pytest.approx(0.0, abs=1e-12)
    )
    one = np.ones_like(a)
    # one region against a two-region truth of equal halves: covering = mean best overlap 0.5 each
    half = np.ones((10, 10), int)
    half[:, 5:] = 2
    assert S.segmentation_covering(np.ones((10, 10), int), [half]) == pytest.approx(0.5)
    assert S.variation_of_information(np.ones((10, 10), int), [half]) == pytest.approx(1.0)  # one bit
    # several annotators: the mean over them
    assert S.probabilistic_rand_index(one, [one, a]) == pytest.approx((1 + S.probabilistic_rand_index(one, [a])) / 2)


def test_rand_index_and_vi_match_sklearn_and_skimage():
    from sklearn.metrics import rand_score
    from skimage.metrics import adapted_rand_error, variation_of_information

    for seed in range(3):
        r = np.random.default_rng(seed)
        a, b = r.integers(1, 4, (15, 25)), r.integers(1, 6, (15, 25))
        assert S.probabilistic_rand_index(a, [b]) == pytest.approx(rand_score(b.ravel(), a.ravel()), abs=1e-12)
        # skimage's VI is two conditional entropies in bits; ours their sum, in bits as the BSDS code has it
        assert S.variation_of_information(a, [b]) == pytest.approx(sum(variation_of_information(b, a)))
        # the same contingency table drives skimage's adapted Rand error: equal segmentations give 0
        assert adapted_rand_error(a, a)[0] == pytest.approx(0.0) and S.region_scores(a, [a])["pri"] == 1.0


def test_boundary_matching_is_one_to_one_within_tolerance():
    g = np.zeros((50, 50), bool)
    g[25, 5:45] = True
    near = np.roll(g, 2, axis=0)  # 2 px away: tolerance 0.0075 * diag = 0.53 px would miss it
    assert S.boundary_pr(g, [g])["f"] == 1.0
    assert S.boundary_pr(near, [g])["f"] == 0.0
    mp, mt = S.match_boundaries(near, g, 2.5)
    assert mp.sum() == mt.sum() == 40
    # two parallel machine lines for one human line: each human pixel matches once, so precision is 1/2
    both = near | np.roll(g, -2, axis=0)
    mp, mt = S.match_boundaries(both, g, 2.5)
    assert mt.sum() == 40 and mp.sum() == 40 and both.sum() == 80


def test_boundary_matching_agrees_with_a_plain_maximum_matching():
    """Per-component matching (oriented for speed) gives the whole graph's maximum matching."""
    import scipy.sparse as sp
    from scipy.sparse.csgraph import maximum_bipartite_matching
    from scipy.spatial import cKDTree

    r = np.random.default_rng(5)
    a, b = r.random((40, 40)) < 0.15, r.random((40, 40)) < 0.05
    mp, mt = S.match_boundaries(a, b, 2.0)
    pa, pb = np.argwhere(a), np.argwhere(b)
    d = cKDTree(pb).sparse_distance_matrix(cKDTree(pa), 2.0, output_type="coo_matrix")
    g = sp.csr_matrix((np.ones(d.nnz), (d.row, d.col)), shape=d.shape)
    best = int((maximum_bipartite_matching(g, perm_type="column") >= 0).sum())
    assert mp.sum() == mt.sum() == best
    # the path for very large pieces (tiles, nearest pairs, augmenting paths) reaches the same size
    old = S.MATCH_TILE
    try:
        S.MATCH_TILE = 7  # small tiles: most pairs cross them and need the augmenting paths
        mp2, mt2 = S.match_boundaries(a, b, 2.0)
    finally:
        S.MATCH_TILE = old
    assert mp2.sum() == mt2.sum() == best


def test_ods_and_ois():
    # two images, two levels: image 1 is best at level 0, image 2 at level 1
    c1 = np.array([[9, 10, 9, 10], [5, 10, 5, 10]], float)
    c2 = np.array([[2, 10, 2, 10], [8, 10, 8, 10]], float)
    s = S.dataset_boundary_scores([c1, c2])
    assert s["ods_level"] == 1 and s["ods_f"] == pytest.approx(0.65) and s["ois_f"] == pytest.approx(0.85)


# --- methods ----------------------------------------------------------------------------------


def test_every_method_returns_a_label_map_that_finds_the_blocks():
    img, truth = _blocks()
    for m in registry.methods("segment"):
        if not m.available() or m.needs:
            continue
        lab = iw.segment(img, method=m.name)
        assert lab.dtype == np.int32 and lab.shape == truth.shape, m.name
        assert lab.min() == 1 and len(np.unique(lab)) == lab.max(), m.name
        if "threshold" in m.tags or m.name in ("chan-vese", "morph-acwe"):
            continue  # two classes by design
        # region methods follow the flat blocks: no region straddles two of them by much (purity), and
        # oversegmenting methods (superpixels) still cover each block with its own regions
        n = S.contingency(lab, truth)
        assert n.max(1).sum() / n.sum() > 0.95, m.name


def test_interactive_methods_follow_the_seeds(tmp_path):
    img = np.full((40, 60, 3), 0.2, np.float32)
    img[10:30, 20:45] = (0.9, 0.7, 0.2)  # an object on a plain background
    img += np.random.default_rng(3).normal(0, 0.03, img.shape).astype(np.float32)
    img = np.clip(img, 0, 1)
    truth = np.ones((40, 60), np.int32)
    truth[10:30, 20:45] = 2
    box = iw.segment(img, method="grabcut", seeds="box:12,5,55,36")
    assert S.segmentation_covering(box, [truth]) > 0.95
    scribbles = np.zeros((40, 60), np.int32)
    scribbles[2, :] = 1
    scribbles[20, 25:40] = 2
    from imagewizard.io.labels import write_labels

    p = write_labels(tmp_path / "seeds.png", scribbles)
    for m in ("random-walker", "grabcut"):
        lab = iw.segment(img, method=m, seeds=p)
        assert S.segmentation_covering(lab, [truth]) > 0.95, m
    with pytest.raises(ParameterError, match="needs a seeds"):
        iw.segment(img, method="grabcut")
    for bad, words in (
        ("box:1,2", "x0,y0,x1,y1"),
        ("box:0,0,60,40", "smaller"),
        (np.ones((40, 60), int), "background"),
    ):
        with pytest.raises(ParameterError, match=words):
            iw.segment(img, method="random-walker", seeds=bad)


def test_felzenszwalb_scale_is_the_papers_k():
    """Larger k, fewer regions; k is on the paper's 0..255 scale for our [0, 1] pixels."""
    img = np.clip(_blocks(48, 64)[0] + np.random.default_rng(1).normal(0, 0.05, (48, 64, 3)), 0, 1).astype(np.float32)
    counts = [int(iw.segment(img, method="felzenszwalb", scale=k).max()) for k in (20, 300, 5000)]
    assert counts[0] > counts[1] >= counts[2] >= 1


def test_big_images_are_segmented_at_a_bounded_working_size(monkeypatch):
    from imagewizard.tasks.segment import render

    monkeypatch.setattr(render, "WORK_PIXELS", 400)
    img, truth = _blocks(40, 60)
    lab = iw.segment(img, method="slic", segments=4)
    assert lab.shape == truth.shape and S.segmentation_covering(lab, [truth]) > 0.8


def test_learned_method_and_its_hierarchy():
    from imagewizard.tasks.segment.learned import boundary_probability, hierarchy

    m = registry.get("segment", "learned")
    if not m.available():
        pytest.skip("torch or the shipped weights missing")
    img, truth = _blocks(48, 64)
    p = boundary_probability(img)
    assert p.shape == truth.shape and 0 <= p.min() and p.max() <= 1
    h = hierarchy(p)
    n = [int(h.cut(lv).max()) for lv in (0.0, 0.3, 0.9, 1.01)]
    assert n == sorted(n, reverse=True) and n[-1] == 1  # coarser with the level, one region above every merge


def test_learned_boundary_map_is_the_mean_of_its_scales():
    import imagewizard.tasks.segment.learned as L

    if not registry.get("segment", "learned").available():
        pytest.skip("torch or the shipped weights missing")
    img, _ = _blocks(40, 56)
    one, half = (L._boundary_probability(img, None, scales=(s,)) for s in (1.0, 0.5))
    assert not np.allclose(one, half, atol=1e-3)  # the scales do see different things
    np.testing.assert_allclose(L._boundary_probability(img, None, scales=(0.5, 1.0)), (one + half) / 2, atol=1e-6)
    tiny = img[:12, :12]  # half of it is too small for the network: only the scales that fit run
    np.testing.assert_allclose(
        L._boundary_probability(tiny, None, scales=(0.5, 1.0)), L._boundary_probability(tiny, None, scales=(1.0,))
    )


# --- files and the command --------------------------------------------------------------------


def test_label_maps_round_trip(tmp_path):
    from imagewizard.io.labels import read_labels, write_labels

    small = RNG.integers(1, 200, (9, 11)).astype(np.int32)
    big = RNG.integers(1, 40000, (9, 11)).astype(np.int32)
    for lab, name in ((small, "a.png"), (big, "b.png"), (big * 3, "c.npy")):
        p = write_labels(tmp_path / name, lab)
        assert np.array_equal(read_labels(p), lab)
    from PIL import Image

    assert Image.open(tmp_path / "a.png").mode == "L" and Image.open(tmp_path / "b.png").mode.startswith("I")
    with pytest.raises(ParameterError, match="16-bit"):
        write_labels(tmp_path / "d.png", big * 3)
    # a colour label map: each colour one region
    rgb = np.zeros((4, 4, 3), np.uint8)
    rgb[:, 2:] = (255, 0, 0)
    Image.fromarray(rgb).save(tmp_path / "rgb.png")
    assert len(np.unique(read_labels(tmp_path / "rgb.png"))) == 2


def test_segment_command_end_to_end(tmp_path, capsys):
    from imagewizard.io import write
    from imagewizard.io.labels import read_labels, write_labels

    img, truth = _blocks()
    src = write(tmp_path / "in.png", img)
    write_labels(tmp_path / "truth.png", truth)
    code, out = cli(
        capsys,
        "segment",
        src,
        "-o",
        tmp_path / "l.png",
        "-m",
        "kmeans",
        "clusters=4",
        "--overlay",
        tmp_path / "o.png",
        "--summary",
        tmp_path / "s.json",
        "--truth",
        tmp_path / "truth.png",
        "--json",
    )
    assert code == 0, out
    rec = json.loads(out)
    assert rec["regions"] == 4 and rec["scores"]["covering"] == pytest.approx(1.0) and rec["scores"]["boundary_f"] > 0.9
    assert read_labels(tmp_path / "l.png").max() == 4 and (tmp_path / "o.png").is_file()
    summ = json.loads((tmp_path / "s.json").read_text())
    assert summ["regions"] == 4 and sum(r["pixels"] for r in summ["largest_regions"]) == truth.size


def test_segment_command_refuses_bad_requests(tmp_path, capsys):
    from imagewizard.io import write

    src = write(tmp_path / "in.png", _blocks()[0])
    before = src.read_bytes()
    for args, words in (
        (["-o", str(src)], "input"),  # never over the input
        (["-o", str(tmp_path / "l.jpg")], ".png or .npy"),
        (["-o", str(tmp_path / "l.png"), "--boundaries", str(tmp_path / "b.png")], "learned"),
        (["-o", str(tmp_path / "l.png"), "-m", "nope"], "nope"),
        (["-o", str(tmp_path / "l.png"), "--truth", str(tmp_path / "missing.mat")], "missing.mat"),
    ):
        code, out = cli(capsys, "segment", src, *args)
        assert code != 0 and words in out and "Traceback" not in out and len(out.strip().splitlines()) == 1, (args, out)
    assert src.read_bytes() == before


def test_bsds_truth_reader(tmp_path):
    from scipy.io import savemat

    from imagewizard.tasks.segment.truth import read_bsds_truth

    seg = np.ones((6, 8), np.uint16)
    seg[:, 4:] = 2
    bnd = np.zeros((6, 8), np.uint8)
    bnd[:, 4] = 1
    cell = np.empty((1, 2), object)
    for i in range(2):
        cell[0, i] = {"Segmentation": seg, "Boundaries": bnd}
    savemat(tmp_path / "x.mat", {"groundTruth": cell})
    segs, bnds = read_bsds_truth(tmp_path / "x.mat")
    assert len(segs) == 2 and np.array_equal(segs[0], seg) and bnds[1][:, 4].all()
    (tmp_path / "bad.mat").write_bytes(b"not a mat file")
    with pytest.raises(Exception, match="bad.mat"):
        read_bsds_truth(tmp_path / "bad.mat")


def test_boundary_training_learns_writes_a_card_and_resumes_in_place(tmp_path):
    from PIL import Image
    from scipy.io import savemat

    pytest.importorskip("torch")
    from imagewizard.io.files import guard
    from imagewizard.models.train_edges import EdgeConfig, train_edges

    for split in ("train", "val"):
        (tmp_path / "bsds" / "images" / split).mkdir(parents=True)
        (tmp_path / "bsds" / "groundTruth" / split).mkdir(parents=True)
        for i in range(2):
            img, truth = _blocks(40, 48)
            Image.fromarray((img * 255).round().astype(np.uint8)).save(
                tmp_path / "bsds" / "images" / split / f"{i}.jpg"
            )
            bnd = np.zeros(truth.shape, np.uint8)
            bnd[:, 1:][truth[:, 1:] != truth[:, :-1]] = 1
            bnd[1:][truth[1:] != truth[:-1]] = 1
            cell = np.empty((1, 1), object)
            cell[0, 0] = {"Segmentation": truth.astype(np.uint16), "Boundaries": bnd}
            savemat(tmp_path / "bsds" / "groundTruth" / split / f"{i}.mat", {"groundTruth": cell})
    cfg = EdgeConfig(
        data=str(tmp_path / "bsds"),
        out=str(tmp_path / "run"),
        steps=4,
        batch=2,
        crop=32,
        held_out=1,
        val_every=2,
        checkpoint_every=2,
        widths=(4, 8, 8, 8),
        convs=(1, 1, 1, 1),
    )
    logs: list[str] = []
    weights = train_edges(cfg, log=logs.append)
    card = json.loads(weights.with_suffix(".json").read_text())
    assert card["task"] == "segment" and card["data"]["held_out"] == ["1"]
    cfg.steps = 6
    with guard():  # as the CLI runs it: resuming writes over the checkpoint it read
        train_edges(cfg, resume=str(tmp_path / "run" / "checkpoint.pt"), log=logs.append)
    assert any("resumed at step 4" in m for m in logs)
    history = json.loads((tmp_path / "run" / "history.json").read_text())
    assert [h["step"] for h in history][-1] == 6


def test_segment_benchmark_on_a_tiny_set(tmp_path, capsys):
    from imagewizard.io import write
    from imagewizard.io.labels import write_labels

    for i in range(2):
        img, truth = _blocks(24 + 8 * i, 36)
        write(tmp_path / "set" / "images" / f"im{i}.png", img)
        write_labels(tmp_path / "set" / "labels" / f"im{i}.png", truth)
    out = tmp_path / "out"
    args = [
        "bench",
        "--task",
        "segment",
        "--data",
        str(tmp_path / "set"),
        "--methods",
        "felzenszwalb,kmeans",
        "--out",
        str(out),
        "--crops",
        "1",
    ]
    code, text = cli(capsys, *args)
    assert code == 0, text
    summ = json.loads((out / "summary.json").read_text())
    rows = {s["method"]: s for s in summ["methods"]}
    assert summ["images"] == 2 and rows["kmeans"]["covering_ods"] > 0.95 and rows["kmeans"]["boundary_ods_f"] > 0.9
    assert "Felzenszwalb-Huttenlocher (published)" in (out / "summary.md").read_text()
    assert "<img" in (out / "overlays.html").read_text()
    # resumes: a second run reuses every record
    n = len((out / "results.jsonl").read_text().splitlines())
    assert cli(capsys, *args)[0] == 0 and len((out / "results.jsonl").read_text().splitlines()) == n


BSDS = Path(__file__).resolve().parents[2] / "shared" / "data" / "bsds500"


@pytest.mark.skipif(not (BSDS / "groundTruth" / "test" / "100007.mat").is_file(), reason="BSDS500 not here")
def test_a_real_bsds_image_scores_like_a_person_would_expect():
    from imagewizard.io import read
    from imagewizard.tasks.segment.truth import read_bsds_truth

    segs, bnds = read_bsds_truth(BSDS / "groundTruth" / "test" / "100007.mat")
    # a human against the other humans: the BSDS "human" row is 0.72 covering, 0.80 boundary F
    others = segs[1:]
    assert S.region_scores(segs[0], others)["covering"] > 0.5
    assert S.boundary_pr(bnds[0], bnds[1:], thin=False)["f"] > 0.6
    img, _ = read(BSDS / "images" / "test" / "100007.jpg")
    assert S.region_scores(iw.segment(img, method="felzenszwalb", scale=1000), segs)["covering"] > 0.4


def test_pipelines_and_batch_end_with_a_segment_step(tmp_path, capsys):
    from imagewizard.io import write
    from imagewizard.io.labels import read_labels
    from imagewizard.run.pipeline import Pipeline

    img, truth = _blocks()
    for name in ("a.jpg", "b.png"):
        write(tmp_path / "in" / name, img)
    spec = {
        "steps": [
            {"task": "denoise", "method": "median"},
            {"task": "segment", "method": "kmeans", "params": {"clusters": 4}},
        ]
    }
    p = Pipeline.from_dict(spec)
    assert p.gives_labels
    with pytest.raises(ParameterError, match="last step"):
        Pipeline.from_dict({"steps": spec["steps"][::-1]})
    (tmp_path / "p.yaml").write_text(json.dumps(spec))
    assert cli(capsys, "run", tmp_path / "p.yaml", tmp_path / "in" / "b.png", "-o", tmp_path / "l.png")[0] == 0
    assert S.segmentation_covering(read_labels(tmp_path / "l.png"), [truth]) > 0.95
    code, out = cli(capsys, "run", tmp_path / "p.yaml", tmp_path / "in" / "b.png", "-o", tmp_path / "l.jpg")
    assert code != 0 and ".png or .npy" in out
    code, out = cli(capsys, "batch", tmp_path / "in", tmp_path / "out", "--pipeline", tmp_path / "p.yaml")
    assert code == 0, out
    assert sorted(q.name for q in (tmp_path / "out").glob("*.png")) == ["a.png", "b.png"]  # label maps are .png
    code, out = cli(capsys, "batch", tmp_path / "in", tmp_path / "out", "--pipeline", tmp_path / "p.yaml")
    assert code == 0 and "2 skipped" in out


def test_region_limits_a_change_to_chosen_labels(tmp_path, capsys):
    from imagewizard.io import read, write
    from imagewizard.io.labels import write_labels

    img = np.random.default_rng(2).random((30, 40, 3)).astype(np.float32)
    lab = np.ones((30, 40), np.int32)
    lab[:, 20:] = 2
    src = write(tmp_path / "in.png", img)
    write_labels(tmp_path / "l.png", lab)
    code, out = cli(
        capsys, "denoise", src, "-o", tmp_path / "d.png", "-m", "gaussian", "--region", f"{tmp_path / 'l.png'}:2"
    )
    assert code == 0, out
    d, _ = read(tmp_path / "d.png")
    src_px, _ = read(src)
    assert np.abs(d[:, :15] - src_px[:, :15]).max() < 1e-6  # region 1, away from the feathered edge: untouched
    assert np.abs(d[:, 25:] - src_px[:, 25:]).mean() > 0.05  # region 2: smoothed
    for spec, words in (
        (f"{tmp_path / 'l.png'}:7", "no pixel has label 7"),
        (str(tmp_path / "l.png"), "LABELS.png:ID"),
    ):
        code, out = cli(capsys, "denoise", src, "-o", tmp_path / "e.png", "-m", "gaussian", "--region", spec)
        assert code != 0 and words in out


def test_segment_boundaries_reuse_the_labels_network_pass(tmp_path, capsys, monkeypatch):
    from imagewizard.io import read, write
    from imagewizard.tasks.segment import learned as L

    pytest.importorskip("torch")
    if L.zoo.find(L.WEIGHTS) is None:
        pytest.skip("no edgenet weights")
    calls = []
    real = L._boundary_probability
    monkeypatch.setattr(L, "_boundary_probability", lambda img, model: calls.append(img.shape) or real(img, model))
    L._LAST.clear()
    src = write(tmp_path / "in.png", _blocks(40, 56)[0])
    code, out = cli(
        capsys, "segment", src, "-o", tmp_path / "l.png", "-m", "learned", "--boundaries", tmp_path / "b.png"
    )
    assert code == 0, out
    assert calls == [(40, 56, 3)]  # once for the labels; the boundary map is the same pass
    b = read(tmp_path / "b.png")[0]
    assert b.shape[:2] == (40, 56) and b.max() > b.min()
