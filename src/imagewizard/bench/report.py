"""The benchmark's written outputs: ``summary.csv``, ``summary.md`` and a self-contained ``report.html``.

The HTML page embeds its figures as base64 PNG (it opens anywhere, offline):
the summary table per degradation (with published numbers when asked), a
PSNR-versus-time scatter plot per degradation (log time axis), and for the
first few images side-by-side crops (clean, degraded, every method) titled
with each image's full-image PSNR/SSIM.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import numpy as np

from imagewizard.bench.published import caveats, protocol_note, published_rows, source_legend
from imagewizard.bench.summary import (
    TABLE_HEAD,
    csv_text,
    fmt,
    markdown_table,
    published_as_rows,
    ranked,
    summarize,
    table_cells,
)
from imagewizard.io import atomic_write
from imagewizard.bench.worker import BASELINE, crop_path
from imagewizard.core import html as H

PUBLISHED_HEAD = ["method (published)", "PSNR (dB)", "SSIM", "source"]


def _atomic_text(path: Path, text: str) -> Path:
    atomic_write(path, text.encode("utf-8"))
    return path


def write_outputs(plan, records: list[dict[str, Any]], machine: dict[str, Any], out: Path):
    """Write summary.csv, summary.md and report.html; returns (rows, published, files)."""
    rows = summarize(records, plan.order)
    for r in rows:
        r.update({"dataset": plan.dataset.name, "protocol": plan.config.protocol})
    published: dict[str, list] = {}
    if plan.config.published:
        for d in plan.degradations:
            published[d.spec] = published_rows(plan.dataset.identity, d.published_sigma, scale=d.published_scale)
    csv_rows = list(rows)
    for spec, prow in published.items():
        csv_rows += published_as_rows(spec, prow)
    files = {
        "results": out / "results.jsonl",
        "summary_csv": _atomic_text(out / "summary.csv", csv_text(csv_rows)),
        "summary_md": _atomic_text(out / "summary.md", markdown_report(plan, rows, published, machine, records)),
        "report": _atomic_text(out / "report.html", html_report(plan, rows, published, machine, records, out)),
    }
    return rows, published, files


# --------------------------------------------------------------------------- shared text


def protocol_text(protocol: str) -> str:
    if protocol == "float":
        return (
            "float: noise is added to the 8-bit clean image in float and the result is not clipped or rounded "
            "(the protocol of the published Set12/BSD68/CBSD68 tables); scores on the [0, 1] scale, which "
            "is PSNR at peak 255 for 8-bit data"
        )
    return (
        "uint8: the degraded input is clipped to [0, 1] and rounded to 8-bit levels, like a real file "
        "(published tables do not clip; expect them to be a little higher, about 0.15 dB on BSD68 at "
        "sigma 25); scores on the [0, 1] scale, which is PSNR at peak 255 for 8-bit data"
    )


def header_facts(plan, machine: dict[str, Any], records: list[dict[str, Any]]) -> list[tuple[str, str]]:
    from imagewizard.bench.machine import machine_line

    c, ds = plan.config, plan.dataset
    threads = sorted({r.get("threads") for r in records if r.get("threads")})
    workers = (
        "in the calling process"
        if c.workers == 0
        else f"{c.workers} worker process{'es' if c.workers != 1 else ''}"
        + (f", {'/'.join(map(str, threads))} thread(s) each" if threads else "")
    )
    sigma = (
        "blind: methods that take a noise level estimated it from the degraded image (--blind)"
        if c.blind
        else "non-blind: methods that take a noise level were given the true Gaussian sigma of the "
        "degradation (as in the published tables); 'sigma' column: true / estimated (no Gaussian "
        "sigma to give) / default (method's own) / none (method takes none)"
    )
    facts = [
        ("Task", plan.task),
        ("Data", f"{ds.description}; {len(ds.images)} image(s) benchmarked"),
        ("Protocol", protocol_text(c.protocol)),
        ("Noise level", sigma),
        (
            "Seed",
            f"{c.seed} (each image's noise seed derives from the seed, the image name and the degradation, "
            "so results do not depend on the number of workers)",
        ),
        ("Workers", workers),
        (
            "Measures",
            (
                "PSNR/SSIM/MSE of the Y channel (BT.601, MATLAB's rgb2ycbcr) with a border of `scale` pixels "
                "removed, against the clean image cropped to a multiple of the scale (the super-resolution "
                "papers' protocol; psnr_rgb in summary.csv: all channels) "
                if plan.task == "upscale"
                else "PSNR/SSIM/MSE of the whole image against the clean one "
            )
            + "(mean ± sample std over images); "
            "s / image: wall time of the method call after a warm-up call; MP/s: megapixels per "
            + ("second of the output (the enlarged image)" if plan.task == "upscale" else "second")
            + "; peak MB: largest growth of the worker's resident memory during one call "
            "(all libraries, PyTorch and OpenCV included)",
        ),
        ("Machine", machine_line(machine)),
    ]
    if c.command:
        facts.insert(0, ("Command", f"`{c.command}`"))
    for n in plan.notes:
        facts.append(("Note", n))
    return facts


def _steps(records: list[dict[str, Any]], spec: str) -> str:
    for r in records:
        if r["degradation"] == spec and r["method"] == BASELINE and r.get("steps"):
            return "; ".join(s for s in r["steps"])
    return ""


def _published_caption(plan, spec_sigma: float | None, scale: int | None = None) -> str:
    ds = plan.dataset
    if scale is not None:
        bits = [
            f"Published PSNR on the Y channel (border of {scale} px removed) of the full {ds.name} set at x{scale}, "
            "inputs shrunk with MATLAB bicubic, as reported by each source."
        ]
        if len(ds.images) < ds.total:
            bits.append(f"Our numbers are on {len(ds.images)} of {ds.total} images, so not directly comparable.")
        return " ".join(bits)
    bits = [
        f"Published PSNR on the full {ds.name} set at sigma {spec_sigma:g}, as reported by each source "
        f"(float protocol, their own noise realisations; differences under about 0.1 dB are noise)."
    ]
    if len(ds.images) < ds.total:
        bits.append(f"Our numbers are on {len(ds.images)} of {ds.total} images, so not directly comparable.")
    if plan.config.protocol != "float":
        bits.append("This run used the uint8 protocol; the published numbers did not clip or round the input.")
    return " ".join(bits)


def _published_note(plan, d) -> str | None:
    """Why no published rows are shown for degradation ``d`` (None when some are)."""
    if plan.dataset.identity is None:
        return (
            f"No published numbers for {plan.dataset.name}: the tables cover Set12, BSD68 and CBSD68 "
            "(and Kodak24, McMaster, Urban100) only."
        )
    if d.published_sigma is None and d.published_scale is None:
        return "No published numbers: the tables are for additive Gaussian noise alone (or bicubic downscaling)."
    return None


# --------------------------------------------------------------------------- markdown


def markdown_report(plan, rows, published, machine, records) -> str:
    c = plan.config
    lines = [f"# ImageWizard benchmark: {plan.task} on {plan.dataset.name}", ""]
    lines += [f"- **{k}**: {v}" for k, v in header_facts(plan, machine, records)]
    lines.append("")
    for d in plan.degradations:
        steps = _steps(records, d.spec)
        lines += [f"## {d.spec}", ""] + ([f"Degradation: {steps}.", ""] if steps else [])
        body = [table_cells(r) for r in ranked([r for r in rows if r["degradation"] == d.spec])]
        lines += [markdown_table(TABLE_HEAD, body), ""]
        if c.published:
            prow = published.get(d.spec) or []
            if prow:
                lines += [
                    _published_caption(plan, d.published_sigma, d.published_scale),
                    "",
                    markdown_table(
                        PUBLISHED_HEAD, [[p.method, f"{p.psnr:.2f}", fmt(p.ssim, ".4f"), p.short_source] for p in prow]
                    ),
                    "",
                ]
            else:
                lines += [_published_note(plan, d) or "No published numbers for this sigma.", ""]
    if c.published:
        legend = source_legend([p for rows_ in published.values() for p in rows_])
        if legend:
            lines += ["Sources of the published numbers:", ""] + [f"- **{k}**: {v}" for k, v in legend] + [""]
        lines += ["Caveats of the published numbers:", ""] + [f"- {t}" for t in caveats()] + [""]
    return "\n".join(lines)


# --------------------------------------------------------------------------- figures


def scatter_png(plan, rows, spec: str) -> bytes | None:
    """PSNR versus seconds per image (log axis) for one degradation; None when nothing was timed."""
    from imagewizard.analysis.plots import _pyplot, figure_png_bytes

    pts = [
        r
        for r in rows
        if r["degradation"] == spec and r["kind"] == "method" and r["psnr_mean"] is not None and r["seconds_mean"]
    ]
    if not pts:
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 4.6))
    xs = np.array([r["seconds_mean"] for r in pts])
    ys = np.array([r["psnr_mean"] for r in pts])
    ax.scatter(xs, ys, s=36, color="#1f77b4", zorder=3)
    for r, x, y in zip(pts, xs, ys):
        ax.annotate(r["method"], (x, y), xytext=(4, 3), textcoords="offset points", fontsize=8)
    base = next((r for r in rows if r["degradation"] == spec and r["kind"] == "input"), None)
    if base is not None and base["psnr_mean"] is not None:
        ax.axhline(base["psnr_mean"], color="0.5", ls="--", lw=1)
        ax.text(
            0.01,
            base["psnr_mean"],
            " degraded input",
            transform=ax.get_yaxis_transform(),
            va="bottom",
            fontsize=8,
            color="0.35",
        )
    ax.set_xscale("log")
    lo, hi = xs.min(), xs.max()
    ax.set_xlim(lo / 2, hi * 3)
    ax.set_xlabel("seconds per image (log scale)")
    ax.set_ylabel("mean PSNR (dB)")
    ax.set_title(f"{spec}: quality versus time ({plan.dataset.name}, {plan.config.protocol} protocol)", fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    return figure_png_bytes(fig, dpi=90)


def crops_png(plan, records, spec: str, image: str, out: Path) -> bytes | None:
    """Side-by-side crops of one image: clean, degraded, then methods by PSNR; None when not saved."""
    from imagewizard.analysis.plots import compare_figure, figure_png_bytes

    by_method = {r["method"]: r for r in records if r["degradation"] == spec and r["image"] == image}
    clean_p = crop_path(out, spec, image, "clean")
    if not clean_p.exists() or BASELINE not in by_method:
        return None
    items = [(np.load(clean_p), "clean")]
    methods = sorted(
        (m for m in plan.methods if m in by_method and by_method[m].get("psnr") is not None),
        key=lambda m: -by_method[m]["psnr"],
    )
    for m in [BASELINE, *methods]:
        p = crop_path(out, spec, image, m)
        if not p.exists():
            continue
        r = by_method[m]
        name = "degraded" if m == BASELINE else m
        items.append((np.load(p), f"{name}\n{r['psnr']:.2f} dB, SSIM {r['ssim']:.3f}"))
    cols = min(6, len(items))
    fig = compare_figure([a for a, _ in items], [t for _, t in items], columns=cols, tile_inches=2.1)
    return figure_png_bytes(fig, dpi=80)


# --------------------------------------------------------------------------- HTML

_img_tag = H.img_tag
_html_table = H.table


def html_report(plan, rows, published, machine, records, out: Path) -> str:
    c = plan.config
    title = f"ImageWizard benchmark: {plan.task} on {plan.dataset.name}"
    parts = ["<dl class='facts'>"]
    for k, v in header_facts(plan, machine, records):
        parts.append(f"<dt>{html.escape(k)}</dt><dd>{html.escape(v.strip('`'))}</dd>")
    parts.append("</dl>")
    crop_images = [r.name for r in plan.dataset.images[: c.crops]]
    for d in plan.degradations:
        parts.append(f"<h2>{html.escape(d.spec)}</h2>")
        steps = _steps(records, d.spec)
        if steps:
            parts.append(f"<p class='caption'>Degradation: {html.escape(steps)}.</p>")
        ordered = ranked([r for r in rows if r["degradation"] == d.spec])
        parts.append(
            _html_table(
                TABLE_HEAD,
                [table_cells(r) for r in ordered],
                ["input" if r["kind"] == "input" else "" for r in ordered],
            )
        )
        if c.published:
            prow = published.get(d.spec) or []
            if prow:
                parts.append(
                    f"<p class='caption'>{html.escape(_published_caption(plan, d.published_sigma, d.published_scale))}</p>"
                )
                body = [[p.method, f"{p.psnr:.2f}", fmt(p.ssim, ".4f"), p.short_source] for p in prow]
                parts.append(_html_table(PUBLISHED_HEAD, body, ["published"] * len(body), {3: "src"}))
            else:
                parts.append(
                    f"<p class='caption'>{html.escape(_published_note(plan, d) or 'No published numbers for this sigma.')}</p>"
                )
        png = scatter_png(plan, rows, d.spec)
        if png:
            parts.append("<h3>Quality versus time</h3>" + _img_tag(png, f"PSNR versus time, {d.spec}"))
        crops = [(img, crops_png(plan, records, d.spec, img, out)) for img in crop_images]
        crops = [(img, p) for img, p in crops if p]
        if crops:
            parts.append(
                "<h3>Crops</h3><p class='caption'>The most detailed square of each image; titles give "
                "the whole image's PSNR and SSIM. Degraded inputs are shown clipped to [0, 1].</p>"
            )
            for img, p in crops:
                parts.append(f"<p><b>{html.escape(img)}</b></p>" + _img_tag(p, f"crops of {img}, {d.spec}"))
    if c.published:
        legend = source_legend([p for rows_ in published.values() for p in rows_])
        parts.append("<h2>About the published numbers</h2><p class='caption'>" + html.escape(protocol_note()) + "</p>")
        if legend:
            parts.append(
                "<p>Sources:</p><ul>"
                + "".join(f"<li><b>{html.escape(k)}</b>: {html.escape(v)}</li>" for k, v in legend)
                + "</ul>"
            )
        parts.append("<p>Caveats:</p><ul>" + "".join(f"<li>{html.escape(t)}</li>" for t in caveats()) + "</ul>")
    return H.page(title, parts)
