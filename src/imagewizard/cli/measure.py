"""Measuring: ``metrics``, ``info``, ``estimate-noise``, ``histogram``, ``compare``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import List, Optional

import typer

from imagewizard.cli.app import _console, _fmt, _json_default, _read, app


@app.command()
def metrics(
    ref: Path = typer.Argument(..., help="reference (clean) image"),
    img: Path = typer.Argument(..., help="image to score"),
    crop: int = typer.Option(0, "--crop", help="ignore this many border pixels"),
    y_channel: bool = typer.Option(False, "--y", help="score the luminance (Y of YCbCr) only"),
    as_json: bool = typer.Option(False, "--json", help="print JSON with keys psnr, ssim, mse, mae"),
) -> None:
    """PSNR, SSIM, MSE and MAE of IMG against REF (images scaled to [0, 1], so 8-bit data gives the usual dB)."""
    from imagewizard.core.arrays import split_alpha
    from imagewizard.analysis.metrics import compare

    a, _ = _read(ref)
    b, _ = _read(img)
    scores = compare(split_alpha(a)[0], split_alpha(b)[0], crop=crop, y_channel=y_channel)
    if as_json:
        typer.echo(json.dumps(scores))
        return
    console = _console()
    console.print(f"PSNR  {scores['psnr']:.4f} dB")
    console.print(f"SSIM  {scores['ssim']:.6f}")
    console.print(f"MSE   {scores['mse']:.8f}  (on the 0..1 scale; x 65025 for 0..255)")
    console.print(f"MAE   {scores['mae']:.8f}")


@app.command()
def info(
    img: Path = typer.Argument(..., help="image file"), as_json: bool = typer.Option(False, "--json", help="print JSON")
) -> None:
    """Size, mode, bit depth, metadata, histogram statistics, noise level and contrast of an image."""
    from imagewizard.analysis.estimate import analyze

    arr, meta = _read(img)
    record = {"file": meta.summary(), "analysis": analyze(arr)}
    if as_json:
        typer.echo(json.dumps(record, indent=2, default=_json_default))
        return
    console = _console()
    for section, values in record.items():
        console.print(f"[bold]{section}[/bold]")
        for k, v in values.items():
            console.print(f"  {k:<22} {_fmt(v)}")


@app.command("estimate-noise")
def estimate_noise(
    img: Path = typer.Argument(..., help="image file"), as_json: bool = typer.Option(False, "--json", help="print JSON")
) -> None:
    """Estimate the noise level (sigma on 0..255), the noise type and, with the real-photo denoiser, the noise RMS.

    sigma reads white noise exactly but only the finest scale of correlated (camera, JPEG) noise;
    rms measures all of it (docs/noise-estimation.md).
    """
    from imagewizard.core.arrays import split_alpha
    from imagewizard.analysis.estimate import noise_sigma, noise_type

    arr, _ = _read(img)
    arr = split_alpha(arr)[0]
    from imagewizard.analysis.estimate.residual import noise_rms

    sigma = float(noise_sigma(arr))
    kind, evidence = noise_type(arr)
    rms = noise_rms(arr)  # None without the real-photo denoiser
    if as_json:
        record = {"sigma": sigma, "type": kind, "evidence": evidence, "noise_rms": rms}
        typer.echo(json.dumps(record, default=_json_default))
        return
    console = _console()
    console.print(f"sigma  {sigma:.2f}  (Gaussian-equivalent std on the 0..255 scale)")
    brief = {k: v for k, v in evidence.items() if k != "levels"}  # per-intensity levels: --json has them
    console.print(f"type   {kind}  ({_fmt(brief)})")
    if rms is not None:
        console.print(f"rms    {rms:.2f}  (all the noise, correlated included: what the real-photo denoiser removes)")


@app.command()
def histogram(
    img: Path = typer.Argument(..., help="image file"),
    output: Path = typer.Option(..., "--output", "-o", help="plot file (.png, .pdf, .svg)"),
    bins: int = typer.Option(256, "--bins", min=2, max=65536, help="number of bins"),
) -> None:
    """Plot the histogram with its cumulative distribution (per channel for colour)."""
    from imagewizard.analysis.plots import check_plot_path, histogram_figure, save_figure

    check_plot_path(output)
    arr, _ = _read(img)
    path = save_figure(histogram_figure(arr, bins=bins, title=img.name), output)
    _console().print(f"wrote {path}")


@app.command()
def compare(
    images: List[Path] = typer.Argument(..., help="images to show side by side"),
    output: Path = typer.Option(..., "--output", "-o", help="grid image (.png)"),
    ref: Optional[Path] = typer.Option(None, "--ref", help="reference: PSNR/SSIM under each image"),
    titles: Optional[str] = typer.Option(None, "--titles", help="comma-separated titles (default: file names)"),
    columns: Optional[int] = typer.Option(None, "--columns", min=1, help="images per row"),
) -> None:
    """A side-by-side grid with titles and, given a reference, PSNR/SSIM under each image."""
    from imagewizard.core.arrays import split_alpha
    from imagewizard.core.errors import ParameterError
    from imagewizard.analysis.plots import compare_figure, save_figure

    from imagewizard.analysis.plots import check_plot_path

    names = [t.strip() for t in titles.split(",")] if titles else [p.name for p in images]
    if len(names) != len(images):
        raise ParameterError(f"--titles has {len(names)} entries for {len(images)} images")
    check_plot_path(output, what="grid")
    arrays = [split_alpha(_read(p)[0])[0] for p in images]
    reference = split_alpha(_read(ref)[0])[0] if ref else None
    path = save_figure(compare_figure(arrays, names, ref=reference, columns=columns), output, what="grid")
    _console().print(f"wrote {path}")
