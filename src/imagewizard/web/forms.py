"""A request's fields and uploads turned into a job: the files saved under names the server
chooses, the pipeline built and checked from the task and method declarations.

Nothing here trusts a client's file name or type: formats are sniffed from the bytes, stored
names are fixed (``input.png``, ``mask.png``), and a text field may never name a file on the
server (a pipeline's ``mask: /etc/passwd`` or a kernel ``../x.npy`` is refused: upload the file).
"""

from __future__ import annotations

import json
import os
import re
import warnings
from pathlib import Path
from typing import Any

from imagewizard.core.errors import ParameterError

#: Formats a page may upload, by the reader's sniffed name, with the extension stored.
UPLOAD_FORMATS = {"PNG": ".png", "JPEG": ".jpg", "TIFF": ".tif", "WEBP": ".webp", "BMP": ".bmp"}
#: Extensions kept from the user's name when they mean the sniffed format.
_SAME = {
    "JPEG": (".jpg", ".jpeg", ".jpe"),
    "TIFF": (".tif", ".tiff"),
    "PNG": (".png",),
    "WEBP": (".webp",),
    "BMP": (".bmp",),
}


class RequestProblem(ParameterError):
    """A bad request: ``status`` (400, 413, 415, 422) and the field it concerns."""

    def __init__(self, message: str, *, status: int = 400, field: str | None = None):
        super().__init__(message)
        self.status, self.field = status, field


def display_name(name: str | None, default: str = "image") -> str:
    """The user's file name as shown back: its last part only, printable, at most 100 characters."""
    base = re.split(r"[\\/]", name or "")[-1]
    base = "".join(ch for ch in base if ch.isprintable()).strip()
    return base[:100] or default


def sniff(head: bytes, name: str, field: str) -> str:
    """The upload's format from its first bytes; 415 for anything that is not a supported image."""
    from imagewizard.io.reading import _sniff, _sniff_other

    if not head:
        raise RequestProblem(f"{name}: the file is empty", status=422, field=field)
    fmt = _sniff(head)
    if fmt not in UPLOAD_FORMATS:
        other = "NumPy .npy" if fmt == "NPY" else _sniff_other(head)
        what = f"{other} files are not supported here" if other else "not an image file"
        raise RequestProblem(f"{name}: {what} (the page takes PNG, JPEG, TIFF, WebP and BMP)", status=415, field=field)
    return fmt


def check_header(path: Path, name: str, fmt: str, limit: int, field: str) -> tuple[int, int] | None:
    """Cheap checks of an upload before it is queued (nothing decoded): the header parses, the
    size is within ``limit`` (413, the decompression-bomb guard), a PNG's chunks reach its end and
    a JPEG ends with its end marker (422: truncated). Returns (width, height), or None where the
    header is for the worker's reader to judge (TIFF kinds Pillow does not parse)."""
    from PIL import Image

    from imagewizard.io.reading import _png_complete

    w = h = None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            with Image.open(path) as im:
                w, h = im.size
        except Image.DecompressionBombError:
            raise RequestProblem(
                f"{name}: too many pixels for this server's limit of {limit:,} pixels per image",
                status=413,
                field=field,
            ) from None
        except Exception:  # noqa: BLE001 - any parser error: the header is broken
            if fmt == "TIFF":
                return None
            raise RequestProblem(
                f"{name}: corrupt {fmt} file (its header cannot be read)", status=422, field=field
            ) from None
    if w * h > limit:
        raise RequestProblem(
            f"{name}: {w}x{h} = {w * h:,} pixels exceeds this server's limit of {limit:,} pixels per image",
            status=413,
            field=field,
        )
    with open(path, "rb") as fh:
        if fmt == "PNG" and not _png_complete(fh):
            raise RequestProblem(f"{name}: truncated PNG file (it stops before its end)", status=422, field=field)
        if fmt == "JPEG":
            fh.seek(max(0, path.stat().st_size - 4096))
            if b"\xff\xd9" not in fh.read():
                raise RequestProblem(f"{name}: truncated JPEG file (no end marker)", status=422, field=field)
    return w, h


def stored_suffix(fmt: str, name: str) -> str:
    """The user's extension when it means ``fmt`` (keeps ``.jpeg``, ``.tiff``), else the format's own."""
    ext = Path(name).suffix.lower()
    return ext if ext in _SAME[fmt] else UPLOAD_FORMATS[fmt]


def parse_json_field(text: str | None, field: str, kind: type = dict) -> Any:
    if text is None or not text.strip():
        return None
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise RequestProblem(f"{field}: not valid JSON ({exc.msg} at character {exc.pos})", field=field) from None
    if not isinstance(value, kind):
        raise RequestProblem(f"{field}: expected a JSON {'object' if kind is dict else kind.__name__}", field=field)
    return value


def parse_pipeline_text(text: str, name: str) -> Any:
    """A pipeline file's content, JSON or YAML, as data."""
    from imagewizard.run.pipeline import PIPELINE_MAX_BYTES

    if len(text.encode()) > PIPELINE_MAX_BYTES:
        raise RequestProblem(
            f"{name}: a pipeline file is at most {PIPELINE_MAX_BYTES // 1024} KiB", status=413, field="pipeline"
        )
    try:
        return json.loads(text)
    except ValueError:
        pass
    import yaml

    try:
        return yaml.safe_load(text)
    except Exception as exc:  # noqa: BLE001 - any parser error is the file's fault
        first = " ".join(str(exc).split())[:160] or "unreadable"
        raise RequestProblem(f"{name}: not valid YAML or JSON: {first}", field="pipeline") from None


def _no_server_file(value: Any, where: str) -> None:
    if isinstance(value, str) and (
        "/" in value or "\\" in value or value.strip().startswith(".") or os.path.exists(value.strip())
    ):
        raise RequestProblem(f"{where}: '{value}' names a file; upload the file instead", field=where.split()[-1])


def bind_inputs(steps: list[Any], uploads: dict[str, Path]) -> list[dict[str, Any]]:
    """Each step's task inputs set to the uploaded files; a text input may not name a server file."""
    from imagewizard.run.pipeline import _input, _fields

    input_names = _fields()[5:]
    out = []
    for i, step in enumerate(steps, 1):
        if not isinstance(step, dict):
            out.append(step)  # Pipeline.from_dict names the problem
            continue
        step = dict(step)
        for key in input_names:
            spec = _input(key)
            if key in uploads and (key in step or _method_wants(step, key)):
                step[key] = str(uploads[key])
            elif step.get(key) is not None:
                if spec.files:
                    raise RequestProblem(
                        f"step {i}: '{key}' names a file ({display_name(str(step[key]))}); upload the {key} with the job",
                        field=key,
                    )
                _no_server_file(step[key], f"step {i}: {key}")
        out.append(step)
    return out


def _method_wants(step: dict[str, Any], key: str) -> bool:
    from imagewizard.core import registry
    from imagewizard.run.pipeline import _task_of

    method = step.get("method")
    if not isinstance(method, str):
        return False
    try:
        task = step.get("task") or _task_of(method, "step")
        m = registry.get(task, method)
    except ParameterError:
        return False
    return key in m.needs or key in m.accepts


def single_step(
    task: str | None, method: str, params: dict | None, sigma: str | None, strength: str | None, texts: dict[str, str]
) -> dict[str, Any]:
    """The one step of a task/method request, as a pipeline step mapping."""
    step: dict[str, Any] = {"method": method}
    if task:
        step["task"] = task
    if params:
        step["params"] = params
    if sigma is not None and sigma.strip():
        s = sigma.strip()
        try:
            step["sigma"] = s if s.lower() == "auto" else float(s)
        except ValueError:
            raise RequestProblem(
                f"sigma: must be a number (0..255 scale) or 'auto', got {s!r}", field="sigma"
            ) from None
    if strength is not None and strength.strip():
        try:
            step["strength"] = float(strength)
        except ValueError:
            raise RequestProblem(f"strength: must be a number, got {strength!r}", field="strength") from None
    for key, value in texts.items():
        if value is not None and value.strip():
            step[key] = value.strip()
    return step


def build_pipeline(steps_or_doc: Any, uploads: dict[str, Path]) -> dict[str, Any]:
    """The checked pipeline mapping (``Pipeline.from_dict``) with uploads bound; 400/422 on a bad one."""
    from imagewizard.run.pipeline import Pipeline

    doc = {"steps": steps_or_doc} if isinstance(steps_or_doc, list) else steps_or_doc
    if not isinstance(doc, dict) or not isinstance(doc.get("steps"), list):
        raise RequestProblem("pipeline: expected a mapping with a list of 'steps'", status=422, field="pipeline")
    doc = {**doc, "steps": bind_inputs(doc["steps"], uploads)}
    try:
        return Pipeline.from_dict(doc).to_dict()
    except ParameterError as exc:
        raise RequestProblem(str(exc), status=422, field="pipeline") from None
