"""How the generative restorers' sampling settings trade PSNR/SSIM for sharpness and time.

Diffusion: one-shot estimate (steps=1) against DDIM with more reverse steps,
deterministic (eta=0) and ancestral (eta=1); VAE: latent mean against the
mean of N posterior samples and against a single sample. The flagship unet
runs beside them as the reference. Protocol: the first ``--limit`` images
of ``--set`` (sorted by name; BSD68 by default: the shipped models are gray,
and gray costs a third of colour), Gaussian noise of sigma 25 added in float without
clipping, from ``np.random.default_rng([seed, index])``; the true sigma is
given; outputs clipped to [0, 1]; PSNR/SSIM on [0, 1]. Besides PSNR/SSIM it
reports the mean gradient magnitude of the output relative to the clean
image's (1.0 = as much fine detail as the original; below 1 = smoothed).

Usage (from the repository root)::

    .venv/bin/python benchmarks/figures/generative_sampling.py --set BSD68 --limit 12 --out benchmarks/results/generative-sampling
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "src"))

CONFIGS = [
    ("unet", "unet", {}),
    ("diffusion steps=1", "diffusion", {"steps": 1}),
    ("diffusion steps=3", "diffusion", {"steps": 3}),
    ("diffusion steps=10", "diffusion", {"steps": 10}),
    ("diffusion steps=10 eta=1", "diffusion", {"steps": 10, "eta": 1.0}),
    ("vae (latent mean)", "vae", {}),
    ("vae samples=1", "vae", {"samples": 1}),
    ("vae samples=8", "vae", {"samples": 8}),
    ("gan", "gan", {}),
]


def _gradient_energy(img: np.ndarray) -> float:
    gy, gx = np.gradient(img.astype(np.float64), axis=(0, 1))
    return float(np.mean(np.hypot(gx, gy)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=os.environ.get("IMAGEWIZARD_DATA", str(ROOT.parent / "shared" / "data")))
    ap.add_argument("--set", default="BSD68", help="test set folder under testsets/ (BSD68, CBSD68, Set12)")
    ap.add_argument("--limit", type=int, default=12)
    ap.add_argument("--sigma", type=float, default=25.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "generative-sampling"))
    args = ap.parse_args()

    import imagewizard as iw
    from imagewizard.bench.machine import machine_info

    folder = Path(args.data) / "testsets" / args.set
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".png", ".jpg", ".tif", ".bmp"))[: args.limit]
    if not files:
        sys.exit(f"no images in {folder}")
    rows = {label: {"psnr": [], "ssim": [], "seconds": [], "detail": []} for label, _, _ in CONFIGS}
    megapixels = []
    for i, f in enumerate(files):
        clean, _info = iw.read(f)
        rng = np.random.default_rng([args.seed, i])
        noisy = (clean + rng.standard_normal(clean.shape, dtype=np.float32) * np.float32(args.sigma / 255)).astype(
            np.float32
        )
        base = _gradient_energy(clean)
        for label, method, params in CONFIGS:
            t0 = time.perf_counter()
            out = np.clip(iw.denoise(noisy, method=method, sigma=args.sigma, threads=args.threads, **params), 0, 1)
            rows[label]["seconds"].append(time.perf_counter() - t0)
            rows[label]["psnr"].append(iw.metrics.psnr(clean, out))
            rows[label]["ssim"].append(iw.metrics.ssim(clean, out))
            rows[label]["detail"].append(_gradient_energy(out) / base)
        print(f"{i + 1}/{len(files)} {f.name}", flush=True)
        megapixels.append(clean.shape[0] * clean.shape[1] / 1e6)
    mp = float(np.mean(megapixels))
    summary = {label: {k: round(float(np.mean(v)), 4) for k, v in r.items()} for label, r in rows.items()}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    record = {
        "command": "python benchmarks/figures/generative_sampling.py " + " ".join(sys.argv[1:]),
        "set": args.set,
        "images": [f.name for f in files],
        "sigma": args.sigma,
        "mean_megapixels": round(mp, 4),
        "machine": machine_info(),
        "summary": summary,
    }
    (out / "results.json").write_text(json.dumps(record, indent=2) + "\n")
    print("\n| setting | PSNR (dB) | SSIM | detail | s / image |\n|---|---|---|---|---|")
    for label, s in summary.items():
        print(f"| {label} | {s['psnr']:.2f} | {s['ssim']:.4f} | {s['detail']:.2f} | {s['seconds']:.2f} |")


if __name__ == "__main__":
    main()
