#!/usr/bin/env python
"""The wizard against every fixed method on a mixed set of degradations (issue 7's bar).

Runs ``imagewizard bench --task any --blind --protocol uint8`` on Set12 with noise of several
kinds and levels, blur, low contrast and JPEG, every method that needs nothing but the image
(each fixed method with its automatic parameters, blind like the wizard), then averages each
method's PSNR and SSIM over all degradations and prints the Markdown table of
docs/benchmarks.md. The bar: the wizard's mean PSNR is above every fixed method's.

Usage (from the repository root; resumes like any bench run)::

    .venv/bin/python benchmarks/suites/wizard_mixed.py [--workers 2] [--out benchmarks/results/wizard-mixed]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
os.environ.setdefault("IMAGEWIZARD_DATA", str(ROOT.parent / "shared" / "data"))
DEGRADATIONS = [
    "gaussian:15",
    "gaussian:25",
    "gaussian:50",
    "poisson:30",
    "salt-pepper:0.1",
    "blur=gaussian:1.5",
    "contrast=0.5",
    "jpeg=20",
    "contrast=0.6+gaussian:10",
]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default="set12")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "wizard-mixed")
    args = ap.parse_args(argv)
    sys.path.insert(0, str(ROOT / "src"))
    from rich.console import Console

    from imagewizard.bench import BenchConfig, run_bench
    from imagewizard.cli.bench import command_line
    from imagewizard.bench.datasets import find_named_set
    from imagewizard.bench.machine import machine_line

    if args.data != "tiny" and find_named_set(args.data) is None:
        print(f"skip: test set {args.data} not found ($IMAGEWIZARD_DATA/testsets)")
        return 0
    cfg = BenchConfig(
        data=args.data,
        degradations=DEGRADATIONS,
        methods="all",
        task="any",
        protocol="uint8",
        blind=True,
        seed=0,
        out=args.out,
        workers=args.workers,
        limit=args.limit,
    )
    cfg.command = command_line(cfg)
    res = run_bench(cfg, console=Console(highlight=False))

    by = defaultdict(dict)  # method -> degradation -> (psnr, ssim)
    for row in res.rows:
        if row.get("kind") in ("input", "method") and row.get("psnr_mean") is not None:
            by[row["method"]][row["degradation"]] = (row["psnr_mean"], row["ssim_mean"])
    degs = [d for d in dict.fromkeys(r["degradation"] for r in res.rows)]
    complete = {m: v for m, v in by.items() if all(d in v for d in degs)}
    mean = {
        m: (sum(v[d][0] for d in degs) / len(degs), sum(v[d][1] for d in degs) / len(degs)) for m, v in complete.items()
    }
    # a method that runs only on some degradations (deconvolution given the true kernel, which only
    # the blur makes) is listed last, without a mean
    order = sorted(mean, key=lambda m: -mean[m][0]) + sorted(set(by) - set(mean))
    run = json.loads((args.out / "run.json").read_text())
    print()
    print(f"Command: `{cfg.command}` ({len(res.plan.dataset.images)} images; uint8 protocol; every method blind).")
    print()
    print(f"Machine: {machine_line(run['machine'])}.")
    print()
    print("| method | " + " | ".join(degs) + " | **mean PSNR** | mean SSIM |")
    print("|---|" + "---|" * (len(degs) + 2))
    for m in order:
        name = "(degraded input)" if m == "input" else ("**wizard**" if m == "wizard" else m)
        cells = [f"{by[m][d][0]:.2f}" if d in by[m] else "n/a" for d in degs]
        tail = f"**{mean[m][0]:.2f}** | {mean[m][1]:.4f}" if m in mean else "– | –"
        print(f"| {name} | " + " | ".join(cells) + f" | {tail} |")
    fixed = [m for m in mean if m not in ("wizard", "input")]
    if "wizard" in mean and fixed:
        best = max(fixed, key=lambda m: mean[m][0])
        ok = mean["wizard"][0] > mean[best][0]
        print()
        print(
            f"Bar: wizard mean PSNR {mean['wizard'][0]:.2f} dB vs best fixed method {best} "
            f"{mean[best][0]:.2f} dB: {'PASS' if ok else 'FAIL'}"
        )
        return 0 if ok else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
