"""Accuracy of the blind noise-level estimate on BSDS500 train images.

Adds white Gaussian noise of known sigma (0..255 scale) to clean BSDS500
train images and compares ``imagewizard.analysis.estimate.noise_sigma`` with
scikit-image's wavelet MAD estimator (``skimage.restoration.estimate_sigma``).
Prints Markdown tables of the mean error (bias) and mean absolute error per
sigma, for gray and colour images.

Protocols:

``float`` (default; the published denoising protocol)
    clean 8-bit image / 255 + N(0, sigma/255), float32, not clipped.
``clip8`` (``--clip8``)
    the same, then clipped to [0, 1] and rounded to 8 bits (a noisy PNG).

Gray images are the BT.601 luma of the colour ones, rounded to 8 bits (as
the gray BSD68 set is made). Noise seeds are fixed: ``seed + 1000*i + sigma``
for the i-th image.

With ``--extras`` it also prints the measurements behind the blur and
blockiness thresholds of ``imagewizard.analysis.estimate`` (detail ratio of sharp vs
Gaussian-blurred images; blockiness after JPEG re-encoding). With
``--types`` it instead tallies ``noise_type`` on synthetic noise of each kind.

Usage::

    nice -n 10 .venv/bin/python benchmarks/checks/eval_noise_estimate.py --n 40
    nice -n 10 .venv/bin/python benchmarks/checks/eval_noise_estimate.py --n 40 --clip8
    nice -n 10 .venv/bin/python benchmarks/checks/eval_noise_estimate.py --n 20 --types
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

DEFAULT_DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "bsds500" / "images" / "train"
SIGMAS = (0, 5, 15, 25, 50, 75)


def load_images(folder: Path, n: int) -> list[tuple[str, np.ndarray]]:
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".jpg", ".png"))
    if not files:
        sys.exit(f"no images in {folder}")
    step = max(1, len(files) // n)
    return [(p.name, np.asarray(Image.open(p).convert("RGB"))) for p in files[::step][:n]]


def gray8(rgb: np.ndarray) -> np.ndarray:
    return np.round(rgb.astype(np.float64) @ np.array([0.299, 0.587, 0.114])).astype(np.uint8)


def degrade(clean8: np.ndarray, sigma: float, seed: int, clip8: bool) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = clean8.astype(np.float32) / 255.0
    x = x + rng.normal(0.0, sigma / 255.0, x.shape).astype(np.float32)
    if clip8:
        x = np.round(np.clip(x, 0, 1) * 255) / 255.0
    return x.astype(np.float32)


def evaluate(images, clip8: bool, seed: int) -> dict:
    from skimage.restoration import estimate_sigma

    from imagewizard.analysis.estimate import noise_sigma

    estimators = {
        "imagewizard": noise_sigma,
        "skimage": lambda x: (
            255.0 * float(estimate_sigma(x, channel_axis=-1 if x.ndim == 3 else None, average_sigmas=True))
        ),
    }
    out: dict = {}
    for mode in ("gray", "color"):
        errors = {name: {s: [] for s in SIGMAS} for name in estimators}
        seconds = {name: 0.0 for name in estimators}
        for i, (_name, rgb) in enumerate(images):
            clean = gray8(rgb) if mode == "gray" else rgb
            for s in SIGMAS:
                x = degrade(clean, s, seed + 1000 * i + s, clip8)
                for name, fn in estimators.items():
                    t0 = time.perf_counter()
                    value = fn(x)
                    seconds[name] += time.perf_counter() - t0
                    errors[name][s].append(value - s)
        calls = len(images) * len(SIGMAS)
        out[mode] = {
            name: {
                "bias": {s: float(np.mean(e[s])) for s in SIGMAS},
                "mae": {s: float(np.mean(np.abs(e[s]))) for s in SIGMAS},
                "max_abs": {s: float(np.max(np.abs(e[s]))) for s in SIGMAS},
                "ms_per_image": 1000 * seconds[name] / calls,
            }
            for name, e in errors.items()
        }
    return out


def table(results: dict) -> str:
    lines = []
    for mode, per in results.items():
        lines.append(f"\n{mode} (mean error / mean absolute error, 0..255 scale)\n")
        lines.append("| estimator | " + " | ".join(f"sigma {s}" for s in SIGMAS) + " | ms/image |")
        lines.append("|---" * (len(SIGMAS) + 2) + "|")
        for name, r in per.items():
            cells = [f"{r['bias'][s]:+.2f} / {r['mae'][s]:.2f}" for s in SIGMAS]
            lines.append(f"| {name} | " + " | ".join(cells) + f" | {r['ms_per_image']:.0f} |")
    return "\n".join(lines)


def extras(images) -> str:
    import cv2

    from imagewizard.analysis.estimate import BLOCKY_THRESHOLD, BLUR_THRESHOLD, blockiness, detail_ratio

    rng = np.random.default_rng(0)
    rows: dict[str, list[float]] = {}
    for rgb in (im for _n, im in images):
        x = rgb.astype(np.float32) / 255.0
        for blur in (0, 1, 2):
            b = cv2.GaussianBlur(x, (0, 0), blur) if blur else x
            rows.setdefault(f"detail_ratio blur {blur}", []).append(detail_ratio(b))
            noisy = b + rng.normal(0, 15 / 255, b.shape).astype(np.float32)
            rows.setdefault(f"detail_ratio blur {blur} + noise 15", []).append(detail_ratio(noisy))
        for q in (None, 95, 75, 30, 10):
            if q is None:
                j = rgb
            else:
                buf = io.BytesIO()
                Image.fromarray(rgb).save(buf, "JPEG", quality=q)
                j = np.asarray(Image.open(buf).convert("RGB"))
            rows.setdefault(f"blockiness {'as is' if q is None else f'JPEG q={q}'}", []).append(blockiness(j))
    lines = [
        f"\nthresholds: BLUR_THRESHOLD={BLUR_THRESHOLD} (blurred below), "
        f"BLOCKY_THRESHOLD={BLOCKY_THRESHOLD} (blocky above)\n",
        "| measure | min | 5% | median | 95% | max | flagged |",
        "|---|---|---|---|---|---|---|",
    ]
    for k, v in rows.items():
        v = np.array(v)
        flagged = np.mean(v < BLUR_THRESHOLD) if k.startswith("detail") else np.mean(v > BLOCKY_THRESHOLD)
        q = np.percentile(v, [0, 5, 50, 95, 100])
        lines.append(f"| {k} | " + " | ".join(f"{a:.3f}" for a in q) + f" | {flagged:.0%} |")
    return "\n".join(lines)


def noise_types(images, seed: int) -> str:
    """Confusion of noise_type on synthetic noise of each kind (made here with NumPy)."""
    from imagewizard.analysis.estimate import noise_type

    makers = {
        "none": lambda c, r: c,
        "gaussian (sigma 15)": lambda c, r: c + r.normal(0, 15 / 255, c.shape),
        "gaussian (sigma 5)": lambda c, r: c + r.normal(0, 5 / 255, c.shape),
        "poisson (peak 255)": lambda c, r: r.poisson(c * 255) / 255,
        "poisson (peak 1000)": lambda c, r: r.poisson(c * 1000) / 1000,
        "speckle (std 0.1 x)": lambda c, r: c + c * r.normal(0, 0.1, c.shape),
        "speckle (std 0.04 x)": lambda c, r: c + c * r.normal(0, 0.04, c.shape),
        "salt-pepper (5%)": lambda c, r: np.where(r.random(c.shape) < 0.05, r.integers(0, 2, c.shape).astype(float), c),
        "gaussian 50, clipped": lambda c, r: np.clip(c + r.normal(0, 50 / 255, c.shape), 0, 1),
    }
    kinds = ("none", "gaussian", "poisson", "speckle", "salt-pepper", "unknown")
    lines = ["\n| synthetic noise | " + " | ".join(kinds) + " |", "|---" * (len(kinds) + 1) + "|"]
    for label, make in makers.items():
        counts = dict.fromkeys(kinds, 0)
        for i, (_n, rgb) in enumerate(images):
            rng = np.random.default_rng(seed + i)
            counts[noise_type(make(rgb / 255.0, rng))[0]] += 1
        lines.append(f"| {label} | " + " | ".join(str(counts[k]) for k in kinds) + " |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder of clean images (BSDS500 train)")
    ap.add_argument("--n", type=int, default=40, help="number of images (evenly spaced in sorted order)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--clip8", action="store_true", help="clip to [0, 1] and round to 8 bits after adding noise")
    ap.add_argument("--extras", action="store_true", help="also report the blur and blockiness calibration")
    ap.add_argument("--types", action="store_true", help="only tally noise_type on synthetic noise of each kind")
    ap.add_argument("--json", type=Path, help="write the numbers here")
    args = ap.parse_args()

    if not args.data.is_dir():
        sys.exit(f"data folder not found: {args.data}")
    images = load_images(args.data, args.n)
    if args.types:
        print(f"noise_type on {len(images)} images from {args.data}, seed {args.seed}")
        print(noise_types(images, args.seed))
        return
    print(f"{len(images)} images from {args.data}, protocol {'clip8' if args.clip8 else 'float'}, seed {args.seed}")
    results = evaluate(images, args.clip8, args.seed)
    print(table(results))
    if args.extras:
        print(extras(images))
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "images": [n for n, _ in images],
                    "protocol": "clip8" if args.clip8 else "float",
                    "seed": args.seed,
                    "results": results,
                },
                indent=1,
            )
        )


if __name__ == "__main__":
    main()
