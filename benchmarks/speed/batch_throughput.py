#!/usr/bin/env python
"""Batch throughput (images per second): 1 and 2 local worker processes, and a local Dask cluster.

Runs ``imagewizard batch`` (through :func:`imagewizard.run.batch.run_batch`) on the same folder of
BSDS500 images with the same method, into fresh output folders, and prints a Markdown table for
docs/benchmarks.md. The cluster row is timed twice: including the start of the cluster (what a
user waits for) and from a cluster already running (what a long batch sees).

Usage (from the repository root)::

    .venv/bin/python benchmarks/speed/batch_throughput.py [--data ../shared/data/bsds500/images/test]
        [--limit 32] [--method nlm]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "bsds500" / "images" / "test")
    ap.add_argument("--limit", type=int, default=32, help="number of images (default: %(default)s)")
    ap.add_argument("--method", default="nlm", help="denoise method run on every image (default: %(default)s)")
    args = ap.parse_args(argv)
    if not args.data.is_dir():
        print(f"skip: {args.data} not found (BSDS500 images)")
        return 0
    import distributed

    from imagewizard.run.batch import run_batch
    from imagewizard.bench.machine import machine_info, machine_line
    from imagewizard.io import list_images
    from imagewizard.run.pipeline import single_step

    tmp = Path(tempfile.mkdtemp(prefix="iw-throughput-"))
    src = tmp / "in"
    src.mkdir()
    files = list_images(args.data)[: args.limit]
    for f in files:
        shutil.copy2(f, src / f.name)
    pipe = single_step(args.method, sigma="auto")
    rows = []

    def timed(label: str, **kw) -> None:
        out = tmp / label.replace(" ", "_").replace(":", "")
        t0 = time.perf_counter()
        s = run_batch(src, out, pipe, **kw)
        wall = time.perf_counter() - t0
        assert s["ok"] == len(files), s
        rows.append((label, len(files), wall, len(files) / wall))
        print(f"{label}: {len(files)} images in {wall:.1f} s = {len(files) / wall:.3f} images/s", flush=True)

    try:
        timed("1 worker process", workers=1)
        timed("2 worker processes", workers=2)
        timed("Dask local:2 (cluster start included)", cluster="local:2")
        with distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
        ) as cluster:
            with distributed.Client(cluster) as client:  # warm the workers (imports) before timing
                client.run(lambda: __import__("imagewizard.tasks.denoise"))
            timed("Dask LocalCluster, 2 workers, already running", cluster=cluster.scheduler_address)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print()
    print(f"Machine: {machine_line(machine_info())}.")
    print()
    print(f"| run ({args.method}, sigma auto) | images | wall s | images/s |")
    print("|---|---|---|---|")
    for label, n, wall, ips in rows:
        print(f"| {label} | {n} | {wall:.1f} | {ips:.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
