#!/usr/bin/env python
"""Issue 18's bars: the noise of real photos, and dark photos, on CBSD68 (or BSD68), blind.

``--suite noise``: every image gets, per case, noise drawn from a seed (camera-model noise at
several ISO bands, camera noise under JPEG, Gaussian and Poisson noise under JPEG; the uint8
protocol, as a file holds it). Methods, each scored by PSNR/SSIM against the clean image:

- ``real``: the blind real-photo denoiser (nothing told);
- ``unet@best``: the Gaussian flagship told the best *single* sigma for the case (the sigma of a
  grid with the highest mean PSNR over the images: an oracle no user has);
- ``bm3d@best``: the same for BM3D on a coarser grid, on a subset (``--bm3d-limit``; it is slow);
- ``wizard``: ``imagewizard enhance`` without a method (analysis, plan, run).

``--suite dark``: clean images darkened by 3-4 stops in linear light (drawn per image), camera
noise at ISO 1600-6400 added at that exposure; methods ``stretch``, ``clahe``, ``gamma`` alone,
each followed by ``real`` and by ``unet@best``, ``exposure`` then ``real``, and the wizard.

Usage (from the repository root; 2 worker processes, one torch thread each)::

    .venv/bin/python benchmarks/suites/real_photos.py --suite noise [--data cbsd68] [--limit 24] [--workers 2]
    .venv/bin/python benchmarks/suites/real_photos.py --suite dark --limit 24

Writes ``benchmarks/results/issue18-<suite>-<data>/results.json`` and prints the Markdown table of
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
os.environ.setdefault("IMAGEWIZARD_DATA", str(ROOT.parent / "shared" / "data"))
UNET_GRID = (5, 8, 12, 16, 20, 25, 30, 40)
BM3D_GRID = (8, 12, 16, 25)


def noise_case(case: str, rng: np.random.Generator) -> dict:
    """The degrade() keywords of ``case`` for one image, drawn from ``rng``."""
    iso = lambda lo, hi: f"camera:{float(np.exp(rng.uniform(np.log(lo), np.log(hi)))):.0f}"  # noqa: E731
    if case == "camera ISO 200-800":
        return {"noise": iso(200, 800)}
    if case == "camera ISO 800-3200":
        return {"noise": iso(800, 3200)}
    if case == "camera ISO 3200-12800":
        return {"noise": iso(3200, 12800)}
    if case == "camera ISO 800-6400 + JPEG 70-90":
        return {"noise": iso(800, 6400), "jpeg": int(rng.integers(70, 91))}
    if case == "Gaussian 10-30 + JPEG 70-90":
        return {"noise": f"gaussian:{rng.uniform(10, 30):.1f}", "jpeg": int(rng.integers(70, 91))}
    if case == "Poisson peak 30-300 + JPEG 80-95":
        peak = float(np.exp(rng.uniform(np.log(30), np.log(300))))
        return {"noise": f"poisson:{peak:.0f}", "jpeg": int(rng.integers(80, 96))}
    raise ValueError(case)


NOISE_CASES = (
    "camera ISO 200-800",
    "camera ISO 800-3200",
    "camera ISO 3200-12800",
    "camera ISO 800-6400 + JPEG 70-90",
    "Gaussian 10-30 + JPEG 70-90",
    "Poisson peak 30-300 + JPEG 80-95",
)


def _scores(clean, out) -> tuple[float, float]:
    from imagewizard.analysis.metrics import psnr, ssim

    out = np.clip(out, 0, 1)
    return float(psnr(clean, out)), float(ssim(clean, out))


def _wizard(img):
    from imagewizard.run.wizard import auto

    out, decided, _ = auto(img)
    return out, [s.method for s in decided.pipeline.steps] if decided.pipeline else []


def work_noise(job: tuple) -> dict:
    path, i, ci, case, bm3d_grid = job
    import torch

    torch.set_num_threads(1)
    import imagewizard as iw
    from imagewizard.physics.degrade import degrade

    clean = iw.read(path)[0]
    kw = noise_case(case, np.random.default_rng([18, ci, i]))
    noisy = degrade(clean, **kw, seed=1000 * ci + i, protocol="uint8").image
    rec: dict = {"image": Path(path).name, "case": case, "spec": kw, "noisy": _scores(clean, noisy)}
    t0 = time.perf_counter()
    rec["real"] = _scores(clean, iw.denoise(noisy, method="real", threads=1))
    rec["real_seconds"] = time.perf_counter() - t0
    rec["unet"] = {s: _scores(clean, iw.denoise(noisy, method="unet", sigma=s, threads=1)) for s in UNET_GRID}
    if bm3d_grid:
        rec["bm3d"] = {s: _scores(clean, iw.denoise(noisy, method="bm3d", sigma=s)) for s in bm3d_grid}
    out, plan = _wizard(noisy)
    rec["wizard"], rec["wizard_plan"] = _scores(clean, out), plan
    return rec


def work_wizard(job: tuple) -> tuple:
    """The wizard alone on one (image, case) of the noise suite, the same noise (for --wizard-only)."""
    path, i, ci, case = job
    import torch

    torch.set_num_threads(1)
    import imagewizard as iw
    from imagewizard.physics.degrade import degrade

    clean = iw.read(path)[0]
    kw = noise_case(case, np.random.default_rng([18, ci, i]))
    noisy = degrade(clean, **kw, seed=1000 * ci + i, protocol="uint8").image
    out, plan = _wizard(noisy)
    return _scores(clean, out), plan


def darken(clean: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, dict]:
    from imagewizard.physics.degrade import degrade
    from imagewizard.tasks.enhance.exposure import linear_to_srgb, srgb_to_linear

    stops = float(rng.uniform(3, 4))
    iso = float(np.exp(rng.uniform(np.log(1600), np.log(6400))))
    dark = linear_to_srgb(srgb_to_linear(clean) / 2**stops).astype(np.float32)
    noisy = degrade(dark, noise=f"camera:{iso:.0f}", seed=int(rng.integers(2**31)), protocol="uint8").image
    return noisy, {"stops": round(stops, 3), "iso": round(iso)}


def work_dark(job: tuple) -> dict:
    path, i = job
    import torch

    torch.set_num_threads(1)
    import imagewizard as iw

    clean = iw.read(path)[0]
    noisy, spec = darken(clean, np.random.default_rng([18, 99, i]))
    rec: dict = {"image": Path(path).name, "spec": spec, "noisy": _scores(clean, noisy)}
    for tone in ("stretch", "clahe", "gamma"):
        lifted = iw.enhance(noisy, method=tone)
        rec[tone] = _scores(clean, lifted)
        rec[f"{tone}+real"] = _scores(clean, iw.denoise(lifted, method="real", threads=1))
        rec[f"{tone}+unet"] = {
            s: _scores(clean, iw.denoise(lifted, method="unet", sigma=s, threads=1)) for s in UNET_GRID
        }
    rec["real+exposure"] = _scores(clean, iw.enhance(iw.denoise(noisy, method="real", threads=1), method="exposure"))
    out, plan = _wizard(noisy)
    rec["wizard"], rec["wizard_plan"] = _scores(clean, out), plan
    return rec


def best_single(recs: list[dict], key: str) -> tuple[float, float, float]:
    """(sigma, mean PSNR, mean SSIM) of the grid sigma with the best mean PSNR over ``recs``."""
    grid = recs[0][key].keys()
    means = {s: (np.mean([r[key][s][0] for r in recs]), np.mean([r[key][s][1] for r in recs])) for s in grid}
    s = max(means, key=lambda k: means[k][0])
    return float(s), float(means[s][0]), float(means[s][1])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--suite", choices=("noise", "dark"), default="noise")
    ap.add_argument("--data", default="cbsd68")
    ap.add_argument("--limit", type=int, default=12, help="images, evenly spaced over the set (0: all)")
    ap.add_argument("--bm3d-limit", type=int, default=4, help="images of those that bm3d runs on (0: none)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument(
        "--wizard-only", action="store_true", help="noise suite: rerun only the wizard, into the saved results"
    )
    args = ap.parse_args(argv)
    sys.path.insert(0, str(ROOT / "src"))
    from imagewizard.bench.datasets import find_named_set
    from imagewizard.bench.machine import machine_info, machine_line

    folder = find_named_set(args.data)
    if folder is None:
        print(f"skip: test set {args.data} not found ($IMAGEWIZARD_DATA/testsets)")
        return 0
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".png", ".jpg", ".tif", ".bmp"))
    if args.limit:
        files = [files[int(k)] for k in np.linspace(0, len(files) - 1, min(args.limit, len(files)))]
    out_dir = args.out or ROOT / "benchmarks" / "results" / f"issue18-{args.suite}-{args.data}"
    out_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    if args.suite == "noise" and args.wizard_only:
        saved = json.loads((out_dir / "results.json").read_text())
        recs = saved["records"]
        index = {Path(p).name: (str(p), i) for i, p in enumerate(files)}
        jobs = [(*index[r["image"]], NOISE_CASES.index(r["case"]), r["case"]) for r in recs]
        with ProcessPoolExecutor(args.workers) as ex:
            for r, (score, plan) in zip(recs, ex.map(work_wizard, jobs)):
                r["wizard"], r["wizard_plan"] = score, plan
        saved["wizard_rerun"] = {"command": " ".join(sys.argv), "seconds": time.time() - t0}
    elif args.suite == "noise":
        bm3d_grid = BM3D_GRID  # coarser than unet's: BM3D is slow; its best lies near unet's
        bm3d_every = max(1, len(files) // args.bm3d_limit) if args.bm3d_limit else 0
        jobs = [
            (str(p), i, ci, case, bm3d_grid if bm3d_every and i % bm3d_every == 0 else ())
            for ci, case in enumerate(NOISE_CASES)
            for i, p in enumerate(files)
        ]
        fn = work_noise
    else:
        jobs = [(str(p), i) for i, p in enumerate(files)]
        fn = work_dark
    if not (args.suite == "noise" and args.wizard_only):
        with ProcessPoolExecutor(args.workers) as ex:
            recs = list(ex.map(fn, jobs))
        saved = {"command": " ".join(sys.argv), "machine": machine_info(), "seconds": time.time() - t0}
    seconds = time.time() - t0
    saved["records"] = recs
    (out_dir / "results.json").write_text(json.dumps(saved) + "\n")
    print(f"{len(files)} images of {args.data}; {seconds / 60:.1f} min; {machine_line(machine_info())}\n")
    mean = lambda rs, k: (np.mean([r[k][0] for r in rs]), np.mean([r[k][1] for r in rs]))  # noqa: E731
    if args.suite == "noise":
        print(
            "| noise (drawn per image) | noisy | real (blind) | unet @ best single sigma | bm3d @ best single sigma | wizard | wizard's plans |"
        )
        print("|---|---:|---:|---:|---:|---:|---|")
        allrows = []
        for case in NOISE_CASES:
            rs = [r for r in recs if r["case"] == case]
            n, real, wiz = mean(rs, "noisy"), mean(rs, "real"), mean(rs, "wizard")
            us, up, uss = best_single(rs, "unet")
            b = [r for r in rs if "bm3d" in r]
            bcell = "-"
            if b:
                bs, bp, bss = best_single(b, "bm3d")
                # real on the same subset, for a fair comparison
                rp = np.mean([r["real"][0] for r in b])
                bcell = f"{bp:.2f} (sigma {bs:g}; real {rp:.2f} on these {len(b)})"
            plans = {}
            for r in rs:
                plans["+".join(r["wizard_plan"]) or "nothing"] = (
                    plans.get("+".join(r["wizard_plan"]) or "nothing", 0) + 1
                )
            plan_txt = ", ".join(f"{k} x{v}" for k, v in sorted(plans.items(), key=lambda kv: -kv[1]))
            print(
                f"| {case} | {n[0]:.2f} | **{real[0]:.2f}** / {real[1]:.4f} | {up:.2f} / {uss:.4f} (sigma {us:g}) | "
                f"{bcell} | {wiz[0]:.2f} / {wiz[1]:.4f} | {plan_txt} |"
            )
            allrows.append((real[0], up, wiz[0]))
        a = np.array(allrows)
        print(f"| **mean** | | **{a[:, 0].mean():.2f}** | {a[:, 1].mean():.2f} | | {a[:, 2].mean():.2f} | |")
    else:
        names = [
            "noisy",
            "stretch",
            "clahe",
            "gamma",
            "stretch+real",
            "clahe+real",
            "gamma+real",
            "real+exposure",
            "wizard",
        ]
        print("| method | PSNR | SSIM |")
        print("|---|---:|---:|")
        for k in names:
            p, s = mean(recs, k)
            print(f"| {k} | {p:.2f} | {s:.4f} |")
        for tone in ("stretch", "clahe", "gamma"):
            s, p, ss = best_single(recs, f"{tone}+unet")
            print(f"| {tone}+unet @ best single sigma ({s:g}) | {p:.2f} | {ss:.4f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
