"""Where the wizard's real-noise floor (``wizard.REAL_NOISE_MIN_RMS``) should sit.

Every 5th BSDS500 training photo plus the held-out package photos (never a test set), each clean
and under camera-model noise at ISO 100-800 (drawn from a seed): the noise the wizard measures
(``residual.noise_rms``), the real-photo denoiser at the wizard's calibrated strength, and for
each candidate floor how many clean photos would be touched (and how much they change) and what
the noisy ones gain on average (nothing is done below the floor).

    .venv/bin/python -m imagewizard.models.photos export /tmp/val --split val
    .venv/bin/python benchmarks/checks/real_noise_floor.py --photos /tmp/val [--workers 2]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
FLOORS = (3.0, 3.5, 4.0, 4.5, 5.0, 5.5)


def _one(job: tuple) -> list[dict]:
    path, k = job
    import torch

    torch.set_num_threads(1)
    import imagewizard as iw
    from imagewizard.analysis.estimate import residual
    from imagewizard.analysis.metrics import psnr
    from imagewizard.physics.degrade import degrade

    clean = iw.read(path)[0]
    if clean.ndim == 2:
        return []
    iso = float(np.exp(np.random.default_rng([21, k]).uniform(np.log(100), np.log(800))))
    rows = []
    for kind, x in (
        ("clean", clean),
        ("noisy", degrade(clean, noise=f"camera:{iso:.0f}", seed=k, protocol="uint8").image),
    ):
        rms, level = residual.noise_rms(x), residual.map_rms(x)
        s = residual.calibrated_strength(rms, level)
        y = np.clip(iw.denoise(x, method="real", strength=s, threads=1), 0, 1)
        rows.append(
            {"image": Path(path).name, "kind": kind, "iso": iso, "rms": rms, "map": level, "strength": s,
             "before": float(psnr(clean, x)), "after": float(psnr(clean, y))}
        )  # fmt: skip
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bsds", type=Path, default=ROOT.parent / "shared" / "data" / "bsds500" / "images" / "train")
    ap.add_argument("--photos", type=Path, help="the held-out package photos (models.photos export --split val)")
    ap.add_argument("--every", type=int, default=5)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", type=Path, help="write every row as JSON here")
    args = ap.parse_args(argv)
    if not args.bsds.is_dir():
        print(f"skip: {args.bsds} not found (the BSDS500 training photos)")
        return 0
    files = sorted(args.bsds.glob("*.jpg"))[:: args.every]
    if args.photos:
        files += sorted(args.photos.glob("*.png"))
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    with ProcessPoolExecutor(args.workers) as ex:
        rows = [r for rs in ex.map(_one, [(str(f), k) for k, f in enumerate(files)]) for r in rs]
    if args.out:
        args.out.write_text(json.dumps(rows) + "\n")
    clean = [r for r in rows if r["kind"] == "clean"]
    noisy = [r for r in rows if r["kind"] == "noisy"]
    print(
        f"{len(clean)} photos; clean photos' measured noise {min(r['rms'] for r in clean):.2f}-{max(r['rms'] for r in clean):.2f}"
    )
    print(
        "| floor | clean photos touched | least PSNR of a touched one | noisy photos denoised | mean gain on the noisy |"
    )
    print("|---|---|---|---|---|")
    for f in FLOORS:
        touched = [r["after"] for r in clean if r["rms"] >= f]
        gain = np.mean([r["after"] - r["before"] if r["rms"] >= f else 0.0 for r in noisy])
        least = f"{min(touched):.2f}" if touched else "-"
        done = sum(r["rms"] >= f for r in noisy)
        print(f"| {f:g} | {len(touched)} / {len(clean)} | {least} | {done} / {len(noisy)} | {gain:+.2f} dB |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
