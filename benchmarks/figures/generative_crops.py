"""Side-by-side crops of the generative restorers (the figure in docs/generative.md).

One CBSD68 image, Gaussian noise sigma 25 (float, seeded), a 128x128 crop of
clean, noisy, unet, diffusion (1 and 10 DDIM steps), gan, vae and CBM3D, with
PSNR/SSIM of the crop under each.

Usage (from the repository root)::

    .venv/bin/python benchmarks/figures/generative_crops.py --image 101087 --out docs/images/generative-crops.png
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "src"))

PANELS = [
    ("unet", "unet", {}),
    ("diffusion steps=1", "diffusion", {"steps": 1}),
    ("diffusion steps=10", "diffusion", {"steps": 10}),
    ("gan", "gan", {}),
    ("vae", "vae", {}),
    ("bm3d (CBM3D)", "bm3d", {}),
]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=os.environ.get("IMAGEWIZARD_DATA", str(ROOT.parent / "shared" / "data")))
    ap.add_argument("--image", default="101087")
    ap.add_argument("--crop", default="150,100", help="top,left of the 128x128 crop")
    ap.add_argument("--sigma", type=float, default=25.0)
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "images" / "generative-crops.png")
    args = ap.parse_args()

    import imagewizard as iw
    from imagewizard.analysis.plots import compare_figure, save_figure

    path = next((Path(args.data) / "testsets" / "CBSD68").glob(f"{args.image}.*"))
    clean, _ = iw.read(path)
    noisy = (
        clean + np.random.default_rng(0).standard_normal(clean.shape, dtype=np.float32) * np.float32(args.sigma / 255)
    ).astype(np.float32)
    y, x = (int(v) for v in args.crop.split(","))
    crop = (slice(y, y + 128), slice(x, x + 128))
    images, titles = [clean[crop], np.clip(noisy[crop], 0, 1)], ["clean", f"noisy (sigma {args.sigma:g})"]
    for title, method, params in PANELS:
        out = iw.denoise(noisy, method=method, sigma=args.sigma, **params)
        images.append(np.clip(out[crop], 0, 1))
        titles.append(title)
    fig = compare_figure(images, titles, ref=clean[crop], columns=4, tile_inches=2.6)
    save_figure(fig, args.out, dpi=80)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
