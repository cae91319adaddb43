#!/usr/bin/env python
"""The wizard must do no harm: on clean BSDS500 test images, PSNR(output, input) >= 38 dB.

Usage (from the repository root)::

    nice -n 10 .venv/bin/python benchmarks/checks/wizard_no_harm.py [--data ../shared/data/bsds500/images/test] [--limit N]
"""

from __future__ import annotations

import argparse
import collections
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "bsds500" / "images" / "test")
    ap.add_argument("--limit", type=int, default=None)
    args = ap.parse_args(argv)
    if not args.data.is_dir():
        print(f"skip: {args.data} not found (the BSDS500 test images)")
        return 0
    import imagewizard as iw
    from imagewizard.run.wizard import auto

    from imagewizard.io import list_images

    files = list_images(args.data)[: args.limit]
    psnrs, plans = [], collections.Counter()
    t0 = time.perf_counter()
    for f in files:
        img, _ = iw.read(f)
        out, decided, _ = auto(img)
        plans[" + ".join(s.method for s in decided.pipeline.steps) if decided.pipeline else "(nothing)"] += 1
        psnrs.append(iw.metrics.psnr(img, out))
    p = np.array(psnrs)
    finite = p[np.isfinite(p)]
    print(f"{len(files)} clean images from {args.data}; {time.perf_counter() - t0:.0f} s")
    print("plans: " + ", ".join(f"{k}: {v}" for k, v in plans.most_common()))
    print(
        f"PSNR(output, input): min {p.min():.2f} dB, median {np.median(p):.2f} dB; "
        f"{len(p) - len(finite)} images unchanged; mean over changed {finite.mean() if len(finite) else float('nan'):.2f} dB"
    )
    ok = bool(p.min() >= 38.0)
    print("bar (every image >= 38 dB):", "PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
