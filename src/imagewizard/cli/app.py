"""The Typer application, its console and the helpers every command shares (reading, guarded
writing, the task run and its report)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, List, Optional

import typer

from imagewizard import __version__


app = typer.Typer(
    name="imagewizard",
    help="ImageWizard: repair, enhance and measure images.\n\nRun `imagewizard demo` for a tour; "
    "`imagewizard methods` lists every method with its parameters.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="markdown",
    pretty_exceptions_enable=False,
)


def _console(stderr: bool = False):
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, soft_wrap=True)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"imagewizard {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    verbose: bool = typer.Option(False, "--verbose", "-v", help="show tracebacks on errors"),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="print the version"),
) -> None:
    """ImageWizard: repair, enhance and measure images."""


def _read(path: Path):
    from imagewizard.io import read

    return read(path)


def _write(path: Path, img, like, overwrite: bool, **kw) -> Path:
    from imagewizard.io import write

    return write(path, img, like=like, overwrite=overwrite, **kw)


def _check_output(path: Path, input: Path | None = None, overwrite: bool = False, what: str = "output") -> Path:
    """An image output checked before any work (format, not an input unless --overwrite, folder)."""
    from imagewizard.io import check_image_output

    return check_image_output(path, what=what, replace=input if overwrite else None)


def _sigma_arg(sigma: Optional[str]) -> Any:
    """--sigma as given on the command line: None, 'auto' or a number on the 0..255 scale, checked now."""
    from imagewizard.api import resolve_sigma
    from imagewizard.core.errors import ParameterError

    if sigma is None or str(sigma).strip().lower() == "auto":
        return sigma
    try:
        value = float(sigma)
    except ValueError:
        raise ParameterError(f"--sigma must be a number on the 0..255 scale or 'auto', got {sigma!r}") from None
    return resolve_sigma(None, value)


def _params_text(params) -> str:
    from imagewizard.core.registry import params_text

    return params_text(params)


def _task_epilog(task: str) -> str:
    """Help text listing the task's methods and parameters, generated from the registry."""
    from imagewizard.core import registry

    lines = [f"Methods (`imagewizard methods --task {task}` for details):", ""]
    for m in registry.methods(task):
        flag = f"  [{m.unavailable_flag()}]" if not m.available() else ""
        lines.append(f"* **{m.name}**: {m.summary}{flag}")
        if m.params:
            lines.append(f"  params: {_params_text(m.params)}")
    return "\n\n".join(lines)


def _report(console, record: dict[str, Any], as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(record, default=float))
        return
    msg = (
        f"{record['task']}: {record['method']} on {record['input']} "
        f"in {record['seconds']:.2f} s ({record['megapixels_per_second']:.2f} MP/s"
        + (
            f", {record['output_megapixels_per_second']:.2f} output MP/s"
            if "output_megapixels_per_second" in record
            else ""
        )
        + ")"
    )
    if record.get("sigma") is not None:
        msg += f", sigma {record['sigma']:.2f}" + (" (estimated)" if record.get("sigma_estimated") else "")
    console.print(msg)
    if "after" in record and "before" not in record:
        a = record["after"]
        console.print(f"  vs reference ({record['scored']}): PSNR {a['psnr']:.2f} dB, SSIM {a['ssim']:.4f}")
    if "before" in record:
        b, a = record["before"], record["after"]
        console.print(
            f"  vs reference: PSNR {b['psnr']:.2f} -> {a['psnr']:.2f} dB, "
            f"SSIM {b['ssim']:.4f} -> {a['ssim']:.4f}, MSE {b['mse']:.6f} -> {a['mse']:.6f}"
        )
    console.print(f"  wrote {record['output']}")


def region_weight(spec: str, shape: tuple[int, int], *, feather: float = 2.0):
    """``LABELS.png:3`` or ``LABELS.png:3,5`` (a label map from ``imagewizard segment``) as a weight
    map: 1 inside those regions, 0 outside, the edge smoothed over ``feather`` pixels."""
    import numpy as np
    from scipy.ndimage import gaussian_filter

    from imagewizard.core.errors import ParameterError
    from imagewizard.io.files import protect
    from imagewizard.io.labels import read_labels

    path, sep, ids = str(spec).rpartition(":")
    try:
        wanted = [int(v) for v in ids.split(",") if v.strip()] if sep else []
    except ValueError:
        wanted = []
    if not path or not wanted:
        raise ParameterError(f"--region {spec}: give LABELS.png:ID[,ID...] (a label map and region numbers)")
    protect(path)
    labels = read_labels(path)
    if labels.shape != tuple(shape):
        raise ParameterError(f"--region {path} is {labels.shape[1]}x{labels.shape[0]}, the image {shape[1]}x{shape[0]}")
    mask = np.isin(labels, wanted)
    if not mask.any():
        raise ParameterError(
            f"--region {spec}: no pixel has label {', '.join(map(str, wanted))} (labels 1..{labels.max()})"
        )
    return np.clip(gaussian_filter(mask.astype(np.float32), feather), 0.0, 1.0) if feather else mask.astype(np.float32)


def _run_task(
    task: str,
    input: Path,
    output: Path,
    method: str,
    sigma: Optional[str],
    params: List[str] | None,
    overwrite: bool,
    ref: Optional[Path],
    as_json: bool,
    *,
    quality: Optional[int] = None,
    subsampling: Optional[str] = None,
    strength: Optional[float] = None,
    region: Optional[str] = None,
    **extra: Any,
) -> None:
    from imagewizard.core import registry
    from imagewizard.api import apply, sigma_for
    from imagewizard.core.arrays import split_alpha

    from imagewizard.core.errors import ParameterError

    from imagewizard.core.task import task_or_generic

    t = task_or_generic(task)
    m = registry.get(task, method)
    kv = registry.parse_assignments(params or [])
    m.check_available(kv)
    m.bind(kv)  # validate parameters before reading anything
    if strength is not None:
        from imagewizard.api import check_strength

        strength = check_strength(strength, "--strength")
    sigma = _sigma_arg(sigma)
    if sigma is not None and m.sigma == "none":
        raise ParameterError(f"method '{m.name}' does not use a noise level; drop --sigma")
    for what, value in extra.items():
        if value is None and what in m.needs:
            raise ParameterError(f"method '{m.name}' needs {t.input(what).cli_needs}")
        if value is not None and what not in m.needs | m.accepts:
            raise ParameterError(f"method '{m.name}' does not use --{what}; drop it")
    _check_output(output, input, overwrite)
    img, meta = _read(input)
    weight = None
    if region is not None:
        if t.output != "same-shape image":
            raise ParameterError(f"--region works for tasks that keep the image size, not {task}")
        weight = region_weight(region, img.shape[:2])
    estimated = (
        m.sigma != "none"
        and (sigma is None or str(sigma).lower() == "auto")
        and not (m.sigma == "optional" and sigma is None)
    )
    sigma_value = sigma_for(m, split_alpha(img)[0], sigma)
    t0 = time.perf_counter()
    from imagewizard.cli.progress import progress_bar

    with progress_bar(f"{task} {method}"):
        out = apply(task, img, method, sigma=sigma_value, strength=strength, **extra, **kv)
    seconds = time.perf_counter() - t0
    if weight is not None:  # the change kept inside the region, its edge feathered
        import numpy as np

        w = weight[..., None] if out.ndim == 3 else weight
        out = (img + w * (out - img)).astype(np.float32)
    path = _write(output, out, meta, overwrite, quality=quality, subsampling=subsampling)
    record: dict[str, Any] = {
        "task": task,
        "method": method,
        "input": str(input),
        "output": str(path),
        "params": m.bind(kv),
        "sigma": sigma_value,
        "sigma_estimated": estimated,
        **({"strength": strength} if strength is not None else {}),
        **({"region": region} if region is not None else {}),
        "seconds": seconds,
        "megapixels_per_second": img.shape[0] * img.shape[1] / 1e6 / max(seconds, 1e-9),
    }
    if out.shape[:2] != img.shape[:2]:  # another output size (upscale): speed in output pixels, as papers give it
        record["output_megapixels_per_second"] = out.shape[0] * out.shape[1] / 1e6 / max(seconds, 1e-9)
    if ref is not None:
        from imagewizard.analysis.metrics import compare
        from imagewizard.core.task import get_task

        clean, _ = _read(ref)
        if out.shape[:2] == img.shape[:2]:
            record["before"] = compare(clean, img)
            record["after"] = compare(clean, out)
        else:  # scored the task's way (upscale: Y channel, border of `scale`), the reference cropped to fit
            h, w = out.shape[:2]
            if clean.shape[0] < h or clean.shape[1] < w:
                from imagewizard.core.errors import ParameterError

                raise ParameterError(f"--ref is {clean.shape[1]}x{clean.shape[0]}, smaller than the result {w}x{h}")
            scale = round(h / img.shape[0])
            record["after"] = get_task(task).scorer()(clean[:h, :w], split_alpha(out)[0], scale=scale)
            record["scored"] = f"Y channel of YCbCr, border of {scale} px removed (super-resolution protocol)"
    _report(_console(), record, as_json)


_OUT = typer.Option(..., "--output", "-o", help="output image (format from the extension)")


_OVERWRITE = typer.Option(False, "--overwrite", help="allow the output to replace the input file")


_SIGMA = typer.Option(None, "--sigma", "-s", help="noise std on the 0..255 scale, or 'auto' to estimate it")


_REF = typer.Option(None, "--ref", help="clean reference image: report PSNR/SSIM/MSE before and after")


_JSON = typer.Option(False, "--json", help="print a JSON record instead of text")
_REGION = typer.Option(
    None, "--region", help="only change these regions: LABELS.png:ID[,ID] (a label map from `imagewizard segment`)"
)


_QUALITY = typer.Option(
    None,
    "--quality",
    "-q",
    min=1,
    max=100,
    help="JPEG/WebP quality 1-100 (default: a JPEG input's own quality, at least 75; else 95)",
)


_STRENGTH = typer.Option(
    None,
    "--strength",
    help="0 = off, 1 = as measured (default), above 1 = stronger (up to 4): scales the noise level, "
    "or the change for methods without one",
)


_SUBSAMPLING = typer.Option(
    None,
    "--subsampling",
    help="JPEG chroma subsampling 4:4:4, 4:2:2 or 4:2:0 (default: a JPEG input's own; else 4:4:4 from quality 90)",
)


_PARAMS = typer.Argument(None, help="method parameters as name=value (see the list below)", show_default=False)


def _json_default(o):
    import numpy as np

    if isinstance(o, (np.generic,)):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, dict):
        return ", ".join(f"{k}={_fmt(x)}" for k, x in v.items())
    if isinstance(v, (list, tuple)):
        return ", ".join(_fmt(x) for x in v)
    return str(v)
