#!/usr/bin/env python
"""The noise-level estimate on the noise of real files: camera-model noise and JPEG-compressed noise.

For every case the clean 8-bit image is degraded with ``imagewizard.physics.degrade.degrade``
(uint8 protocol, seed = image index) and the truth is the RMS of what was added, ``noisy - clean``,
over all pixels and channels, on the 0..255 scale (for JPEG-compressed noise this includes what
JPEG changed: the whole error a denoiser should remove). The estimates: the wizard's
(``analysis.estimate.noise_sigma``, what ``sigma='auto'`` uses) and scikit-image's wavelet MAD
(``skimage.restoration.estimate_sigma``, averaged over channels) for reference, and, where the
real-photo denoiser is installed, ``analysis.estimate.residual.noise_rms`` (the RMS of what it
removes, on four 256-pixel crops). Prints the Markdown
table of docs/noise-estimation.md: mean truth, mean estimate, mean signed and absolute relative
error, and the share of images within 20 % of the truth.

Usage (from the repository root)::

    .venv/bin/python benchmarks/checks/eval_noise_real.py [--n 20] [--folder ../shared/data/bsds500/images/train]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
DEFAULT = ROOT.parent / "shared" / "data" / "bsds500" / "images" / "train"
CASES = {
    "camera ISO 400": {"noise": "camera:400"},
    "camera ISO 1600": {"noise": "camera:1600"},
    "camera ISO 6400": {"noise": "camera:6400"},
    "camera ISO 1600 + JPEG 85": {"noise": "camera:1600", "jpeg": 85},
    "camera ISO 6400 + JPEG 75": {"noise": "camera:6400", "jpeg": 75},
    "Gaussian 10 + JPEG 85": {"noise": "gaussian:10", "jpeg": 85},
    "Gaussian 25 + JPEG 75": {"noise": "gaussian:25", "jpeg": 75},
    "Poisson 60 + JPEG 85": {"noise": "poisson:60", "jpeg": 85},
}


def estimators() -> dict:
    from skimage.restoration import estimate_sigma

    from imagewizard.analysis.estimate import noise_sigma
    from imagewizard.analysis.estimate.residual import available, noise_rms

    out = {
        "noise_sigma": noise_sigma,
        "skimage MAD": lambda x: 255.0 * float(np.mean(estimate_sigma(x, channel_axis=-1 if x.ndim == 3 else None))),
    }
    if available():
        out["noise_rms (real residual)"] = noise_rms
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--folder", type=Path, default=DEFAULT)
    ap.add_argument("--n", type=int, default=20)
    args = ap.parse_args(argv)
    sys.path.insert(0, str(ROOT / "src"))
    from imagewizard.physics.degrade import degrade

    if not args.folder.is_dir():
        print(f"skip: {args.folder} not found")
        return 0
    files = sorted(p for p in args.folder.iterdir() if p.suffix.lower() in (".jpg", ".png"))
    files = files[:: max(1, len(files) // args.n)][: args.n]
    clean = [np.asarray(Image.open(p).convert("RGB"), np.float32) / 255.0 for p in files]
    est = estimators()
    t0 = time.time()
    print(f"{len(clean)} images of {args.folder}; truth = RMS of noisy - clean")
    print()
    print("| noise | truth | " + " | ".join(f"{k}: mean / bias / abs err / within 20 %" for k in est) + " |")
    print("|---|---:|" + "---:|" * len(est))
    for name, kw in CASES.items():
        truth, got = [], {k: [] for k in est}
        for i, c in enumerate(clean):
            noisy = degrade(c, **kw, seed=i, protocol="uint8").image
            truth.append(255.0 * float(np.sqrt(np.mean((noisy.astype(np.float64) - c) ** 2))))
            for k, f in est.items():
                got[k].append(float(f(noisy)))
        t = np.array(truth)
        cells = []
        for k in est:
            g = np.array(got[k])
            rel = (g - t) / t
            cells.append(
                f"{g.mean():.2f} / {100 * rel.mean():+.0f} % / {100 * np.abs(rel).mean():.0f} % / "
                f"{100 * np.mean(np.abs(rel) <= 0.2):.0f} %"
            )
        print(f"| {name} | {t.mean():.2f} | " + " | ".join(cells) + " |", flush=True)
    print(f"\n{time.time() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
