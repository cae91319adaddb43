#!/usr/bin/env python
"""Peak memory of `imagewizard batch` on a 50-megapixel photo (tiled processing, issue 7).

Makes a noisy 8660x5773 RGB TIFF (50 MP) from the bundled sample, runs
``imagewizard batch IN OUT --method M --sigma auto`` in a child process for each method, and
prints the wall time and the child's peak resident memory (``ru_maxrss``).

Usage (from the repository root)::

    .venv/bin/python benchmarks/speed/large_image_memory.py [--methods nlm,median] [--megapixels 50]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]


def make_photo(path: Path, megapixels: float) -> tuple[int, int]:
    from imagewizard.io import write
    from imagewizard.samples import sample

    w = int(round((megapixels * 1e6 * 3 / 2) ** 0.5))
    h = int(round(megapixels * 1e6 / w))
    base = sample("astronaut")
    reps = (-(-h // base.shape[0]), -(-w // base.shape[1]), 1)
    img = np.tile(base, reps)[:h, :w]
    rng = np.random.default_rng(0)
    for y in range(0, h, 1024):  # in bands, to keep this script's own memory small
        band = img[y : y + 1024]
        band += rng.normal(0, 15 / 255, band.shape).astype(np.float32)
    np.clip(img, 0, 1, out=img)
    write(path, img)
    return h, w


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--methods", default="nlm,median")
    ap.add_argument("--megapixels", type=float, default=50.0)
    args = ap.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="iw-large-"))
    try:
        src = tmp / "in"
        src.mkdir()
        h, w = make_photo(src / "photo.tif", args.megapixels)
        print("| method | image | wall s | peak RSS MB |")
        print("|---|---|---|---|")
        for method in args.methods.split(","):
            out = tmp / f"out-{method}"
            code = (
                "import resource, sys; from imagewizard.cli.commands import main; rc = main(sys.argv[1:]); "
                "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr); sys.exit(rc)"
            )
            cmd = [sys.executable, "-c", code, "batch", str(src), str(out), "--method", method, "--json"]
            t0 = time.perf_counter()
            res = subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            wall = time.perf_counter() - t0
            peak_kb = int(res.stderr.strip().splitlines()[-1])
            print(f"| {method} | {w}x{h} RGB ({h * w / 1e6:.1f} MP) | {wall:.0f} | {peak_kb / 1024:.0f} |", flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
