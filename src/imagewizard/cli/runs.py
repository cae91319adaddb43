"""Many steps and many files: ``imagewizard run`` (pipelines) and ``imagewizard batch``."""

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
    _SIGMA,
    _check_output,
    _console,
    _json_default,
    _read,
    _sigma_arg,
    app,
)


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
    if p.gives_labels and output.suffix.lower() not in (".png", ".npy"):
        from imagewizard.core.errors import ParameterError

        raise ParameterError(
            f"this pipeline ends with a segment step: its label map is written as .png or .npy, not '{output.suffix}'"
        )
    _check_output(output, input, overwrite)
    img, meta = _read(input)
    t0 = time.perf_counter()
    from imagewizard.cli.progress import progress_bar

    with progress_bar():
        out, steps = p.run(img, source=input)
    seconds = time.perf_counter() - t0
    from imagewizard.run.pipeline import write_result

    path = write_result(output, out, meta, overwrite=overwrite)
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
    scale: Optional[int] = typer.Option(
        None, "--scale", "-s", min=2, max=8, help="upscaling factor (an upscale --method)"
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
        if params or sigma is not None or scale is not None:
            raise ParameterError(
                "method parameters, --sigma and --scale go in the pipeline file when --pipeline is used"
            )
        p = Pipeline.load(pipeline)
    elif method is not None:
        extra = {"scale": scale} if scale is not None else {}
        p = single_step(
            method, task=task, params=registry.parse_assignments(params or []), sigma=_sigma_arg(sigma), **extra
        )
    else:  # neither: the main job, the wizard's own analysis and plan for every image
        if params or sigma is not None or task is not None or scale is not None:
            raise ParameterError(
                "method parameters, --sigma, --task and --scale need --method; the wizard chooses its own"
            )
        p = None
    for s in p.steps if p is not None else []:  # an unavailable method fails now, not once per image
        registry.get(s.task, s.method).check_available(s.params)
    labels = p.gives_labels if p is not None else False
    todo, done = plan_jobs(in_dir, out_dir, recursive=recursive, pattern=pattern, labels=labels)
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
