"""Batch processing: run a pipeline over a folder, mirroring its tree, resumable.

An image counts as done when its output file exists: outputs are written atomically (temporary
file, then rename), so an existing output is always complete and a crash or Ctrl-C leaves no
half-written file. Running the same command again therefore redoes nothing that finished and
retries what failed. Every processed image appends one JSON line to ``imagewizard-batch.jsonl``
in the output folder (status, seconds, the steps run, the error if any); a bad file is logged
and skipped, it never stops the batch.

Examples
--------
>>> from imagewizard.run.batch import run_batch                      # doctest: +SKIP
>>> from imagewizard.run.pipeline import single_step                 # doctest: +SKIP
>>> run_batch("photos", "cleaned", single_step("nlm"), workers=2)  # doctest: +SKIP
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from imagewizard.core.errors import ImageWizardError, ParameterError
from imagewizard.io.files import check_output, check_output_folder, guard
from imagewizard.run.jobs import run_jobs, usable_cores
from imagewizard.run.pipeline import Pipeline, write_result

LOG_NAME = "imagewizard-batch.jsonl"


@dataclass
class Job:
    source: Path
    dest: Path
    rel: str


def plan_jobs(
    in_dir: str | Path, out_dir: str | Path, *, recursive: bool = True, pattern: str | None = None, labels: bool = False
) -> tuple[list[Job], list[Job]]:
    """Split the images under ``in_dir`` into (to do, already done)."""
    from imagewizard.io import list_images

    src_root, dst_root = Path(in_dir), Path(out_dir)
    if not src_root.is_dir():
        raise ParameterError(f"{src_root}: input folder not found")
    check_output_folder(dst_root)
    if dst_root.resolve() == src_root.resolve():
        raise ParameterError(f"{dst_root}: the output folder must differ from the input folder")
    skip_under = dst_root.resolve()
    todo, done = [], []
    for src in list_images(src_root, recursive=recursive, pattern=pattern):
        if skip_under in src.resolve().parents:  # output folder nested inside the input
            continue
        rel = src.relative_to(src_root)
        # a segmenting pipeline writes label maps: same relative path, always .png
        job = Job(src, dst_root / (rel.with_suffix(".png") if labels else rel), rel.as_posix())
        (done if job.dest.is_file() else todo).append(job)
    return todo, done


#: What ``run_batch`` sends its workers for "the wizard on every image" (no pipeline, no method).
WIZARD_SPEC: dict[str, Any] = {"wizard": True}


def _wizard(img, source: str) -> tuple[Any, list[dict[str, Any]], dict[str, Any]]:
    """The wizard's own plan for this image, run; returns the result, the step records and the plan."""
    from imagewizard.core.arrays import as_float_image, split_alpha
    from imagewizard.run.wizard import plan

    decided = plan(split_alpha(as_float_image(img, allow_alpha=True))[0])
    if decided.pipeline is None:
        out, steps = img, []
    else:
        out, steps = decided.pipeline.run(img, source=source)
    return (
        out,
        steps,
        {
            "plan": decided.pipeline.to_dict()["steps"] if decided.pipeline else [],
            "reasons": decided.reasons,
            "skipped": decided.skipped,
        },
    )


def process_one(source: str, dest: str, rel: str, pipeline: dict[str, Any]) -> dict[str, Any]:
    """Read, run the pipeline (or the wizard), write keeping format, bit depth, alpha and metadata. Never raises."""
    from imagewizard.io import copy_unchanged, read

    t0 = time.perf_counter()
    record: dict[str, Any] = {"input": rel, "output": Path(rel).with_suffix(Path(dest).suffix).as_posix()}
    try:
        with guard([source]):  # this job's reads (image, mask, reference) are its inputs
            wizard = bool(pipeline.get("wizard"))
            p = None if wizard else Pipeline.from_dict(pipeline)
            img, meta = read(source)
            if p is None:
                out, steps, decided = _wizard(img, source)
                record.update(decided)
            else:
                out, steps = p.run(img, source=source)
            # a wizard with nothing to do copies the file as it was rather than re-encoding it
            if not (p is None and not decided["plan"] and copy_unchanged(dest, meta)):
                write_result(dest, out, meta)
        record.update(status="ok", steps=steps, megapixels=round(img.shape[0] * img.shape[1] / 1e6, 4))
    except ImageWizardError as exc:
        record.update(status="error", error=str(exc))
    except MemoryError:
        record.update(status="error", error=f"{source}: out of memory")
    except Exception as exc:  # noqa: BLE001 - one bad image must not stop the batch
        first = " ".join(str(exc).split())[:160] or "no details"
        record.update(
            status="error",
            error=f"{source}: internal error ({first}); rerun this image with 'imagewizard run -v' and report it",
        )
    record["seconds"] = round(time.perf_counter() - t0, 4)
    return record


def _process_args(args: tuple[str, str, str, dict[str, Any]]) -> dict[str, Any]:
    return process_one(*args)


def run_batch(
    in_dir: str | Path,
    out_dir: str | Path,
    pipeline: Pipeline | None,
    *,
    workers: int = 1,
    recursive: bool = True,
    pattern: str | None = None,
    cluster: str | None = None,
    progress: Callable[[dict[str, Any], int, int], None] | None = None,
) -> dict[str, Any]:
    """Run ``pipeline`` on every image under ``in_dir`` not yet done in ``out_dir``.

    Parameters
    ----------
    in_dir, out_dir : path
        Input tree and the output tree that mirrors it (same relative paths and formats).
    pipeline : Pipeline or None
        What to run (see :mod:`imagewizard.run.pipeline`); None: the wizard on every image, its own
        analysis and plan per image (the plan and its reasons go in the image's log line).
    workers : int
        Processes; 1 runs in this process. Ignored with ``cluster``.
    recursive, pattern
        Which images to take (see :func:`imagewizard.io.list_images`).
    cluster : str, optional
        Run on a Dask cluster instead: ``'tcp://host:8786'`` or ``'local:N'``
        (see :mod:`imagewizard.run.cluster`). Same outputs, log and resume rule.
    progress : callable, optional
        Called as ``progress(record, finished, total)`` after each image.

    Returns
    -------
    dict
        Counts (``ok``, ``error``, ``skipped``, ``total``), wall time, images per second and
        the log path.
    """
    if workers < 1:
        raise ParameterError(f"workers must be >= 1; got {workers}")
    if cluster is not None:
        from imagewizard.run.cluster import parse_cluster

        parse_cluster(cluster)  # a bad spec fails before any work
    labels = pipeline.gives_labels if pipeline is not None else False
    todo, done = plan_jobs(in_dir, out_dir, recursive=recursive, pattern=pattern, labels=labels)
    out_root = Path(out_dir)
    out_root.mkdir(parents=True, exist_ok=True)
    log_path = out_root / LOG_NAME
    spec = WIZARD_SPEC if pipeline is None else pipeline.to_dict()
    counts = {"ok": 0, "error": 0}
    t0 = time.perf_counter()

    def finish(rec: dict[str, Any], log) -> None:
        counts[rec["status"]] += 1
        log.write(json.dumps(rec) + "\n")
        log.flush()
        if progress is not None:
            progress(rec, counts["ok"] + counts["error"], len(todo))

    check_output(log_path, what="batch log")
    with open(log_path, "a", encoding="utf-8") as log:
        if log.tell() and not log_path.read_bytes().endswith(b"\n"):
            log.write("\n")  # a kill mid-line left a torn record; start clean after it
        args = [(str(job.source), str(job.dest), job.rel, spec) for job in todo]

        def lost(a: tuple, reason: str) -> dict[str, Any]:
            # process_one never raises, so this is a worker lost with the image (killed, out of memory)
            return {"input": a[2], "output": a[2], "status": "error", "error": f"{a[0]}: {reason}"}

        def record(rec: dict[str, Any]) -> None:
            finish(rec, log)

        if cluster is not None and todo:
            from imagewizard.run.cluster import connect, n_workers

            with connect(cluster) as client:
                workers = n_workers(client)
                run_jobs(_process_args, args, record, backend="dask", client=client, lost=lost, key=lambda a: a[2])
        else:
            backend = "serial" if workers == 1 or len(todo) <= 1 else "process"
            run_jobs(_process_args, args, record, backend=backend, workers=workers, lost=lost)
    seconds = time.perf_counter() - t0
    processed = counts["ok"] + counts["error"]
    return {
        "total": len(todo) + len(done),
        "ok": counts["ok"],
        "error": counts["error"],
        "skipped": len(done),
        "seconds": round(seconds, 3),
        "images_per_second": round(processed / seconds, 4) if seconds > 0 else None,
        "workers": workers,
        "cluster": cluster,
        "log": str(log_path),
    }


def read_log(out_dir: str | Path) -> list[dict[str, Any]]:
    """The records of ``imagewizard-batch.jsonl`` (a torn last line from a kill is ignored)."""
    path = Path(out_dir) / LOG_NAME
    records = []
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return records


def default_workers() -> int:
    return usable_cores()
