"""Speed of the learned denoisers on a colour photo, beside OpenCV's NLM and BM3D (issue 5's speed bar).

One run, one process, all threads of the machine (2 here), the 512x512
colour astronaut of scikit-image with Gaussian noise sigma 25; each method
is run once to warm up, then ``--repeat`` times, and the best time is kept.
``unet`` runs its colour weights (one joint RGB pass) when installed; with
``weights=unet-gray`` it denoises a colour image as three gray passes in the
opponent colour space (as do the generative models, which have gray weights
only). Also measured: the flagship's network under ``torch.compile`` (first
call, which compiles, and the warm calls).

Usage (from the repository root)::

    .venv/bin/python benchmarks/speed/learned_speed.py --out benchmarks/results/learned-speed
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

METHODS = [
    ("unet", {}),
    ("unet weights=unet-gray", {"weights": "unet-gray"}),
    ("unet ensemble=8", {"ensemble": 8}),
    ("diffusion", {}),
    ("gan", {}),
    ("vae", {}),
    ("dncnn", {}),
    ("conv-ae", {}),
    ("nlm impl=opencv", {"impl": "opencv"}),
    ("nlm", {}),
    ("bm3d", {}),
]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "learned-speed")
    args = ap.parse_args()

    import torch

    import imagewizard as iw
    from imagewizard.bench.machine import machine_info
    from imagewizard.models.infer import default_threads
    from imagewizard.samples import sample

    threads = default_threads()
    torch.set_num_threads(threads)
    clean = sample("astronaut")
    noisy = clean + np.random.default_rng(0).standard_normal(clean.shape, dtype=np.float32) * np.float32(25 / 255)
    mp = clean.shape[0] * clean.shape[1] / 1e6
    rows = {}
    for label, params in METHODS:
        name = label.split()[0]
        if not iw.registry.get("denoise", name).available():
            continue
        told = {} if iw.registry.get("denoise", name).sigma == "none" else {"sigma": 25}
        times, out = [], None
        for i in range(args.repeat + 1):
            t0 = time.perf_counter()
            out = iw.denoise(noisy, method=name, **told, **params)
            if i:  # the first call loads weights and warms caches
                times.append(time.perf_counter() - t0)
        rows[label] = {
            "seconds": round(min(times), 3),
            "mp_per_s": round(mp / min(times), 3),
            "psnr": round(iw.metrics.psnr(clean, np.clip(out, 0, 1)), 2),
        }
        print(label, rows[label], flush=True)

    # torch.compile of the flagship's network on the 512x512 photo: the joint colour pass when colour
    # weights are installed, else one gray pass (the opponent path runs three)
    from imagewizard.models.zoo import find, load

    kind = "colour" if find("unet-color") else "gray"
    model, _ = load("unet-color" if kind == "colour" else "unet-gray")
    planes = noisy if kind == "colour" else noisy.mean(2, keepdims=True)
    x = torch.from_numpy(planes.transpose(2, 0, 1)[None].copy()).contiguous(memory_format=torch.channels_last)
    s = torch.tensor([25 / 255])

    def best(f):
        with torch.inference_mode():
            f(x, s)
            ts = []
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                f(x, s)
                ts.append(time.perf_counter() - t0)
        return min(ts)

    eager = best(model)
    t0 = time.perf_counter()
    compiled = torch.compile(model)
    with torch.inference_mode():
        compiled(x, s)
    first = time.perf_counter() - t0
    warm = best(compiled)
    rows[f"unet {kind} pass, eager"] = {"seconds": round(eager, 3), "mp_per_s": round(mp / eager, 3)}
    rows[f"unet {kind} pass, torch.compile"] = {
        "seconds": round(warm, 3),
        "mp_per_s": round(mp / warm, 3),
        "first_call_seconds": round(first, 1),
    }
    print(rows[f"unet {kind} pass, eager"], rows[f"unet {kind} pass, torch.compile"])
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(
        json.dumps(
            {
                "command": "python benchmarks/speed/learned_speed.py " + " ".join(sys.argv[1:]),
                "image": "astronaut 512x512 RGB",
                "threads": threads,
                "machine": machine_info(),
                "rows": rows,
            },
            indent=2,
        )
        + "\n"
    )
    print("\n| method | s / image | MP/s | PSNR (dB) |\n|---|---|---|---|")
    for label, r in rows.items():
        print(f"| {label} | {r['seconds']} | {r['mp_per_s']} | {r.get('psnr', '')} |")


if __name__ == "__main__":
    main()
