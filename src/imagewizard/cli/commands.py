"""The ``imagewizard`` command line (Typer + Rich).

Every error a user can cause is printed as one line on stderr (``error:
...``) with exit code 1, or 2 for usage errors; ``--verbose`` shows the
traceback. Task commands (denoise, deblur, inpaint, enhance) take their
methods and parameters from the registry.
"""

from __future__ import annotations

import json
import sys
import time
from contextlib import contextmanager
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


# --------------------------------------------------------------------------- helpers


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
        flag = "" if m.available() else f"  [needs extra: {m.extra or ', '.join(m.requires)}]"
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
        f"in {record['seconds']:.2f} s ({record['megapixels_per_second']:.2f} MP/s)"
    )
    if record.get("sigma") is not None:
        msg += f", sigma {record['sigma']:.2f}" + (" (estimated)" if record.get("sigma_estimated") else "")
    console.print(msg)
    if "before" in record:
        b, a = record["before"], record["after"]
        console.print(
            f"  vs reference: PSNR {b['psnr']:.2f} -> {a['psnr']:.2f} dB, "
            f"SSIM {b['ssim']:.4f} -> {a['ssim']:.4f}, MSE {b['mse']:.6f} -> {a['mse']:.6f}"
        )
    console.print(f"  wrote {record['output']}")


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
    **extra: Any,
) -> None:
    from imagewizard.core import registry
    from imagewizard.api import apply, sigma_for
    from imagewizard.core.arrays import split_alpha

    from imagewizard.core.errors import ParameterError

    from imagewizard.core.task import task_or_generic

    t = task_or_generic(task)
    m = registry.get(task, method)
    m.check_available()
    kv = registry.parse_assignments(params or [])
    m.bind(kv)  # validate parameters before reading anything
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
    estimated = (
        m.sigma != "none"
        and (sigma is None or str(sigma).lower() == "auto")
        and not (m.sigma == "optional" and sigma is None)
    )
    sigma_value = sigma_for(m, split_alpha(img)[0], sigma)
    t0 = time.perf_counter()
    out = apply(task, img, method, sigma=sigma_value, **extra, **kv)
    seconds = time.perf_counter() - t0
    path = _write(output, out, meta, overwrite)
    record: dict[str, Any] = {
        "task": task,
        "method": method,
        "input": str(input),
        "output": str(path),
        "params": m.bind(kv),
        "sigma": sigma_value,
        "sigma_estimated": estimated,
        "seconds": seconds,
        "megapixels_per_second": img.shape[0] * img.shape[1] / 1e6 / max(seconds, 1e-9),
    }
    if ref is not None:
        from imagewizard.analysis.metrics import compare

        clean, _ = _read(ref)
        record["before"] = compare(clean, img)
        record["after"] = compare(clean, out)
    _report(_console(), record, as_json)


_OUT = typer.Option(..., "--output", "-o", help="output image (format from the extension)")
_OVERWRITE = typer.Option(False, "--overwrite", help="allow the output to replace the input file")
_SIGMA = typer.Option(None, "--sigma", "-s", help="noise std on the 0..255 scale, or 'auto' to estimate it")
_REF = typer.Option(None, "--ref", help="clean reference image: report PSNR/SSIM/MSE before and after")
_JSON = typer.Option(False, "--json", help="print a JSON record instead of text")
_PARAMS = typer.Argument(None, help="method parameters as name=value (see the list below)", show_default=False)


def _method_option(task: str):
    from imagewizard.api import DEFAULT_METHODS

    return typer.Option(DEFAULT_METHODS[task], "--method", "-m", help=f"{task} method (listed below)")


def _task_command(task) -> Any:
    """The CLI command of a declared task: input, method parameters, -o, its inputs, --method, ..."""
    import inspect

    P = inspect.Parameter

    def opt(name: str, default: Any, annotation: Any) -> inspect.Parameter:
        return P(name, P.KEYWORD_ONLY, default=default, annotation=annotation)

    params = [
        opt("input", typer.Argument(..., help="input image"), Path),
        opt("params", _PARAMS, Optional[List[str]]),
        opt("output", _OUT, Path),
    ]
    inputs = []
    for i in task.inputs:
        flags = [i.cli_flag] + ([i.cli_short] if i.cli_short else [])
        kind = Path if i.files else str
        default = typer.Option(... if i.required else None, *flags, help=i.cli_help)
        inputs.append((i, opt(i.name, default, kind if i.required else Optional[kind])))
    params += [p for i, p in inputs if i.primary]
    params.append(opt("method", _method_option(task.name), str))
    if task.sigma:
        params.append(opt("sigma", _SIGMA, Optional[str]))
    params += [p for i, p in inputs if not i.primary]
    params += [opt("ref", _REF, Optional[Path]), opt("overwrite", _OVERWRITE, bool), opt("as_json", _JSON, bool)]

    def command(**kw: Any) -> None:
        extra = {i.name: kw[i.name] for i in task.inputs}
        _run_task(
            task.name,
            kw["input"],
            kw["output"],
            kw["method"],
            kw.get("sigma"),
            kw["params"],
            kw["overwrite"],
            kw["ref"],
            kw["as_json"],
            **extra,
        )

    command.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    command.__name__ = task.name.replace("-", "_")
    command.__doc__ = task.summary
    return command


_MOUNTED: set[str] = set()


def _mount_task_commands() -> None:
    """One command per declared task; a task with its own command (enhance) names it in ``Task.cli``."""
    import importlib

    from imagewizard.core.task import all_tasks

    for t in all_tasks():
        if t.name in _MOUNTED:
            continue
        _MOUNTED.add(t.name)
        epilog = f"Example: `{t.example}`" if t.example else None
        if t.cli:
            module, _, attr = t.cli.partition(":")
            func = getattr(importlib.import_module(module), attr, None) if module != __name__ else globals().get(attr)
            if func is None:  # defined further down this module; registered there
                continue
            app.command(t.name, epilog=epilog)(func)
        else:
            app.command(t.name, epilog=epilog)(_task_command(t))


_mount_task_commands()


@app.command(
    epilog="""
Examples:

    imagewizard enhance photo.jpg -o better.jpg                 # the wizard decides (see --dry-run)

    imagewizard enhance photo.jpg -o better.jpg --dry-run --explain

    imagewizard enhance photo.jpg -o better.jpg --save-plan plan.yaml   # replay with: imagewizard run plan.yaml

    imagewizard enhance dull.png -o better.png --method clahe clip_limit=3
"""
)
def enhance(
    input: Path = typer.Argument(..., help="input image"),
    params: Optional[List[str]] = _PARAMS,
    output: Path = _OUT,
    method: Optional[str] = typer.Option(
        None, "--method", "-m", help="enhance method (listed below); none: the wizard decides"
    ),
    reference: Optional[Path] = typer.Option(None, "--reference", help="reference image (histogram matching)"),
    dry_run: bool = typer.Option(False, "--dry-run", help="wizard: print the plan only"),
    explain: bool = typer.Option(False, "--explain", help="wizard: also print the measurements"),
    save_plan: Optional[Path] = typer.Option(None, "--save-plan", help="wizard: write the plan (YAML/JSON)"),
    ref: Optional[Path] = _REF,
    overwrite: bool = _OVERWRITE,
    as_json: bool = _JSON,
) -> None:
    """Improve an image: with no --method the wizard analyses it, plans the steps and runs them."""
    from imagewizard.core.errors import ParameterError

    if method is not None:
        if dry_run or explain or save_plan:
            raise ParameterError("--dry-run, --explain and --save-plan are for the wizard (no --method)")
        _run_task("enhance", input, output, method, None, params, overwrite, ref, as_json, reference=reference)
        return
    if params:
        raise ParameterError("method parameters need --method; the wizard chooses its own")
    _run_wizard(
        input,
        output,
        dry_run=dry_run,
        explain=explain,
        save_plan=save_plan,
        ref=ref,
        overwrite=overwrite,
        as_json=as_json,
    )


def _run_wizard(
    input: Path,
    output: Path,
    *,
    dry_run: bool,
    explain: bool,
    save_plan: Optional[Path],
    ref: Optional[Path],
    overwrite: bool,
    as_json: bool,
) -> None:
    from imagewizard.core.arrays import split_alpha
    from imagewizard.run.wizard import plan

    from imagewizard.run.pipeline import PIPELINE_SUFFIXES

    if save_plan is not None:
        from imagewizard.core.errors import ParameterError
        from imagewizard.io.files import check_output

        if save_plan.suffix.lower() not in PIPELINE_SUFFIXES:
            raise ParameterError(f"--save-plan {save_plan}: use a .yaml, .yml or .json file name")
        check_output(save_plan, what="plan")
    if not dry_run:
        _check_output(output, input, overwrite)
    img, meta = _read(input)
    decided = plan(split_alpha(img)[0])
    record: dict[str, Any] = {
        "input": str(input),
        "plan": decided.pipeline.to_dict() if decided.pipeline else None,
        "reasons": decided.reasons,
        "not_done": decided.skipped,
    }
    if explain:
        record["measurements"] = decided.analysis
    if save_plan is not None and decided.pipeline is not None:
        record["plan_file"] = str(decided.pipeline.save(save_plan))
    console = _console()
    if not as_json:
        if decided.pipeline is None:
            console.print("plan: nothing to do", highlight=False)
        else:
            console.print("plan:", highlight=False)
            for i, (s, why) in enumerate(zip(decided.pipeline.steps, decided.reasons), 1):
                console.print(f"  {i}. {s.task} {s.method}: {why}", highlight=False, markup=False)
        for line in decided.skipped:
            console.print(f"  - {line}", highlight=False, markup=False)
        if explain:
            console.print(
                "measurements: "
                + ", ".join(f"{k}={_fmt(v)}" for k, v in decided.analysis.items() if not isinstance(v, (dict, list))),
                highlight=False,
            )
        if save_plan is not None and decided.pipeline is not None:
            console.print(f"wrote plan {record['plan_file']}", highlight=False)
    if not dry_run:
        t0 = time.perf_counter()
        out, steps = decided.pipeline.run(img, source=input) if decided.pipeline else (img, [])
        record.update(seconds=time.perf_counter() - t0, steps=steps)
        record["output"] = str(_write(output, out, meta, overwrite))
        if ref is not None:
            from imagewizard.analysis.metrics import compare

            clean, _ = _read(ref)
            record["before"], record["after"] = compare(clean, img), compare(clean, out)
        if not as_json:
            if ref is not None:
                b, a = record["before"], record["after"]
                console.print(
                    f"  vs reference: PSNR {b['psnr']:.2f} -> {a['psnr']:.2f} dB, "
                    f"SSIM {b['ssim']:.4f} -> {a['ssim']:.4f}",
                    highlight=False,
                )
            console.print(f"wrote {record['output']}  ({record['seconds']:.2f} s)", highlight=False)
    if as_json:
        typer.echo(json.dumps(record, default=_json_default))


def _task_commands() -> tuple[str, ...]:
    from imagewizard.core.task import task_names

    return task_names()


# --------------------------------------------------------------------------- methods


@app.command(epilog="Example: `imagewizard tasks --json`")
def tasks(as_json: bool = typer.Option(False, "--json", help="print the declarations as JSON")) -> None:
    """List the tasks: what each takes besides the image, what it returns, how it is scored."""
    from imagewizard.core import registry
    from imagewizard.core.task import all_tasks

    rows = []
    for t in all_tasks():
        d = t.as_dict()
        d["methods"] = [m.name for m in registry.methods(t.name)]
        rows.append(d)
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    console = _console()
    for d in rows:
        inputs = ", ".join(i["cli"] for i in d["inputs"]) or "none"
        console.print(f"[bold]{d['name']}[/bold]: {d['summary']}", highlight=False)
        console.print(
            f"  takes: the image{' and ' + inputs if d['inputs'] else ''}"
            f"{'; a noise level (--sigma, 0..255)' if d['sigma'] else ''}; returns: {d['output']}; "
            f"scored by {', '.join(d['metrics'])}",
            highlight=False,
        )
        console.print(
            f"  methods ({len(d['methods'])}, default {d['default_method']}): {', '.join(d['methods'])}",
            highlight=False,
        )


@app.command()
def methods(
    task: Optional[str] = typer.Option(None, "--task", "-t", help="only this task"),
    as_json: bool = typer.Option(False, "--json", help="print JSON"),
) -> None:
    """List the registered methods with their parameters."""
    from imagewizard.core import registry
    from imagewizard.core.errors import ParameterError

    if task is not None and task not in registry.tasks():
        raise ParameterError(f"unknown task '{task}' (known: {', '.join(registry.tasks())})")
    ms = registry.methods(task)
    if as_json:
        typer.echo(json.dumps([m.describe() for m in ms], indent=2))
        return
    from rich.markup import escape
    from rich.table import Table

    table = Table(show_lines=False, header_style="bold")
    for col in ("task", "method", "what it does", "sigma", "needs", "parameters (default [range])"):
        table.add_column(escape(col), overflow="fold")
    for m in ms:
        summary = m.summary + (f" ({m.note})" if m.note else "")
        if not m.available():
            summary += f" [not installed: pip install 'imagewizard[{m.extra}]']" if m.extra else " [unavailable]"
        cells = (m.task, m.name, summary, m.sigma, ",".join(sorted(m.needs)) or "-", _params_text(m.params) or "-")
        table.add_row(*(escape(c) for c in cells))  # brackets are text here, not Rich markup
    _console().print(table)


@app.command()
def models(
    as_json: bool = typer.Option(False, "--json", help="print the full model cards as JSON"),
    archs: bool = typer.Option(
        False,
        "--archs",
        help="list the architectures `imagewizard train denoiser --arch` can build, with their default settings",
    ),
) -> None:
    """List the trained models in the zoo (package weights and $IMAGEWIZARD_WEIGHTS) with their cards."""
    from imagewizard.models import zoo

    if archs:
        from imagewizard.models.archs import ARCHS

        for name, (_build, cfg, summary) in ARCHS.items():  # restorers first, then the generators
            settings = " ".join(f"{k}={','.join(map(str, v)) if isinstance(v, tuple) else v}" for k, v in cfg.items())
            _console().print(f"{name:8s} {summary}\n         defaults: {settings}", highlight=False, markup=False)
        return

    cards = zoo.cards(family="restoration")
    if as_json:
        cards = zoo.cards()
        typer.echo(json.dumps(cards, indent=2, default=str))
        return
    console = _console()
    if not cards:
        where = ", ".join(str(d) for d in zoo.weight_dirs())
        console.print(
            f"no trained models found (looked in {where}); train one with `imagewizard train denoiser`", highlight=False
        )
        return
    from rich.markup import escape
    from rich.table import Table

    table = Table(header_style="bold")
    # names are what users type: never shortened, even on a narrow terminal
    table.add_column("name", no_wrap=True, min_width=max(len(c["name"]) for c in cards))
    for col in ("method", "arch", "channels", "sigma", "MB", "steps", "train hours", "val PSNR s15/25/50 (dB)"):
        table.add_column(col)
    for c in cards:
        sig, val = c.get("sigma_range"), c.get("validation") or {}
        psnrs = "/".join(f"{val[k]:.2f}" for k in ("psnr_s15", "psnr_s25", "psnr_s50") if k in val) or "?"
        cells = (
            c["name"],
            c.get("method", c.get("arch", "?")),
            c.get("arch", "?"),
            c.get("channels", "?"),
            f"{sig[0]:g}-{sig[1]:g}" if sig else "?",
            f"{c['bytes'] / 1e6:.1f}",
            c.get("steps", "?"),
            c.get("wall_time_hours", "?"),
            psnrs,
        )
        table.add_row(*(escape(str(x)) for x in cells))
    console.print(table)
    _print_generators(console)


def _print_generators(console) -> None:
    """The generation models (`imagewizard generate`) with their cards' headline numbers."""
    from rich.markup import escape
    from rich.table import Table

    from imagewizard.models.generators import SHIPPED, shipped_path

    table = Table(header_style="bold", title="generation models (imagewizard generate)")
    table.add_column("name", no_wrap=True, min_width=max(len(n) for n in SHIPPED.values()))
    for col in ("arch", "data", "MB", "steps", "train minutes", "digit-classifier score"):
        table.add_column(col)
    for arch, name in SHIPPED.items():
        path = shipped_path(arch)
        if not path.is_file():
            continue
        card_path = path.with_suffix(".json")
        c = json.loads(card_path.read_text()) if card_path.is_file() else {}
        score = (c.get("quality") or {}).get("digit_classifier_score") or {}
        cells = (
            name,
            arch,
            (c.get("data") or {}).get("name", "?"),
            f"{path.stat().st_size / 1e6:.1f}",
            c.get("steps", "?"),
            f"{c['wall_seconds'] / 60:.1f}" if "wall_seconds" in c else "?",
            f"{score['confident']:.1%} confident" if "confident" in score else "?",
        )
        table.add_row(*(escape(str(x)) for x in cells))
    if table.row_count:
        console.print(table)


# --------------------------------------------------------------------------- degrade


@app.command(
    epilog="""
Examples:

    imagewizard degrade clean.png -o noisy.png --noise gaussian:25 --seed 0

    imagewizard degrade clean.png -o shaky.png --blur motion:15,30 --noise gaussian:2

    imagewizard degrade clean.png -o noisy.npy --noise gaussian:25 --float   # unclipped (benchmark protocol)

    imagewizard degrade clean.png -o damaged.png --mask text   # also writes damaged-mask.png
"""
)
def degrade(
    input: Path = typer.Argument(..., help="clean input image"),
    output: Path = _OUT,
    noise: Optional[List[str]] = typer.Option(
        None, "--noise", "-n", help="noise spec, repeatable: gaussian:25, salt-pepper:0.1,0.5, speckle:0.2, poisson:30"
    ),
    blur: Optional[str] = typer.Option(
        None, "--blur", "-b", help="blur kernel spec or file: gaussian:2, motion:15,30, disk:4, box:5"
    ),
    mask: Optional[str] = typer.Option(None, "--mask", help="damage: pixels:0.5, lines:8,5, box:0.25, text[:WORDS]"),
    jpeg: Optional[int] = typer.Option(None, "--jpeg", help="JPEG quality 1..100"),
    downscale: Optional[int] = typer.Option(None, "--downscale", help="bicubic downscale factor 2, 3 or 4"),
    contrast: Optional[float] = typer.Option(
        None, "--contrast", help="contrast factor in (0, 1]: tones pulled toward mid-grey (haze, flat scan)"
    ),
    seed: int = typer.Option(0, "--seed", help="random seed"),
    as_float: bool = typer.Option(
        False,
        "--float",
        help="keep the result unclipped in float (write .npy or .tif); "
        "default: clipped and quantized to 8-bit levels like a real file",
    ),
    overwrite: bool = _OVERWRITE,
) -> None:
    """Damage an image in a controlled, seeded way (to test restoration)."""
    from imagewizard.physics.degrade import degrade as run_degrade
    from imagewizard.core.errors import ParameterError
    from imagewizard.physics.kernels import save_kernel

    if as_float and output.suffix.lower() not in (".npy", ".tif", ".tiff"):
        raise ParameterError(f"{output}: --float keeps values outside [0, 1]; write to .npy or .tif")
    if not (noise or blur or mask or jpeg or downscale or contrast):
        raise ParameterError(
            "nothing to do: give at least one of --noise, --blur, --mask, --jpeg, --downscale, --contrast"
        )
    if downscale is not None and downscale not in (2, 3, 4):
        raise ParameterError(f"--downscale must be 2, 3 or 4, got {downscale}")
    if jpeg is not None and not 1 <= jpeg <= 100:
        raise ParameterError(f"--jpeg must be a quality from 1 to 100, got {jpeg}")
    from imagewizard.io.files import check_output

    _check_output(output, input, overwrite)
    mask_path = output.with_name(output.stem + "-mask.png")
    kernel_path = output.with_name(output.stem + "-kernel.npy")
    if mask:  # derived names: checked now, so that no work is wasted and no input is touched
        check_output(mask_path, what="mask")
    if blur:
        check_output(kernel_path, what="kernel file")
    img, meta = _read(input)
    res = run_degrade(
        img,
        noise=noise or (),
        blur=blur,
        mask=mask,
        jpeg=jpeg,
        downscale=downscale,
        contrast=contrast,
        seed=seed,
        protocol="float" if as_float else "uint8",
    )
    like = meta if res.image.shape[:2] == img.shape[:2] else None
    path = _write(
        output,
        res.image,
        like,
        overwrite,
        **({"bit_depth": 32} if as_float and output.suffix.lower() != ".npy" else {}),
    )
    console = _console()
    console.print(
        f"degraded {input}: " + "; ".join(res.steps) + f" (seed {seed}, {'float' if as_float else 'uint8'} protocol)"
    )
    console.print(f"  wrote {path}")
    if res.mask is not None:
        mpath = _write(mask_path, res.mask.astype("float32"), None, False)
        console.print(f"  wrote {mpath} (white = missing pixels)")
    if res.kernel is not None:
        kpath = save_kernel(kernel_path, res.kernel)
        console.print(f"  wrote {kpath} (the exact blur kernel)")
    if meta is not None and like is None:
        console.print("  note: size changed, so metadata was not copied")


# --------------------------------------------------------------------------- measure


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


@app.command("estimate-noise")
def estimate_noise(
    img: Path = typer.Argument(..., help="image file"), as_json: bool = typer.Option(False, "--json", help="print JSON")
) -> None:
    """Estimate the noise level (sigma on 0..255) and, where it can tell, the noise type."""
    from imagewizard.core.arrays import split_alpha
    from imagewizard.analysis.estimate import noise_sigma, noise_type

    arr, _ = _read(img)
    arr = split_alpha(arr)[0]
    sigma = float(noise_sigma(arr))
    kind, evidence = noise_type(arr)
    if as_json:
        typer.echo(json.dumps({"sigma": sigma, "type": kind, "evidence": evidence}, default=_json_default))
        return
    console = _console()
    console.print(f"sigma  {sigma:.2f}  (Gaussian-equivalent std on the 0..255 scale)")
    brief = {k: v for k, v in evidence.items() if k != "levels"}  # per-intensity levels: --json has them
    console.print(f"type   {kind}  ({_fmt(brief)})")


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


# --------------------------------------------------------------------------- pipelines and batch

_PIPELINE_EPILOG = """
A pipeline file (YAML or JSON) lists steps, each a registered method:

    steps:
      - {task: denoise, method: median, params: {size: 3}}
      - {task: denoise, method: nlm, sigma: auto}
      - {task: enhance, method: clahe, params: {clip_limit: 2.0}}

'task' may be left out when the method name is unique; 'kernel' (spec or file), 'mask' and
'reference' (files; {stem} is the input's name) go to the methods that use them.
"""


@app.command(
    "run",
    epilog=_PIPELINE_EPILOG
    + """
Example:

    imagewizard run cleanup.yaml scan.png -o scan-clean.png
""",
)
def run_pipeline(
    pipeline: Path = typer.Argument(..., help="pipeline file (.yaml, .yml or .json)"),
    input: Path = typer.Argument(..., help="input image"),
    output: Path = _OUT,
    overwrite: bool = _OVERWRITE,
    as_json: bool = _JSON,
) -> None:
    """Run a pipeline of registered methods on one image."""
    from imagewizard.run.pipeline import Pipeline

    p = Pipeline.load(pipeline)  # validate before reading the image
    _check_output(output, input, overwrite)
    img, meta = _read(input)
    t0 = time.perf_counter()
    out, steps = p.run(img, source=input)
    seconds = time.perf_counter() - t0
    path = _write(output, out, meta, overwrite)
    record = {"pipeline": str(pipeline), "input": str(input), "output": str(path), "seconds": seconds, "steps": steps}
    if as_json:
        typer.echo(json.dumps(record, default=_json_default))
        return
    console = _console()
    for s in steps:
        sig = f", sigma {s['sigma']:.2f}" if s.get("sigma") is not None else ""
        console.print(f"{s['step']}. {s['task']} {s['method']}{sig}  ({s['seconds']:.2f} s)", highlight=False)
    console.print(f"wrote {path}  ({seconds:.2f} s)", highlight=False)


@app.command(
    epilog=_PIPELINE_EPILOG
    + """
Examples:

    imagewizard batch photos/ better/ --workers 2          # the wizard plans and repairs each photo

    imagewizard batch photos/ cleaned/ --method nlm --workers 2

    imagewizard batch scans/ out/ --pipeline cleanup.yaml --pattern '*.tif'

    imagewizard batch /shared/in /shared/out --method unet --cluster tcp://scheduler:8786

    imagewizard batch photos/ cleaned/ --method nlm --cluster local:4

Images whose output exists are skipped, so running the same command again resumes after a
crash or Ctrl-C; failed images are logged in OUT_DIR/imagewizard-batch.jsonl and retried.
"""
)
def batch(
    in_dir: Path = typer.Argument(..., help="folder of input images"),
    out_dir: Path = typer.Argument(..., help="output folder (mirrors the input tree)"),
    pipeline: Optional[Path] = typer.Option(None, "--pipeline", "-p", help="pipeline file to run"),
    method: Optional[str] = typer.Option(None, "--method", "-m", help="a single method to run instead"),
    task: Optional[str] = typer.Option(None, "--task", help="the method's task, if its name is ambiguous"),
    sigma: Optional[str] = _SIGMA,
    params: Optional[List[str]] = typer.Argument(
        None, help="method parameters as name=value (with --method)", show_default=False
    ),
    workers: int = typer.Option(1, "--workers", "-w", min=1, help="worker processes"),
    cluster: Optional[str] = typer.Option(
        None,
        "--cluster",
        help="run on a Dask cluster: tcp://HOST:8786 (a running scheduler; workers must see both folders) or local:N",
    ),
    recursive: bool = typer.Option(True, "--recursive/--no-recursive", help="descend into sub-folders"),
    pattern: Optional[str] = typer.Option(None, "--pattern", help="only files matching this glob"),
    as_json: bool = typer.Option(False, "--json", help="print the summary as JSON"),
) -> None:
    """Run the wizard, a pipeline or one method over a folder of images, resumably.

    With neither --pipeline nor --method the wizard analyses each image and runs the plan it needs;
    the plan and its reasons go in that image's line of the log.
    """
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    from imagewizard.core import registry
    from imagewizard.run.batch import plan_jobs, run_batch
    from imagewizard.core.errors import ParameterError
    from imagewizard.run.pipeline import Pipeline, single_step

    if pipeline is not None and method is not None:
        raise ParameterError(
            "give exactly one of --pipeline and --method, or neither (the wizard then plans each image)"
        )
    if cluster is not None and workers != 1:
        raise ParameterError("give --workers or --cluster, not both (a cluster has its own workers)")
    if cluster is not None:
        from imagewizard.run.cluster import parse_cluster

        parse_cluster(cluster)
    if pipeline is not None:
        if params or sigma is not None:
            raise ParameterError("method parameters and --sigma go in the pipeline file when --pipeline is used")
        p = Pipeline.load(pipeline)
    elif method is not None:
        p = single_step(method, task=task, params=registry.parse_assignments(params or []), sigma=_sigma_arg(sigma))
    else:  # neither: the main job, the wizard's own analysis and plan for every image
        if params or sigma is not None or task is not None:
            raise ParameterError("method parameters, --sigma and --task need --method; the wizard chooses its own")
        p = None
    for s in p.steps if p is not None else []:  # an unavailable method fails now, not once per image
        registry.get(s.task, s.method).check_available()
    todo, done = plan_jobs(in_dir, out_dir, recursive=recursive, pattern=pattern)
    console = _console()
    err_console = _console(stderr=True)
    # a bar is for a person at a terminal; in a log it is noise
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err_console,
        disable=as_json or not err_console.is_terminal,
    ) as bar:
        tid = bar.add_task(f"batch ({len(done)} already done)", total=len(todo))

        def tick(rec: dict[str, Any], finished: int, total: int) -> None:
            bar.update(tid, completed=finished)
            if rec["status"] != "ok":
                bar.console.print(f"failed: {rec['error']}", highlight=False, markup=False)

        summary = run_batch(
            in_dir, out_dir, p, workers=workers, recursive=recursive, pattern=pattern, cluster=cluster, progress=tick
        )
    if as_json:
        typer.echo(json.dumps(summary))
    else:
        console.print(
            f"{summary['ok']} done, {summary['error']} failed, {summary['skipped']} skipped (already done) "
            f"of {summary['total']} in {summary['seconds']:.1f} s; log: {summary['log']}",
            highlight=False,
        )
    if summary["error"]:
        typer.echo(
            f"error: {summary['error']} of {summary['total']} images failed (each named above; "
            f"run the command again to retry them)",
            err=True,
        )
        raise typer.Exit(1)


# --------------------------------------------------------------------------- demo and training


@app.command()
def demo(
    output: Path = typer.Option(Path("demo-output"), "--output", "-o", help="folder for the results"),
    quick: bool = typer.Option(False, "--quick", help="smaller image and only the fast methods"),
) -> None:
    """Degrade a bundled sample image several ways, restore it with every method, and write a report."""
    from imagewizard.demo import run_demo

    report = run_demo(output, quick=quick, console=_console())
    _console().print(f"\nreport: {report}  (and {report.with_suffix('.html')})")


#: Modules that add sub-commands: each has ``register(app)``. A new command group is one module
#: with that function and one line here (the task commands above come from the task declarations).
SUBCOMMAND_MODULES = ("imagewizard.cli.bench", "imagewizard.cli.train", "imagewizard.cli.generate")


def _register_subcommands() -> None:
    import importlib

    for name in SUBCOMMAND_MODULES:
        importlib.import_module(name).register(app)


_register_subcommands()


# --------------------------------------------------------------------------- entry point


def main(argv: list[str] | None = None) -> int:
    """Console-script entry point: one-line errors, exit 1 (2 for usage errors)."""
    from imagewizard.core.errors import ImageWizardError

    try:  # Typer >= 0.29 vendors Click
        from typer._click import exceptions as click_exc
    except ImportError:  # pragma: no cover - older Typer on Click
        from click import exceptions as click_exc

    args = list(sys.argv[1:] if argv is None else argv)
    verbose = "--verbose" in args or "-v" in args
    _mount_task_commands()  # tasks declared after this module was imported (plugins) get their command
    command = typer.main.get_command(app)
    if "--help" in args or "-h" in args:
        for name in _task_commands():
            if name in args and name in command.commands:
                command.commands[name].epilog = (command.commands[name].epilog or "") + "\n\n" + _task_epilog(name)
    from imagewizard.io.files import guard

    try:
        # every file named on the command line is an input: no write of this command may land on it
        with guard(command_line_inputs(args)), _warnings_one_line():
            # without standalone mode Click returns (not raises) the code of a typer.Exit
            rc = command.main(args=args, prog_name="imagewizard", standalone_mode=False)
        if isinstance(rc, int) and rc:
            return rc
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:
        typer.echo("error: aborted", err=True)
        return 130
    except click_exc.UsageError as exc:
        if verbose:
            raise
        hint = (
            f" (see 'imagewizard {exc.ctx.info_name} --help')" if exc.ctx and exc.ctx.info_name != "imagewizard" else ""
        )
        typer.echo(f"error: {exc.format_message()}{hint}", err=True)
        return 2
    except ImageWizardError as exc:
        if verbose:
            raise
        typer.echo(f"error: {exc}", err=True)
        return 1
    except KeyboardInterrupt:
        typer.echo("error: interrupted", err=True)
        return 130
    except MemoryError:
        if verbose:
            raise
        typer.echo("error: out of memory (try a smaller image, or fewer workers)", err=True)
        return 1
    except OSError as exc:  # the system refused something no check foresaw (a full disk, a vanished folder)
        if verbose:
            raise
        from imagewizard.io.files import _os_reason

        where = f" ({exc.filename})" if getattr(exc, "filename", None) else ""
        typer.echo(f"error: {_os_reason(exc)}{where}", err=True)
        return 1
    except Exception as exc:  # a bug: still one line unless --verbose, and no internal names
        if verbose:
            raise
        typer.echo(
            f"error: internal error ({internal_summary(exc)}); run again with --verbose for the "
            f"traceback and report it",
            err=True,
        )
        return 1
    return 0


#: Options whose value is written, not read (or, for --resume, the command's own state that it
#: rewrites as it goes): their values are not inputs.
OUTPUT_OPTIONS = frozenset({"-o", "--output", "--out", "--save-plan", "--resume"})


def command_line_inputs(args: list[str]) -> list[str]:
    """The files named on a command line, other than as an output option's value.

    Any argument that names an existing regular file is taken as an input: an image, a mask, a
    kernel, a reference, a pipeline. The guard then refuses every write onto one of them, by any
    spelling or link, whichever option or derived name (``{stem}-mask.png``) the write comes from.
    """
    import os

    found: list[str] = []
    skip = False
    for a in args:
        if skip:
            skip = False
            continue
        if a in OUTPUT_OPTIONS:
            skip = True
            continue
        if a.startswith("--") and "=" in a:
            name, a = a.split("=", 1)
            if name in OUTPUT_OPTIONS:
                continue
        elif a.startswith("-o") and len(a) > 2 and not a.startswith("--"):
            continue
        for candidate in {a, a.split(":", 1)[-1]}:  # a kernel given as file:path
            try:
                if candidate and len(candidate) < 4096 and os.path.isfile(candidate):
                    found.append(candidate)
            except (OSError, ValueError):
                pass
    return found


def internal_summary(exc: BaseException) -> str:
    """A bug's message in plain words for the one-line report: its first line, no class names."""
    from imagewizard.core.errors import plain_reason

    return plain_reason(exc, default="no details", limit=160)


@contextmanager
def _warnings_one_line():
    """ImageWizard's own warnings as one 'warning:' line each; libraries' warnings are not the user's business."""
    import warnings

    from imagewizard.core.errors import ImageWizardWarning

    said: set[str] = set()

    def show(message, category, filename, lineno, file=None, line=None):
        text = " ".join(str(message).split())
        if issubclass(category, ImageWizardWarning) and text not in said:  # once per command, not per image
            said.add(text)
            typer.echo(f"warning: {text}", err=True)

    saved = warnings.showwarning
    warnings.showwarning = show
    try:
        yield
    finally:
        warnings.showwarning = saved


if __name__ == "__main__":
    sys.exit(main())
