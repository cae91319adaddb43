#!/usr/bin/env python
"""Before/after check for refactors that must not change behaviour (issue 16).

Hashes the outputs of ``imagewizard.denoise`` (median, nlm, unet at sigma 25), of the wizard on a
mixed set of degradations, of deblurring and inpainting, and of the CLI on two files, all on Set12
with seeded degradations. Run it before and after a change and compare the two JSON files: every
hash must match.

Usage::

    .venv/bin/python benchmarks/checks/refactor_identity.py OUT.json [--compare BEFORE.json]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
SET12 = Path(os.environ.get("IMAGEWIZARD_DATA", ROOT.parent / "shared" / "data")) / "testsets" / "Set12"
WIZARD_SPECS = [
    "noise=gaussian:15",
    "noise=gaussian:50",
    "noise=poisson:30",
    "blur=gaussian:1.5",
    "contrast=0.5",
    "jpeg=20",
]


def _h(a: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()[:16]


def run() -> dict[str, str]:
    import imagewizard as iw
    from imagewizard.physics.degrade import degrade, derive_seed, parse_degrade_spec

    out: dict[str, str] = {}
    files = sorted(SET12.glob("*.png"))
    if not files:
        raise SystemExit(f"Set12 not found at {SET12}")
    for i, f in enumerate(files):
        clean, _ = iw.read(f)
        noisy = degrade(clean, noise="gaussian:25", seed=derive_seed(16, i)).image
        for m in ("median", "nlm", "unet"):
            out[f"denoise/{m}/{f.name}"] = _h(iw.denoise(noisy, m, **({} if m == "median" else {"sigma": 25})))
        if i < 4:
            blurred = degrade(clean, blur="gaussian:1.5", noise="gaussian:2", seed=derive_seed(17, i)).image
            out[f"deblur/wiener/{f.name}"] = _h(iw.deblur(blurred, "gaussian:1.5", "wiener"))
            mask = np.zeros(clean.shape, bool)
            mask[20:40, 30:90] = True
            out[f"inpaint/telea/{f.name}"] = _h(iw.inpaint(np.where(mask, 0, clean), mask, "telea"))
            out[f"enhance/clahe/{f.name}"] = _h(iw.enhance(clean * 0.5 + 0.2, "clahe"))
        for j, spec in enumerate(WIZARD_SPECS[i % 3 :: 3]):
            d = degrade(clean, **parse_degrade_spec(spec), seed=derive_seed(18, i, j)).image
            out[f"wizard/{spec}/{f.name}"] = _h(iw.apply("enhance", d, "wizard"))
    from imagewizard.cli.commands import main

    with tempfile.TemporaryDirectory() as tmp:
        for m in ("median", "unet"):
            o = Path(tmp) / f"{m}.png"
            assert (
                main(["denoise", str(files[0]), "-o", str(o), "-m", m] + ([] if m == "median" else ["--sigma", "25"]))
                == 0
            )
            out[f"cli/denoise/{m}"] = hashlib.sha256(o.read_bytes()).hexdigest()[:16]
        o = Path(tmp) / "w.png"
        assert main(["enhance", str(files[1]), "-o", str(o)]) == 0
        out["cli/wizard"] = hashlib.sha256(o.read_bytes()).hexdigest()[:16]
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--compare", type=Path, default=None)
    args = ap.parse_args(argv)
    sys.path.insert(0, str(ROOT / "src"))
    res = run()
    args.out.write_text(json.dumps(res, indent=1, sort_keys=True) + "\n")
    print(f"{len(res)} outputs hashed -> {args.out}")
    if args.compare:
        before = json.loads(args.compare.read_text())
        diff = sorted(k for k in set(before) | set(res) if before.get(k) != res.get(k))
        print(f"compared with {args.compare}: {len(diff)} differ" + "".join(f"\n  {k}" for k in diff))
        return 1 if diff else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
