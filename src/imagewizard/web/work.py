"""What a worker process does with one web job: plain functions on files, no web code.

:func:`analyze` returns the wizard's measurements and plan; :func:`run` runs the wizard or a
pipeline through the batch engine's :func:`~imagewizard.run.batch.process_one` (the same read,
guarded atomic write and error handling as ``imagewizard batch``), then adds what the page shows:
8-bit previews, histograms before and after, speed, and scores against a clean reference.

Every string returned is scrubbed of the job folder's path: no server path reaches a client.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

import numpy as np

from imagewizard.core.errors import ImageWizardError, plain_reason

#: Histogram bins per channel (of 8-bit previews: one bin per level).
HIST_BINS = 256
#: Previews larger than this on their long side are shrunk (the slider and the 100 % zoom use them).
PREVIEW_MAX_SIDE = 4096


def _jsonable(o: Any) -> Any:
    if isinstance(o, dict):
        return {str(k): _jsonable(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_jsonable(v) for v in o]
    if isinstance(o, (np.floating, float)):
        v = float(o)
        return v if math.isfinite(v) else (None if math.isnan(v) else ("inf" if v > 0 else "-inf"))
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.bool_,)):
        return bool(o)
    if isinstance(o, np.ndarray):
        return _jsonable(o.tolist())
    if isinstance(o, Path):
        return o.name
    if o is None or isinstance(o, (str, int, bool)):
        return o
    return str(o)


def scrub(obj: Any, folder: str | Path, names: dict[str, str]) -> Any:
    """``obj`` with the job folder's path removed and stored file names replaced by the user's names."""
    text = json.dumps(_jsonable(obj))
    root = str(Path(folder).resolve())
    for stored, shown in names.items():
        for prefix in (root + "/", str(folder).rstrip("/") + "/"):
            text = text.replace(json.dumps(prefix + stored)[1:-1], json.dumps(shown)[1:-1])
    for prefix in (root, str(folder).rstrip("/")):
        text = text.replace(json.dumps(prefix + "/")[1:-1], "").replace(json.dumps(prefix)[1:-1], "")
    return json.loads(text)


def _image_facts(info) -> dict[str, Any]:
    return {
        "width": info.width,
        "height": info.height,
        "format": info.format,
        "bit_depth": info.bit_depth,
        "channels": info.channels,
        "alpha": info.has_alpha,
        "megapixels": round(info.width * info.height / 1e6, 3),
        **({"jpeg_quality": info.jpeg_quality} if info.jpeg_quality else {}),
    }


def analyze(spec: dict[str, Any]) -> dict[str, Any]:
    """The wizard's measurements and plan for ``spec['input']`` (no image is changed)."""
    from imagewizard.core.progress import stage
    from imagewizard.io import read
    from imagewizard.run.wizard import plan

    folder, names = spec["dir"], {Path(spec["input"]).name: spec["name"]}
    t0 = time.perf_counter()
    try:
        with stage("analysing"):
            img, info = read(spec["input"])
            decided = plan(img)
    except ImageWizardError as exc:
        return scrub({"status": "error", "error": str(exc)}, folder, names)
    out = {
        "status": "ok",
        "name": spec["name"],
        "image": _image_facts(info),
        "measurements": decided.analysis,
        "plan": {"name": "wizard", "steps": decided.pipeline.to_dict()["steps"]} if decided.pipeline else None,
        "reasons": decided.reasons,
        "skipped": decided.skipped,
        "seconds": round(time.perf_counter() - t0, 3),
    }
    return scrub(out, folder, names)


def _preview(img: np.ndarray, path: Path) -> None:
    import cv2

    from imagewizard.io import write

    h, w = img.shape[:2]
    scale = PREVIEW_MAX_SIDE / max(h, w)
    if scale < 1:
        img = cv2.resize(img, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    write(path, np.clip(img, 0, 1), bit_depth=8)


def histogram(img: np.ndarray) -> dict[str, list[int]]:
    """Counts of each 8-bit level per channel (``{'l': ...}`` for gray, ``{'r', 'g', 'b'}`` for colour)."""
    levels = np.clip(np.rint(np.asarray(img, dtype=np.float32) * 255), 0, 255).astype(np.uint8)
    if levels.ndim == 2:
        return {"l": np.bincount(levels.ravel(), minlength=HIST_BINS).tolist()}
    return {c: np.bincount(levels[..., i].ravel(), minlength=HIST_BINS).tolist() for i, c in enumerate("rgb")}


def _gives_labels(pipeline: dict[str, Any]) -> bool:
    from imagewizard.run.pipeline import Pipeline

    return Pipeline.from_dict(pipeline).gives_labels


def run(spec: dict[str, Any]) -> dict[str, Any]:
    """Run the job in ``spec`` (input, output, pipeline or wizard, optional clean reference ``truth``)."""
    from imagewizard.analysis.metrics import compare
    from imagewizard.io import read
    from imagewizard.run.batch import process_one

    folder = Path(spec["dir"])
    src, dest = Path(spec["input"]), Path(spec["output"])
    names = {src.name: spec["name"], dest.name: spec.get("result_name", dest.name)}
    names.update(spec.get("names", {}))
    pipe = spec["pipeline"]
    segments = bool(pipe) and not pipe.get("wizard") and _gives_labels(pipe)
    # a segmenting job: the label map beside the result, and the result a person sees is the overlay
    labels_path = dest.with_name(dest.stem + "-labels.png") if segments else dest
    record = process_one(str(src), str(labels_path), spec["name"], pipe)
    record.pop("input", None)
    record.pop("output", None)
    if record.get("status") != "ok":
        return scrub(record, folder, names)
    try:
        before, info = read(src)
        if segments:
            from imagewizard.core.arrays import split_alpha
            from imagewizard.io import write
            from imagewizard.io.labels import read_labels
            from imagewizard.tasks.segment.render import overlay

            labels = read_labels(labels_path)
            write(dest, overlay(split_alpha(before)[0], labels), like=info)
            record["regions"] = int(labels.max())
        after, _ = read(dest)
        _preview(before, folder / "before.png")
        _preview(after, folder / "after.png")
        steps_s = sum(s.get("seconds", 0.0) for s in record.get("steps", []))
        mp = info.width * info.height / 1e6
        record.update(
            image=_image_facts(info),
            histograms={"before": histogram(before), "after": histogram(after)},
            megapixels_per_second=round(mp / steps_s, 3) if steps_s > 0 else None,
        )
        if spec.get("truth"):
            truth, _ = read(spec["truth"])
            try:
                record["metrics"] = {
                    "before": compare(truth, before),
                    "after": compare(truth, after),
                }
            except ImageWizardError as exc:
                record["metrics_error"] = f"no scores: {exc}"
    except ImageWizardError as exc:
        record.update(status="error", error=str(exc))
    except Exception as exc:  # noqa: BLE001 - a failed preview is reported, never a traceback
        record.update(status="error", error=f"internal error after the run ({plain_reason(exc)})")
    return scrub(record, folder, names)


#: What a worker may be asked to do, by name.
KINDS = {"analyze": analyze, "run": run}


def do(kind: str, spec: dict[str, Any]) -> dict[str, Any]:
    """Run one job of ``kind`` (the Dask path calls this; the process pool calls it from its loop)."""
    from imagewizard.run.jobs import limit_torch_threads

    limit_torch_threads()
    return KINDS[kind](spec)
