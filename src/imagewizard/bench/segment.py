"""The segmentation benchmark: BSDS500's region and boundary measures at ODS and OIS.

Every method runs at a sweep of its scale (the BSDS500 protocol: a method is a family of
segmentations, scored at the dataset-best scale, ODS, and at each image's best, OIS). Per image
and scale the record keeps covering's counts, PRI, VI and the boundary counts ``[cntR, sumR,
cntP, sumP]``, so the summary is exact sums, and an interrupted run resumes from ``results.jsonl``.
The learned method builds its hierarchy once per image and cuts it at every level; its soft
boundary map (thinned) is also scored on its own at fixed thresholds, as HED reports it.

Data: ``bsds500-test`` / ``bsds500-val`` / ``bsds500-train`` (found like the other named sets),
a BSDS500 folder, or any folder with ``images/`` and ``labels/`` (label maps of the same stem:
``.png``, ``.npy`` or ``.mat``).
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from imagewizard.core.errors import ParameterError

#: Scale sweeps per method (parameter, values): coarse enough to cover under- and over-segmentation.
SWEEPS: dict[str, tuple[str, tuple[float, ...]]] = {
    "felzenszwalb": ("scale", (50, 100, 200, 350, 500, 700, 1000, 1500, 2500, 4000)),
    "meanshift": ("color", (4, 6, 8, 11, 15, 20, 26, 34)),
    "slic": ("segments", (8, 16, 32, 64, 128, 256)),
    "kmeans": ("clusters", (2, 3, 4, 6, 8, 12)),
    "watershed": ("markers", (8, 16, 32, 64, 128, 256)),
    "ncut": ("threshold", (0.0005, 0.001, 0.002, 0.005, 0.01)),
    "rag-merge": ("threshold", (6, 9, 12, 16, 22, 30)),
    "learned": ("level", tuple(round(v, 3) for v in np.linspace(0.1, 0.95, 18))),
}
#: Thresholds of the learned soft boundary map (after thinning) for its own boundary ODS/OIS.
EDGE_THRESHOLDS = tuple(round(v, 3) for v in np.linspace(0.05, 0.9, 18))
DEFAULT_METHODS = ("felzenszwalb", "meanshift", "learned")


@dataclass
class Pair:
    name: str
    image: Path
    truth: Path


@dataclass
class SegConfig:
    data: str
    methods: Sequence[str] = DEFAULT_METHODS
    out: Path = Path("bench-segment")
    limit: int | None = None
    workers: int = 1
    boundaries: bool = True
    overlays: int = 6
    fresh: bool = False
    command: str = ""
    notes: list[str] = field(default_factory=list)


def resolve_pairs(data: str, limit: int | None = None) -> tuple[str, list[Pair]]:
    """Images with their human segmentations, sorted by name."""
    from imagewizard.bench.datasets import _candidates

    text = str(data).strip()
    low = text.lower()
    split = "test"
    root: Path | None = None
    if low in ("bsds500", "bsds500-test", "bsds500-val", "bsds500-train"):
        split = low.split("-")[1] if "-" in low else "test"
        root = next((c for c in _candidates("bsds500") if (c / "images" / split).is_dir()), None)
        if root is None:
            looked = ", ".join(str(c) for c in _candidates("bsds500")[:4])
            raise ParameterError(f"--data {text}: BSDS500 not found (looked in {looked}); set IMAGEWIZARD_DATA")
    else:
        p = Path(text).expanduser()
        if not p.is_dir():
            raise ParameterError(f"--data {text}: no such folder, and not a known set (bsds500-test, bsds500-val)")
        root = p
    if (root / "groundTruth" / split).is_dir() and (root / "images" / split).is_dir():
        imgs, truth_dir, name = root / "images" / split, root / "groundTruth" / split, f"bsds500-{split}"
    elif (root / "images").is_dir() and (root / "labels").is_dir():
        imgs, truth_dir, name = root / "images", root / "labels", root.name
    else:
        raise ParameterError(f"--data {text}: needs BSDS500's images/ and groundTruth/ or images/ and labels/ folders")
    from imagewizard.io import list_images

    pairs = []
    for f in list_images(imgs):
        t = next(
            (truth_dir / (f.stem + e) for e in (".mat", ".png", ".npy") if (truth_dir / (f.stem + e)).is_file()), None
        )
        if t is not None:
            pairs.append(Pair(f.stem, f, t))
    if not pairs:
        raise ParameterError(f"--data {text}: no image in {imgs} has a segmentation in {truth_dir}")
    pairs.sort(key=lambda q: q.name)
    return name, pairs[:limit] if limit else pairs


def _truths(path: Path) -> tuple[list[np.ndarray], list[np.ndarray]]:
    from imagewizard.analysis.segmentation import label_boundaries
    from imagewizard.tasks.segment.truth import read_bsds_truth, read_truth

    if path.suffix.lower() == ".mat":
        return read_bsds_truth(path)
    segs = read_truth(path)
    return segs, [label_boundaries(s) for s in segs]


def _score_levels(labels_per_level, segs, bnds, boundaries: bool) -> dict[str, list]:
    from imagewizard.analysis.segmentation import boundary_counts, label_boundaries, region_scores

    rec: dict[str, list] = {"regions": [], "cov_cnt": [], "cov_sum": [], "pri": [], "vi": [], "bcounts": []}
    for lab in labels_per_level:
        s = region_scores(lab, segs)
        for k in ("regions", "cov_cnt", "cov_sum", "pri", "vi"):
            rec[k].append(float(s[k]))
        if boundaries:
            rec["bcounts"].append(boundary_counts(label_boundaries(lab), bnds, thin=False).tolist())
    return rec


def run_one(pair: Pair, method: str, boundaries: bool = True) -> dict[str, Any]:
    """Every level of one method on one image, scored (one ``results.jsonl`` record)."""
    from imagewizard.api import apply
    from imagewizard.io import read

    img, _ = read(pair.image)
    segs, bnds = _truths(pair.truth)
    param, levels = SWEEPS[method]
    t0 = time.perf_counter()
    rec: dict[str, Any] = {"image": pair.name, "method": method, "param": param, "levels": list(levels)}
    if method == "learned":
        from imagewizard.analysis.segmentation import soft_boundary_counts
        from imagewizard.tasks.segment.learned import boundary_probability, hierarchy, thin_boundaries

        prob = boundary_probability(img)
        h = hierarchy(prob)
        labels = [h.cut(lv) for lv in levels]
        rec["seconds"] = time.perf_counter() - t0  # the whole hierarchy: every level at once
        if boundaries:
            rec["edge_thresholds"] = list(EDGE_THRESHOLDS)
            rec["edge_counts"] = soft_boundary_counts(thin_boundaries(prob), bnds, EDGE_THRESHOLDS).tolist()
    else:
        labels = []
        for lv in levels:
            labels.append(apply("segment", img, method, **{param: lv}))
        rec["seconds"] = (time.perf_counter() - t0) / len(levels)  # one segmentation
    rec.update(_score_levels(labels, segs, bnds, boundaries))
    rec["humans"] = len(segs)
    rec["vi_unit"] = "bits"
    return rec


def _work(args) -> dict[str, Any]:
    pair, method, boundaries = args
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    if method == "learned":
        import torch

        torch.set_num_threads(1)  # one job per core
    try:
        return run_one(pair, method, boundaries)
    except Exception as e:  # one bad image is reported, not fatal to a 200-image run
        return {"image": pair.name, "method": method, "error": f"{type(e).__name__}: {e}"}


def summarise(records: list[dict[str, Any]], method: str) -> dict[str, Any] | None:
    """ODS/OIS region and boundary scores of one method over the images it ran on."""
    from imagewizard.analysis.segmentation import dataset_boundary_scores, dataset_region_scores

    recs = [r for r in records if r["method"] == method and "error" not in r]
    if not recs:
        return None
    for r in recs:  # records written before VI was in bits (the BSDS unit) held nats
        if r.get("vi_unit") != "bits":
            r["vi"], r["vi_unit"] = [v / math.log(2) for v in r["vi"]], "bits"
    levels = recs[0]["levels"]
    per_img = [[{k: r[k][i] for k in ("cov_cnt", "cov_sum", "pri", "vi")} for i in range(len(levels))] for r in recs]
    out: dict[str, Any] = {"method": method, "images": len(recs), "param": recs[0]["param"]}
    reg = dataset_region_scores(per_img)
    out.update(reg)
    out["covering_ods_at"] = levels[reg["covering_level"]]
    out["regions_at_ods"] = float(np.mean([r["regions"][reg["covering_level"]] for r in recs]))
    if all(r.get("bcounts") for r in recs):
        b = dataset_boundary_scores([np.asarray(r["bcounts"]) for r in recs])
        out.update(
            {"boundary_ods_f": b["ods_f"], "boundary_ois_f": b["ois_f"], "boundary_ods_at": levels[b["ods_level"]]}
        )
    if all(r.get("edge_counts") for r in recs):
        e = dataset_boundary_scores([np.asarray(r["edge_counts"]) for r in recs])
        out.update(
            {
                "edge_ods_f": e["ods_f"],
                "edge_ois_f": e["ois_f"],
                "edge_ods_at": recs[0]["edge_thresholds"][e["ods_level"]],
            }
        )
    out["seconds_per_image"] = float(np.mean([r["seconds"] for r in recs]))
    return out


def load_published() -> dict[str, Any]:
    from importlib.resources import files

    return json.loads(files("imagewizard.data").joinpath("published_segmentation.json").read_text("utf-8"))


def _pair2(v) -> str:
    return "-" if v is None else f"{v[0]:.2f} / {v[1]:.2f}"


def table_markdown(summaries: list[dict[str, Any]], *, published: bool = True) -> str:
    """Ours beside the published rows: covering, PRI, VI, boundary F at ODS / OIS, time."""
    head = "| method | covering ODS / OIS | PRI ODS / OIS | VI ODS / OIS | boundary F ODS / OIS | s / image | source |"
    lines = [head, "|---|---|---|---|---|---|---|"]
    for s in summaries:
        bf = (s["boundary_ods_f"], s["boundary_ois_f"]) if "boundary_ods_f" in s else None
        lines.append(
            f"| **{s['method']}** (ours; ODS at {s['param']}={s['covering_ods_at']}, {s['regions_at_ods']:.0f} regions) "
            f"| {_pair2((s['covering_ods'], s['covering_ois']))} | {_pair2((s['pri_ods'], s['pri_ois']))} "
            f"| {_pair2((s['vi_ods'], s['vi_ois']))} | {_pair2(bf)} | {s['seconds_per_image']:.2f} | {s['images']} images |"
        )
        if "edge_ods_f" in s:
            lines.append(
                f"| **{s['method']}: boundary map** (ours, thinned, ODS at {s['edge_ods_at']}) | - | - | - "
                f"| {s['edge_ods_f']:.3f} / {s['edge_ois_f']:.3f} | - | {s['images']} images |"
            )
    if published:
        pub = load_published()
        for r in pub["rows"]:
            lines.append(
                f"| {r['method']} (published) | {_pair2(r['covering'])} | {_pair2(r['pri'])} | {_pair2(r['vi'])} "
                f"| {_pair2(r['boundary_f'])} | - | {r['source']} |"
            )
    return "\n".join(lines) + "\n"


def _overlay_page(cfg: SegConfig, pairs: list[Pair], summaries: list[dict[str, Any]], out: Path) -> Path:
    """A page of overlays side by side: the photo, one human segmentation, each method at its ODS scale."""
    import base64
    import html

    import cv2

    from imagewizard.api import apply
    from imagewizard.io import read
    from imagewizard.io.files import atomic_write
    from imagewizard.tasks.segment.render import overlay

    def png(x: np.ndarray) -> str:
        ok, enc = cv2.imencode(
            ".jpg",
            cv2.cvtColor((np.clip(x, 0, 1) * 255 + 0.5).astype(np.uint8), cv2.COLOR_RGB2BGR),
            [cv2.IMWRITE_JPEG_QUALITY, 85],
        )
        return "data:image/jpeg;base64," + base64.b64encode(enc.tobytes()).decode()

    step = max(1, len(pairs) // max(cfg.overlays, 1))
    rows = []
    for pair in pairs[::step][: cfg.overlays]:
        img, _ = read(pair.image)
        segs, _ = _truths(pair.truth)
        cells = [("photo", img), ("human 1", overlay(img, segs[0]))]
        for s in summaries:
            lab = apply("segment", img, s["method"], **{s["param"]: s["covering_ods_at"]})
            cells.append((f"{s['method']} ({int(lab.max())} regions)", overlay(img, lab)))
        rows.append(
            f"<h3>{html.escape(pair.name)}</h3><div class=row>"
            + "".join(
                f"<figure><img src='{png(x)}'><figcaption>{html.escape(c)}</figcaption></figure>" for c, x in cells
            )
            + "</div>"
        )
    page = (
        "<!doctype html><meta charset=utf-8><title>ImageWizard segmentation overlays</title>"
        "<style>body{font-family:sans-serif;margin:1em}.row{display:flex;flex-wrap:wrap;gap:6px}"
        "figure{margin:0}img{width:300px}figcaption{font-size:12px}</style>"
        f"<h1>Segmentation overlays ({html.escape(cfg.data)})</h1><p>Each method at its dataset-best (ODS) "
        f"covering scale. Command: <code>{html.escape(cfg.command)}</code></p>" + "".join(rows)
    )
    return atomic_write(out / "overlays.html", page, what="overlay page")


def run_segment_bench(cfg: SegConfig, *, progress: bool = True) -> dict[str, Any]:
    """Run (or resume) the benchmark; writes results.jsonl, summary.md, summary.json, overlays.html."""
    from imagewizard.core import registry
    from imagewizard.io.files import atomic_write, check_output_folder

    name, pairs = resolve_pairs(cfg.data, cfg.limit)
    methods = list(cfg.methods)
    for m in methods:
        if m not in SWEEPS:
            raise ParameterError(f"no scale sweep for segment method '{m}' (benchmarked: {', '.join(SWEEPS)})")
        registry.get("segment", m).check_available()
    out = check_output_folder(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    results = out / "results.jsonl"
    done: list[dict[str, Any]] = []
    if results.is_file() and not cfg.fresh:
        for line in results.read_text("utf-8").splitlines():
            try:
                r = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line cut by a kill: that job runs again
            if r.get("levels") == list(SWEEPS.get(r.get("method"), ("", ()))[1]) or "error" in r:
                done.append(r)
    elif results.is_file():
        results.unlink()
    have = {(r["image"], r["method"]) for r in done}
    jobs = [(p, m, cfg.boundaries) for m in methods for p in pairs if (p.name, m) not in have]
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    with (
        open(results, "a", encoding="utf-8") as fh,
        Progress(
            TextColumn("segment bench"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total}"),
            TimeRemainingColumn(),
            disable=not progress,
        ) as bar,
    ):
        task = bar.add_task("run", total=len(jobs))
        if cfg.workers > 1 and len(jobs) > 1:
            import multiprocessing as mp

            with mp.get_context("spawn").Pool(cfg.workers) as pool:
                for r in pool.imap_unordered(_work, jobs):
                    fh.write(json.dumps(r) + "\n")
                    fh.flush()
                    done.append(r)
                    bar.advance(task)
        else:
            for j in jobs:
                r = _work(j)
                fh.write(json.dumps(r) + "\n")
                fh.flush()
                done.append(r)
                bar.advance(task)
    done = list({(r["image"], r["method"]): r for r in done}.values())  # one record per image and method
    summaries = [s for m in methods if (s := summarise(done, m)) is not None]
    errors = [r for r in done if "error" in r]
    md = [f"# Segmentation benchmark: {name}, {len(pairs)} images", "", f"Command: `{cfg.command}`", ""]
    md.append(table_markdown(summaries))
    if errors:
        md.append(
            f"{len(errors)} job(s) failed; first: {errors[0]['image']} {errors[0]['method']}: {errors[0]['error']}\n"
        )
    atomic_write(out / "summary.md", "\n".join(md), what="summary")
    atomic_write(
        out / "summary.json",
        json.dumps({"data": name, "images": len(pairs), "methods": summaries}, indent=1),
        what="summary",
    )
    files = {"results": results, "summary": out / "summary.md"}
    if cfg.overlays and summaries:
        files["overlays"] = _overlay_page(cfg, pairs, summaries, out)
    return {"name": name, "pairs": len(pairs), "summaries": summaries, "errors": errors, "files": files}
