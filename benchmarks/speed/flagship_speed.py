#!/usr/bin/env python
"""Issue 17's speed bar: the flagship `unet` on a 1-megapixel colour photo against OpenCV's NLM.

One process, side by side, rounds interleaved (A B C A B C ...) so that a noisy machine slows every
method alike; the median of the rounds is reported. Methods run through the public API exactly as a
user calls them (`imagewizard.denoise`), each warmed up once first:

* ``unet backend=torch`` (PyTorch eager, the path before ONNX Runtime),
* ``unet backend=onnx`` (ONNX Runtime, the default on the CPU now),
* any extra weights given with ``--weights`` (e.g. a leaner U-Net, on ONNX Runtime),
* ``nlm impl=opencv`` (``cv2.fastNlMeansDenoisingColored``).

Then the fixed cost of a short command: wall time of ``imagewizard denoise`` on a 256x256 crop in a
fresh process, for each backend (ONNX graph already cached).

Usage (from the repository root)::

    .venv/bin/python benchmarks/speed/flagship_speed.py [--rounds 5] [--weights runs/x.safetensors]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "src"))


def photo_1mp() -> np.ndarray:
    """1024x1024 colour photo: the bundled astronaut (512x512) upscaled by 2 with Lanczos, sigma 25."""
    import cv2

    from imagewizard.samples import sample

    img = cv2.resize(sample("astronaut"), (1024, 1024), interpolation=cv2.INTER_LANCZOS4)
    rng = np.random.default_rng(0)
    return np.clip(np.clip(img, 0, 1) + rng.normal(0, 25 / 255, img.shape), 0, 1).astype(np.float32)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--weights", action="append", default=[], help="extra unet weights to time (ONNX Runtime)")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "flagship-speed")
    args = ap.parse_args()

    import imagewizard as iw
    from imagewizard.bench.machine import machine_info

    img = photo_1mp()
    mp = img.shape[0] * img.shape[1] / 1e6
    runs = {
        "unet backend=torch": dict(method="unet", sigma=25, backend="torch"),
        "unet backend=onnx": dict(method="unet", sigma=25, backend="onnx"),
        **{
            f"unet weights={Path(w).stem} backend=onnx": dict(method="unet", sigma=25, backend="onnx", weights=w)
            for w in args.weights
        },
        "nlm impl=opencv": dict(method="nlm", sigma=25, impl="opencv"),
    }
    times: dict[str, list[float]] = {k: [] for k in runs}
    for kw in runs.values():  # warm-up: weights, graph export, thread pools
        iw.denoise(img[:256, :256], **kw)
    for _ in range(args.rounds):
        for label, kw in runs.items():
            t0 = time.perf_counter()
            iw.denoise(img, **kw)
            times[label].append(time.perf_counter() - t0)
    rows = []
    for label, ts in times.items():
        med = statistics.median(ts)
        rows.append(
            {
                "method": label,
                "median_s": round(med, 3),
                "mp_per_s": round(mp / med, 3),
                "all_s": [round(t, 3) for t in ts],
            }
        )
        print(json.dumps(rows[-1]), flush=True)

    with tempfile.TemporaryDirectory() as d:
        from imagewizard.io import write

        src = Path(d) / "crop.png"
        write(src, img[:256, :256])
        cli = [
            str(Path(sys.executable).parent / "imagewizard"),
            "denoise",
            str(src),
            "--method",
            "unet",
            "--sigma",
            "25",
        ]
        for backend in ("onnx", "torch"):
            walls = []
            for i in range(3):
                t0 = time.perf_counter()
                subprocess.run(
                    [*cli, "-o", str(Path(d) / f"o{i}.png"), f"backend={backend}"], check=True, capture_output=True
                )
                walls.append(time.perf_counter() - t0)
            rows.append(
                {
                    "command": f"imagewizard denoise 256x256 --method unet backend={backend}",
                    "median_wall_s": round(statistics.median(walls), 3),
                }
            )
            print(json.dumps(rows[-1]), flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps({"machine": machine_info(), "rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
