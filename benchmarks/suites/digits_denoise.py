"""Denoising 28x28 digits: the fully connected `dae` of the course notes in its own domain.

Data: scikit-learn's 1797 8x8 digits, scaled to [0, 1] and upscaled
bilinearly to 28x28 (``imagewizard.models.digits.load_digits32(28)``). The first
1500 are the training set (``--write-train DIR`` writes them as PNG files for
``imagewizard train denoiser --arch dae --data DIR``); the last 297 are the
test set. Protocol: 8-bit rounding of the clean digit, Gaussian noise of
sigma 15/25/50 (0..255 scale) added in float without clipping from
``np.random.default_rng([seed, index, sigma])``, the true sigma given to the
methods that take one, outputs clipped to [0, 1], PSNR/SSIM on [0, 1].

Usage (from the repository root)::

    .venv/bin/python benchmarks/suites/digits_denoise.py --write-train runs/digits28-train   # training images
    .venv/bin/python benchmarks/suites/digits_denoise.py --out benchmarks/results/digits-denoise
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "src"))

TRAIN = 1500
SIGMAS = (15.0, 25.0, 50.0)
METHODS = ("dae", "conv-ae", "unet", "gaussian", "nlm", "bm3d")


def digits28() -> np.ndarray:
    from imagewizard.models.digits import load_digits32

    x = load_digits32(28).numpy()[:, 0]
    return (np.rint(x * 255) / 255).astype(np.float32)  # 8-bit like any image file


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--write-train", type=Path, default=None, help="write the 1500 training digits as PNG and stop")
    ap.add_argument("--methods", default=",".join(METHODS))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "digits-denoise")
    args = ap.parse_args()

    from PIL import Image

    import imagewizard as iw
    from imagewizard.core import registry
    from imagewizard.bench.machine import machine_info

    digits = digits28()
    if args.write_train:
        args.write_train.mkdir(parents=True, exist_ok=True)
        for i, d in enumerate(digits[:TRAIN]):
            Image.fromarray(np.rint(d * 255).astype(np.uint8)).save(args.write_train / f"d{i:04d}.png")
        print(f"wrote {TRAIN} training digits to {args.write_train}")
        return
    test = digits[TRAIN:]
    methods = [m for m in args.methods.split(",") if registry.get("denoise", m).available()]
    rows: dict[str, dict[str, list[float]]] = {}
    for s in SIGMAS:
        for i, clean in enumerate(test):
            rng = np.random.default_rng([args.seed, i, int(s)])
            noisy = (clean + rng.standard_normal(clean.shape, dtype=np.float32) * np.float32(s / 255)).astype(
                np.float32
            )
            for name in ["input", *methods]:
                t0 = time.perf_counter()
                if name == "input":
                    out = np.clip(noisy, 0, 1)
                else:
                    m = registry.get("denoise", name)
                    kw = {} if m.sigma == "none" else {"sigma": s}
                    if any(p.name == "threads" for p in m.params):
                        kw["threads"] = 1
                    out = np.clip(iw.denoise(noisy, method=name, **kw), 0, 1)
                r = rows.setdefault(f"{name}|{s:g}", {"psnr": [], "ssim": [], "seconds": []})
                r["seconds"].append(time.perf_counter() - t0)
                r["psnr"].append(iw.metrics.psnr(clean, out))
                r["ssim"].append(iw.metrics.ssim(clean, out))
    summary = {k: {m: round(float(np.mean(v)), 4) for m, v in r.items()} for k, r in rows.items()}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(
        json.dumps(
            {
                "command": "python benchmarks/suites/digits_denoise.py " + " ".join(sys.argv[1:]),
                "test_images": len(test),
                "machine": machine_info(),
                "summary": summary,
            },
            indent=2,
        )
        + "\n"
    )
    print("| method | " + " | ".join(f"sigma {s:g} PSNR / SSIM" for s in SIGMAS) + " |")
    print("|---|" + "---|" * len(SIGMAS))
    for name in ["input", *methods]:
        cells = [f"{summary[f'{name}|{s:g}']['psnr']:.2f} / {summary[f'{name}|{s:g}']['ssim']:.4f}" for s in SIGMAS]
        print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
