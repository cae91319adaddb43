"""Side-by-side crops of upscalers, because PSNR favours the blurrier result.

For each image: the clean photo cropped to a multiple of the scale, shrunk with MATLAB bicubic
(the benchmark's input), upscaled by every method; the most detailed region (largest gradient
energy) is cropped from the clean image and from every result, and written with its Y-PSNR
(border of `scale` px) into an HTML page.

    python benchmarks/suites/sr_crops.py --data ../shared/data/bsds500/images/val --scale 4 \\
        --images 6 --methods bicubic,lanczos,learned,perceptual --out docs/sr-crops
    # a user's model too:  --methods bicubic,learned,model:weights=RealESRGAN_x4plus.pth
"""

from __future__ import annotations

import argparse
import html
import sys
from pathlib import Path

import numpy as np


def _detail_crop(img: np.ndarray, side: int) -> tuple[int, int]:
    from scipy import ndimage

    g = img.mean(axis=2) if img.ndim == 3 else img
    energy = ndimage.gaussian_gradient_magnitude(g.astype(np.float64), 1.5) ** 2
    box = ndimage.uniform_filter(energy, side, mode="constant")
    h, w = g.shape
    half = side // 2
    box[:half], box[h - half :], box[:, :half], box[:, w - half :] = 0, 0, 0, 0
    y, x = np.unravel_index(int(np.argmax(box)), box.shape)
    return max(0, y - half), max(0, x - half)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", required=True)
    ap.add_argument("--scale", type=int, default=4)
    ap.add_argument("--images", type=int, default=6)
    ap.add_argument("--side", type=int, default=128, help="crop side in output pixels")
    ap.add_argument("--methods", default="bicubic,lanczos,learned,perceptual")
    ap.add_argument("--out", type=Path, default=Path("docs/sr-crops"))
    a = ap.parse_args(argv)

    import imagewizard as iw
    from imagewizard.core import registry
    from imagewizard.io import list_images, read, write
    from imagewizard.models.train_sr import make_lr, modcrop, y_psnr

    methods = []
    for item in a.methods.split(","):
        name, _, rest = item.partition(":")
        params = dict(kv.split("=", 1) for kv in rest.split(";") if kv) if rest else {}
        m = registry.get("upscale", name)
        if not m.available():
            print(f"skipped {name}: {m.unavailable_reason()}", file=sys.stderr)
            continue
        methods.append((name, params))
    a.out.mkdir(parents=True, exist_ok=True)
    rows = []
    for path in sorted(list_images(Path(a.data), recursive=False))[: a.images]:
        img, _ = read(path)
        hr = modcrop(np.round(np.clip(img, 0, 1) * 255).astype(np.uint8), a.scale)
        lr = make_lr(hr, a.scale)
        y0, x0 = _detail_crop(hr.astype(np.float32) / 255, a.side)
        sl = (slice(y0, y0 + a.side), slice(x0, x0 + a.side))
        cells = [("clean", hr[sl], None)]
        for name, params in methods:
            out = np.round(np.clip(iw.upscale(lr.astype(np.float32) / 255, name, scale=a.scale, **params), 0, 1) * 255)
            out = out.astype(np.uint8)
            cells.append((name, out[sl], y_psnr(hr, out, a.scale)))
        files = []
        for name, crop, score in cells:
            f = a.out / f"{path.stem}-{name}.png"
            write(f, crop.astype(np.float32) / 255, bit_depth=8, overwrite=True)
            files.append((name, f.name, score))
        rows.append((path.stem, files))
        print(path.stem, ", ".join(f"{n} {s:.2f}" for n, _, s in files if s is not None))
    cols = ["clean"] + [n for n, _ in methods]
    parts = [
        "<!doctype html><meta charset='utf-8'><title>ImageWizard upscalers side by side</title>",
        "<style>body{font:14px system-ui;margin:16px}td{padding:4px;text-align:center;vertical-align:top}"
        "img{width:256px;image-rendering:pixelated}</style>",
        f"<h1>Upscalers side by side, x{a.scale}</h1>",
        f"<p>Input: the clean image shrunk x{a.scale} with MATLAB bicubic. Crops of {a.side} px (shown at "
        f"{256 / a.side:g}x), the most detailed region of each image; under each, the Y-PSNR of the whole "
        f"image (border {a.scale} px). Command: <code>{html.escape(' '.join(['python', *sys.argv]))}</code></p>",
        "<table><tr><th></th>" + "".join(f"<th>{html.escape(c)}</th>" for c in cols) + "</tr>",
    ]
    for stem, files in rows:
        parts.append(f"<tr><th>{html.escape(stem)}</th>")
        for name, fname, score in files:
            cap = "" if score is None else f"{score:.2f} dB"
            parts.append(f"<td><img src='{fname}' alt='{html.escape(name)}'><br>{cap}</td>")
        parts.append("</tr>")
    parts.append("</table>")
    (a.out / "index.html").write_text("\n".join(parts) + "\n")
    print(f"wrote {a.out / 'index.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
