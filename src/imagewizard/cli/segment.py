"""``imagewizard segment``: a label map, and for a person an overlay, a summary, a boundary map."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, List, Optional

import numpy as np
import typer

from imagewizard.cli.app import _JSON, _OVERWRITE, _PARAMS, _check_output, _console, _json_default, _read

_LABELS = typer.Option(..., "--output", "-o", help="label map: .png (8- or 16-bit gray, one value per region) or .npy")
_OVERLAY = typer.Option(None, "--overlay", help="also write the photo with regions tinted and boundaries drawn")
_SUMMARY = typer.Option(None, "--summary", help="also write a JSON summary: regions, sizes, mean colours")
_BOUNDARIES = typer.Option(
    None, "--boundaries", help="also write the soft boundary map (learned method) as a gray image"
)
_TRUTH = typer.Option(
    None, "--truth", help="human segmentation(s): a BSDS .mat or a label map; report covering, PRI, VI, boundary F"
)


_SEEDS = typer.Option(
    None,
    "--seeds",
    help="interactive methods: box:x0,y0,x1,y1 (pixels or fractions) or a scribble image (0 unmarked, 1 background, 2.. objects)",
)


def _method_option():
    from imagewizard.api import DEFAULT_METHODS

    return typer.Option(
        DEFAULT_METHODS["segment"], "--method", "-m", help="segment method (see `imagewizard methods segment`)"
    )


def segment(
    input: Path = typer.Argument(..., help="input image"),
    params: Optional[List[str]] = _PARAMS,
    output: Path = _LABELS,
    method: str = _method_option(),
    overlay: Optional[Path] = _OVERLAY,
    summary: Optional[Path] = _SUMMARY,
    boundaries: Optional[Path] = _BOUNDARIES,
    truth: Optional[Path] = _TRUTH,
    seeds: Optional[str] = _SEEDS,
    overwrite: bool = _OVERWRITE,
    as_json: bool = _JSON,
) -> None:
    """Split an image into regions: a label map (1..n), with an overlay and a summary on request.

    Examples:

        imagewizard segment photo.jpg -o labels.png                        # Felzenszwalb-Huttenlocher

        imagewizard segment photo.jpg -o labels.png --method learned level=0.5 --overlay regions.jpg

        imagewizard segment photo.jpg -o labels.png --method kmeans clusters=4 --summary regions.json

        imagewizard segment photo.jpg -o cut.png --method grabcut --seeds box:0.2,0.1,0.8,0.95 --overlay cut.jpg

        imagewizard segment 100007.jpg -o l.png --method learned --truth 100007.mat   # scored as BSDS500 does
    """
    from imagewizard.api import apply
    from imagewizard.core import registry
    from imagewizard.core.errors import ParameterError
    from imagewizard.io.files import check_output
    from imagewizard.io.labels import write_labels

    m = registry.get("segment", method)
    m.check_available()
    kv = registry.parse_assignments(params or [])
    m.bind(kv)
    from imagewizard.core.task import get_task

    if seeds is None and "seeds" in m.needs:
        raise ParameterError(f"method '{method}' needs {get_task('segment').input('seeds').cli_needs}")
    if seeds is not None and "seeds" not in m.needs | m.accepts:
        raise ParameterError(f"method '{method}' does not use --seeds; drop it")
    if boundaries is not None and method != "learned":
        raise ParameterError("--boundaries needs --method learned (the only method with a soft boundary map)")
    if output.suffix.lower() not in (".png", ".npy"):
        raise ParameterError(f"the label map is written as .png or .npy, not '{output.suffix or output.name}'")
    check_output(output, what="label map", replace=input if overwrite else None)
    for extra, what in ((overlay, "overlay"), (boundaries, "boundary map")):
        if extra is not None:
            _check_output(extra, input, overwrite, what=what)
    if summary is not None:
        check_output(summary, what="summary")
    truths = None
    if truth is not None:
        from imagewizard.tasks.segment.truth import read_truth

        truths = read_truth(truth)
    img, meta = _read(input)
    from imagewizard.cli.progress import progress_bar

    t0 = time.perf_counter()
    with progress_bar(f"segment {method}"):
        labels = apply("segment", img, method, **({"seeds": seeds} if seeds is not None else {}), **kv)
    seconds = time.perf_counter() - t0
    from imagewizard.core.arrays import split_alpha
    from imagewizard.tasks.segment import render

    colour = split_alpha(img)[0]
    record: dict[str, Any] = {
        "task": "segment",
        "method": method,
        "input": str(input),
        "output": str(write_labels(output, labels, overwrite=overwrite, replace=input)),
        "params": m.bind(kv),
        "regions": int(labels.max()),
        "seconds": seconds,
        "megapixels_per_second": img.shape[0] * img.shape[1] / 1e6 / max(seconds, 1e-9),
    }
    from imagewizard.io import write

    if overlay is not None:
        record["overlay"] = str(write(overlay, render.overlay(colour, labels), like=meta, overwrite=overwrite))
    if boundaries is not None:
        from imagewizard.tasks.segment.learned import MAX_WORK_PIXELS, boundary_probability
        from imagewizard.tasks.segment.render import working_size

        small, f = working_size(np.asarray(colour, np.float32), MAX_WORK_PIXELS)  # the labels' pass: cached
        prob = boundary_probability(small)
        if f < 1.0:
            import cv2

            prob = cv2.resize(prob, (colour.shape[1], colour.shape[0]), interpolation=cv2.INTER_LINEAR)
        record["boundaries"] = str(write(boundaries, render.boundary_image(prob), overwrite=overwrite))
    if summary is not None:
        from imagewizard.io.files import atomic_write

        data = json.dumps(render.summary(colour, labels), indent=1)
        record["summary"] = str(atomic_write(summary, data + "\n", what="summary"))
    if truths is not None:
        from imagewizard.analysis.segmentation import boundary_pr, label_boundaries, region_scores

        shapes = {t.shape for t in truths}
        if shapes != {labels.shape}:
            raise ParameterError(
                f"--truth is {sorted(shapes)[0][1]}x{sorted(shapes)[0][0]}, the image {labels.shape[1]}x{labels.shape[0]}"
            )
        s = region_scores(labels, truths)
        b = boundary_pr(label_boundaries(labels), [label_boundaries(t) for t in truths])
        record["scores"] = {
            "covering": s["covering"],
            "pri": s["pri"],
            "vi": s["vi"],
            "boundary_f": b["f"],
            "boundary_precision": b["precision"],
            "boundary_recall": b["recall"],
            "human_segmentations": len(truths),
        }
    if as_json:
        typer.echo(json.dumps(record, default=_json_default))
        return
    con = _console()
    con.print(
        f"segment: {method} on {input}: {record['regions']} regions in {seconds:.2f} s "
        f"({record['megapixels_per_second']:.2f} MP/s); wrote {record['output']}"
    )
    for k in ("overlay", "boundaries", "summary"):
        if k in record:
            con.print(f"  {k}: {record[k]}")
    if "scores" in record:
        sc = record["scores"]
        con.print(
            f"  against {sc['human_segmentations']} human segmentation(s): covering {sc['covering']:.3f}, "
            f"PRI {sc['pri']:.3f}, VI {sc['vi']:.3f}, boundary F {sc['boundary_f']:.3f}"
        )
