"""One command per declared task (``denoise``, ``deblur``, ``inpaint``, ...), made from the
declarations, and ``enhance`` with the wizard."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, List, Optional

import typer

from imagewizard.cli.app import (
    _JSON,
    _OUT,
    _OVERWRITE,
    _PARAMS,
    _QUALITY,
    _REF,
    _REGION,
    _STRENGTH,
    _SUBSAMPLING,
    _SIGMA,
    _check_output,
    _console,
    _fmt,
    _json_default,
    _read,
    _run_task,
    _write,
    app,
)


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
    if task.strength:
        params.append(opt("strength", _STRENGTH, Optional[float]))
    params += [p for i, p in inputs if not i.primary]
    if task.output == "same-shape image":
        params.append(opt("region", _REGION, Optional[str]))
    params += [
        opt("ref", _REF, Optional[Path]),
        opt("overwrite", _OVERWRITE, bool),
        opt("quality", _QUALITY, Optional[int]),
        opt("subsampling", _SUBSAMPLING, Optional[str]),
        opt("as_json", _JSON, bool),
    ]

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
            quality=kw["quality"],
            subsampling=kw["subsampling"],
            strength=kw.get("strength"),
            region=kw.get("region"),
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

    imagewizard enhance small.jpg -o big.jpg --scale 2          # repair, then enlarge with the best upscaler

    imagewizard segment photo.jpg -o labels.png --overlay regions.jpg   # see the region numbers in the summary

    imagewizard enhance photo.jpg -o better.jpg --method clahe --region labels.png:3   # only region 3
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
    strength: Optional[float] = _STRENGTH,
    region: Optional[str] = _REGION,
    dry_run: bool = typer.Option(False, "--dry-run", help="wizard: print the plan only"),
    explain: bool = typer.Option(False, "--explain", help="wizard: also print the measurements"),
    save_plan: Optional[Path] = typer.Option(None, "--save-plan", help="wizard: write the plan (YAML/JSON)"),
    scale: Optional[int] = typer.Option(
        None, "--scale", "-s", min=2, max=8, help="wizard: enlarge by this factor after the repairs"
    ),
    ref: Optional[Path] = _REF,
    overwrite: bool = _OVERWRITE,
    quality: Optional[int] = _QUALITY,
    subsampling: Optional[str] = _SUBSAMPLING,
    as_json: bool = _JSON,
) -> None:
    """Improve an image: with no --method the wizard analyses it, plans the steps and runs them.

    When the plan is empty the input file is copied byte for byte (same format asked for, no
    --quality or --subsampling), so nothing is lost to re-encoding.
    """
    from imagewizard.core.errors import ParameterError

    if method is not None:
        if dry_run or explain or save_plan or scale:
            raise ParameterError(
                "--dry-run, --explain, --save-plan and --scale are for the wizard (no --method; "
                "to upscale with a method of your choice: imagewizard upscale)"
            )
        _run_task(
            "enhance",
            input,
            output,
            method,
            None,
            params,
            overwrite,
            ref,
            as_json,
            quality=quality,
            subsampling=subsampling,
            strength=strength,
            region=region,
            reference=reference,
        )
        return
    if region is not None:
        raise ParameterError("--region needs --method (the wizard plans for the whole photo)")
    if params:
        raise ParameterError("method parameters need --method; the wizard chooses its own")
    if strength is not None:
        raise ParameterError("--strength needs --method (the wizard's steps run as measured)")
    _run_wizard(
        input,
        output,
        dry_run=dry_run,
        explain=explain,
        save_plan=save_plan,
        ref=ref,
        overwrite=overwrite,
        as_json=as_json,
        quality=quality,
        subsampling=subsampling,
        scale=scale,
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
    quality: Optional[int] = None,
    subsampling: Optional[str] = None,
    scale: Optional[int] = None,
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
    decided = plan(split_alpha(img)[0], scale=scale)
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
        from imagewizard.cli.progress import progress_bar

        with progress_bar():
            out, steps = decided.pipeline.run(img, source=input) if decided.pipeline else (img, [])
        record.update(seconds=time.perf_counter() - t0, steps=steps)
        copied = None
        if decided.pipeline is None and quality is None and subsampling is None:
            from imagewizard.io import copy_unchanged

            copied = copy_unchanged(output, meta, overwrite=overwrite)  # nothing to do: the file as it was
        record["output"] = str(copied or _write(output, out, meta, overwrite, quality=quality, subsampling=subsampling))
        record["copied_unchanged"] = copied is not None
        if ref is not None:
            from imagewizard.analysis.metrics import compare

            clean, _ = _read(ref)
            if out.shape[:2] == img.shape[:2]:
                record["before"], record["after"] = compare(clean, img), compare(clean, out)
            else:  # enlarged: the result against the reference only, the papers' way
                from imagewizard.tasks.upscale.score import score

                h, w = out.shape[:2]
                record["before"] = None
                record["after"] = score(clean[:h, :w], split_alpha(out)[0], scale=scale)
        if not as_json:
            if ref is not None and record["before"] is None:
                a = record["after"]
                console.print(
                    f"  vs reference (Y channel, border {scale}): PSNR {a['psnr']:.2f} dB, SSIM {a['ssim']:.4f}"
                )
            elif ref is not None:
                b, a = record["before"], record["after"]
                console.print(
                    f"  vs reference: PSNR {b['psnr']:.2f} -> {a['psnr']:.2f} dB, "
                    f"SSIM {b['ssim']:.4f} -> {a['ssim']:.4f}",
                    highlight=False,
                )
            how = ", the input copied byte for byte" if record["copied_unchanged"] else ""
            console.print(f"wrote {record['output']}  ({record['seconds']:.2f} s{how})", highlight=False)
    if as_json:
        typer.echo(json.dumps(record, default=_json_default))


def _task_commands() -> tuple[str, ...]:
    from imagewizard.core.task import task_names

    return task_names()
