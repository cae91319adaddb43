"""Choices of the learned segmenter, made on the BSDS500 val images its network never saw.

The boundary network (``edgenet-bsds``) holds out the last 16 val images (its card lists them).
This script scores, on those only, never on the test set:

- ``--probe scales``: the boundary map's dataset-best F (the training's fast matching) at one
  scale, with a horizontal flip added, and at several sets of scales averaged;
- ``--probe levels``: segmentation covering of the hierarchy at every level, at one scale and at
  the shipped scales, which is where ``DEFAULT_LEVEL`` comes from.

    python benchmarks/suites/segment_probes.py --data ../shared/data/bsds500 --probe scales \\
        [--weights FILE.safetensors ...]
    python benchmarks/suites/segment_probes.py --data ../shared/data/bsds500 --probe levels

Figures: docs/benchmarks.md, "Segmentation on BSDS500 test".
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

SCALE_SETS = {
    "one scale": ((1.0,), False),
    "flip": ((1.0,), True),
    "0.5/1/1.5": ((0.5, 1.0, 1.5), False),
    "0.75/1/1.25": ((0.75, 1.0, 1.25), False),
    "0.5/1/1.5 + flip": ((0.5, 1.0, 1.5), True),
}


def _map(L, model, img: np.ndarray, scales, flip: bool) -> np.ndarray:
    p = L._boundary_probability(img, model, scales=scales)
    if flip:
        p = (p + L._boundary_probability(np.ascontiguousarray(img[:, ::-1]), model, scales=scales)[:, ::-1]) / 2
    return p


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True, help="a BSDS500 folder (images/, groundTruth/)")
    ap.add_argument("--probe", choices=("scales", "levels"), required=True)
    ap.add_argument("--weights", nargs="*", help="edgenet .safetensors files (default: the shipped one)")
    ap.add_argument("--held-out", type=int, default=16, help="the last N val images (the training's split)")
    a = ap.parse_args()

    import imagewizard.tasks.segment.learned as L
    from imagewizard.analysis.segmentation import covering_counts
    from imagewizard.bench.segment import SWEEPS
    from imagewizard.models import zoo
    from imagewizard.models.train_edges import quick_f, read_bsds
    from imagewizard.models.weights import load_model

    held = read_bsds(Path(a.data), "val")[-a.held_out :]
    imgs = [img.astype(np.float32) / 255 for _, img, _, _ in held]
    models = [(w, load_model(Path(w))[0]) for w in a.weights] if a.weights else [(L.WEIGHTS, zoo.load(L.WEIGHTS)[0])]
    for name, model in models:
        model.eval()
        if a.probe == "scales":
            for label, (scales, flip) in SCALE_SETS.items():
                t = time.time()
                probs = [_map(L, model, img, scales, flip) for img in imgs]
                sec = (time.time() - t) / len(imgs)
                f = quick_f(probs, [b for *_, b in held])
                print(f"{name}  {label:18s} F {f:.4f}  ({sec:.2f} s / image)", flush=True)
        else:
            levels = np.asarray(SWEEPS["learned"][1])  # the benchmark's own sweep
            for scales in ((1.0,), L.SCALES):
                cov = np.zeros((len(levels), 2))
                for img, (_, _, segs, _) in zip(imgs, held):
                    h = L.hierarchy(L._boundary_probability(img, model, scales=scales))
                    for i, lv in enumerate(levels):
                        cov[i] += covering_counts(h.cut(lv), segs)
                c = cov[:, 0] / cov[:, 1]
                print(f"{name}  scales {scales}: best level {levels[c.argmax()]} (covering {c.max():.4f})")
                print("   " + "  ".join(f"{lv:.2f}:{v:.3f}" for lv, v in zip(levels, c)), flush=True)


if __name__ == "__main__":
    main()
