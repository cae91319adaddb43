"""Figures: histograms with their cumulative distribution, and comparison grids."""

from __future__ import annotations

import io as _io
from pathlib import Path
from typing import Sequence

import numpy as np

from imagewizard.core.arrays import as_float_image, split_alpha


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


#: Plot formats matplotlib's Agg backend writes.
PLOT_SUFFIXES = (".png", ".pdf", ".svg", ".jpg", ".jpeg", ".tif", ".tiff", ".webp", ".eps", ".ps")


def check_plot_path(path: str | Path, *, what: str = "plot") -> Path:
    """Refuse a plot path before any work: unknown format, an input's path, a blocked folder."""
    from imagewizard.core.errors import ImageWriteError
    from imagewizard.io.files import check_output

    p = Path(path)
    if p.suffix.lower() not in PLOT_SUFFIXES:
        shown = f"'{p.suffix}'" if p.suffix else "no extension"
        raise ImageWriteError(
            f"cannot write {what} {p}: {shown} is not a plot format (use {', '.join(PLOT_SUFFIXES[:3])}, ...)"
        )
    return check_output(p, what=what)


def save_figure(fig, path: str | Path, dpi: int = 100, *, what: str = "plot") -> Path:
    """Save a matplotlib figure atomically through the guard (format from the extension)."""
    from imagewizard.io.files import atomic_path

    path = check_plot_path(path, what=what)
    try:
        with atomic_path(path, what=what) as tmp:
            fig.savefig(tmp, dpi=dpi, bbox_inches="tight", format=path.suffix.lower().lstrip("."))
    finally:
        _pyplot().close(fig)
    return path


def figure_png_bytes(fig, dpi: int = 100) -> bytes:
    """PNG bytes of a figure (for embedding in HTML reports)."""
    buf = _io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    _pyplot().close(fig)
    return buf.getvalue()


def histogram_figure(img, *, bins: int = 256, title: str = ""):
    """Histogram of an image with its cumulative distribution overlaid (per channel for colour)."""
    plt = _pyplot()
    img, _ = split_alpha(as_float_image(img, allow_alpha=True))
    fig, ax = plt.subplots(figsize=(7, 4))
    ax2 = ax.twinx()
    channels = [("gray", img)] if img.ndim == 2 else [(c, img[:, :, i]) for i, c in enumerate(("red", "green", "blue"))]
    for color, ch in channels:
        vals = np.clip(ch, 0, 1).ravel()
        hist, edges = np.histogram(vals, bins=bins, range=(0, 1))
        centers = (edges[:-1] + edges[1:]) / 2
        ax.fill_between(
            centers, hist, step="mid", alpha=0.3 if img.ndim == 3 else 0.6, color="0.3" if color == "gray" else color
        )
        cdf = np.cumsum(hist) / max(hist.sum(), 1)
        ax2.plot(
            centers,
            cdf,
            color="black" if color == "gray" else color,
            lw=1.5,
            label=f"{color} CDF" if color != "gray" else "CDF",
        )
    ax.set_xlim(0, 1)
    ax.set_xlabel("intensity (0 = black, 1 = white)")
    ax.set_ylabel("pixel count")
    ax2.set_ylabel("cumulative fraction")
    ax2.set_ylim(0, 1.02)
    ax2.legend(loc="upper left", fontsize=8)
    ax.set_title(title or "histogram and cumulative distribution")
    return fig


def compare_figure(
    images: Sequence[np.ndarray],
    titles: Sequence[str],
    *,
    ref: np.ndarray | None = None,
    columns: int | None = None,
    tile_inches: float = 3.2,
):
    """A grid of images with titles; with ``ref``, PSNR/SSIM against it under each image."""
    from imagewizard.analysis.metrics import psnr, ssim

    plt = _pyplot()
    n = len(images)
    cols = max(1, min(columns or 4, n))  # more columns than images would only widen the canvas
    rows = (n + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(tile_inches * cols, tile_inches * rows + 0.4 * rows), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, img, title in zip(axes.ravel(), images, titles):
        img, _ = split_alpha(as_float_image(img, allow_alpha=True))
        shown = np.clip(img, 0, 1)
        ax.imshow(shown, cmap="gray" if shown.ndim == 2 else None, vmin=0, vmax=1, interpolation="nearest")
        ax.set_title(title, fontsize=10)
        if ref is not None and img.shape == ref.shape:
            if img is ref or np.array_equal(img, ref):
                label = "reference"
            else:
                label = f"PSNR {psnr(ref, img):.2f} dB  SSIM {ssim(ref, img):.3f}"
            ax.text(0.5, -0.04, label, transform=ax.transAxes, ha="center", va="top", fontsize=9)
    fig.tight_layout()
    return fig
