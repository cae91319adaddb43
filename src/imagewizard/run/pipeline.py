"""Pipelines: a list of registered methods run one after another.

A pipeline file (YAML or JSON) holds ``steps``, each naming a registered method and its
parameters::

    name: scan-cleanup
    steps:
      - {task: denoise, method: median, params: {size: 3}}
      - {task: denoise, method: nlm, sigma: auto}
      - {task: deblur, method: wiener, kernel: "gaussian:1.2"}
      - {task: inpaint, method: telea, mask: "{stem}-mask.png"}
      - {task: enhance, method: clahe, params: {clip_limit: 2.0}}

``task`` may be left out when the method name belongs to one task only. ``sigma`` is a noise
level on the 0..255 scale or ``auto`` (estimated from the image as it is at that step).
``kernel`` is a spec or a file; ``mask`` and ``reference`` are files, where ``{stem}`` stands
for the input image's name without extension and relative paths start from the input's folder.

Examples
--------
>>> import numpy as np
>>> from imagewizard.run.pipeline import Pipeline
>>> p = Pipeline.from_dict({"steps": [{"method": "median", "params": {"size": 3}}]})
>>> out, records = p.run(np.zeros((8, 8), np.float32))
>>> records[0]["method"], out.shape
('median', (8, 8))
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from imagewizard.core import registry
from imagewizard.core.errors import ParameterError

PIPELINE_SUFFIXES = (".yaml", ".yml", ".json")
#: Pipeline files are a few lines; a huge one is a mistake (or a YAML bomb).
PIPELINE_MAX_BYTES = 1024**2
_BASE_FIELDS = ("task", "method", "params", "sigma", "strength")


def _fields() -> tuple[str, ...]:
    """A step's fields: the method and its settings, then every input a task declares (kernel, mask, ...)."""
    from imagewizard.core.task import input_names

    return _BASE_FIELDS + input_names()


def _input(name: str):
    from imagewizard.core.task import all_tasks

    return next(i for t in all_tasks() for i in t.inputs if i.name == name)


@dataclass(frozen=True)
class Step:
    """One pipeline step: a registered method with validated parameters."""

    task: str
    method: str
    params: dict[str, Any] = field(default_factory=dict)
    sigma: Any = None
    #: the task's strength dial (0 = off, 1 = as measured; see imagewizard.api.apply), None: as measured
    strength: float | None = None
    #: the task's inputs the step gives (kernel spec, mask file name, ...), by name
    inputs: dict[str, Any] = field(default_factory=dict)

    def __getattr__(self, name: str) -> Any:  # step.kernel, step.mask: None when not given
        if name in _fields():
            return self.inputs.get(name)
        raise AttributeError(name)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"task": self.task, "method": self.method}
        if self.params:
            d["params"] = dict(self.params)
        if self.sigma is not None:
            d["sigma"] = self.sigma
        if self.strength is not None:
            d["strength"] = self.strength
        for key in _fields():
            if self.inputs.get(key) is not None:
                d[key] = self.inputs[key]
        return d


def _task_of(method: str, where: str) -> str:
    registry.load_builtins()
    tasks = [t for t in registry.tasks() if any(m.name == method for m in registry.methods(t))]
    if not tasks:
        raise ParameterError(f"{where}: unknown method '{method}' (see `imagewizard methods`)")
    if len(tasks) > 1:
        raise ParameterError(f"{where}: method '{method}' exists for {', '.join(tasks)}; add 'task'")
    return tasks[0]


def _step_from_dict(d: Any, where: str) -> Step:
    if not isinstance(d, dict):
        raise ParameterError(f"{where}: expected a mapping with 'method', got {type(d).__name__}")
    fields = _fields()
    unknown = sorted(set(d) - set(fields), key=str)
    if unknown:
        raise ParameterError(f"{where}: unknown field '{unknown[0]}' (allowed: {', '.join(fields)})")
    method = d.get("method")
    if not isinstance(method, str) or not method:
        raise ParameterError(f"{where}: field 'method' is required (a registered method name)")
    task = d.get("task")
    if task is not None and (not isinstance(task, str) or not task):
        raise ParameterError(f"{where}: field 'task' must be a task name, got {task!r}")
    task = task or _task_of(method, where)
    where = f"{where} ({task} {method})"
    if task not in registry.tasks():
        raise ParameterError(f"{where}: unknown task '{task}' (known: {', '.join(registry.tasks())})")
    try:
        m = registry.get(task, method)
    except ParameterError as exc:
        raise ParameterError(f"{where}: {exc}") from None
    params = d.get("params") or {}
    if not isinstance(params, dict) or not all(isinstance(k, str) for k in params):
        raise ParameterError(f"{where}: field 'params' must be a mapping of name: value")
    try:
        m.bind(params)
    except ParameterError as exc:
        raise ParameterError(f"{where}: {exc}") from None
    sigma = d.get("sigma")
    if sigma is not None:
        if m.sigma == "none":
            raise ParameterError(f"{where}: field 'sigma' given but {method} does not use a noise level")
        if isinstance(sigma, bool) or not (str(sigma).lower() == "auto" or isinstance(sigma, (int, float))):
            raise ParameterError(f"{where}: field 'sigma' must be a number (0..255 scale) or 'auto', got {sigma!r}")
        if isinstance(sigma, (int, float)) and not 0 <= sigma <= 255:  # NaN fails this too
            raise ParameterError(f"{where}: field 'sigma' must be in [0, 255] (0..255 scale) or 'auto', got {sigma!r}")
    strength = d.get("strength")
    if strength is not None:
        from imagewizard.api import check_strength
        from imagewizard.core.task import get_task

        if not get_task(task).strength:
            raise ParameterError(f"{where}: field 'strength' given but task {task} has no strength control")
        strength = check_strength(strength, f"{where}: field 'strength'")
        if "strength" in params:  # the real-photo denoiser's own dial, given twice
            raise ParameterError(f"{where}: strength given twice (field 'strength' and params.strength); give it once")
    inputs = {}
    for key in fields[len(_BASE_FIELDS) :]:
        if d.get(key) is not None and key not in m.needs | m.accepts:
            raise ParameterError(f"{where}: field '{key}' is not used by {method}")
        if d.get(key) is None and key in m.needs:
            raise ParameterError(f"{where}: field '{key}' is required by {method}")
        if d.get(key) is not None:
            spec = _input(key)
            if spec.files:
                _check_file_field(d[key], key, where)
            else:
                _check_value_field(spec, d[key], where)
            inputs[key] = d[key]
    return Step(task=task, method=method, params=dict(params), sigma=sigma, strength=strength, inputs=inputs)


def _check_value_field(spec, value: Any, where: str) -> None:
    """A non-file input (a kernel spec or rows): resolved once at load time, so mistakes show now."""
    check = spec.checker()
    if check is not None:  # e.g. a kernel spec, or a kernel file: checked for existence, not read
        return check(value, where)
    from imagewizard.core.errors import ImageWizardError

    try:
        spec.resolver()(value, (1, 1))
    except ImageWizardError as exc:
        raise ParameterError(f"{where}: field '{spec.name}': {exc}") from None


def _check_kernel_field(kernel: Any, where: str) -> None:
    """A kernel spec is parsed, a kernel array checked, a named kernel file must exist: at load time."""
    import os

    from imagewizard.physics.kernels import KERNELS, check_kernel, make_kernel

    if isinstance(kernel, list):
        try:
            check_kernel(np.asarray(kernel, dtype=np.float64))
        except (ParameterError, ValueError, TypeError) as exc:
            raise ParameterError(f"{where}: field 'kernel': {exc}") from None
        return
    if not isinstance(kernel, str) or not kernel.strip():
        raise ParameterError(
            f"{where}: field 'kernel' must be a spec such as 'gaussian:2', a file or a list of rows, got {kernel!r}"
        )
    name = kernel.strip().partition(":")[0].strip().lower().replace("_", "-")
    if name in KERNELS and not os.path.exists(kernel.strip()):
        try:
            make_kernel(kernel)
        except ParameterError as exc:
            raise ParameterError(f"{where}: field 'kernel': {exc}") from None
    elif not os.path.exists(kernel.strip()):
        raise ParameterError(
            f"{where}: field 'kernel': '{kernel}' is neither a kernel spec ({', '.join(KERNELS)}) nor an existing file"
        )


def _check_file_field(value: Any, key: str, where: str) -> None:
    """'mask'/'reference' name an image file; a fixed absolute path must exist at load time."""
    from imagewizard.io import SUPPORTED_READ

    if not isinstance(value, str) or not value.strip():
        raise ParameterError(
            f"{where}: field '{key}' must be an image file name (e.g. '{{stem}}-{key}.png'), got {value!r}"
        )
    if Path(value).suffix.lower() not in SUPPORTED_READ:
        raise ParameterError(
            f"{where}: field '{key}': '{value}' is not an image file name (use {', '.join(sorted(SUPPORTED_READ))})"
        )
    if "{stem}" not in value and Path(value).is_absolute() and not Path(value).exists():
        raise ParameterError(f"{where}: field '{key}': file not found: {value}")


def _resolve_file(template: str, source: Path | None, key: str, where: str) -> Path:
    name = template.replace("{stem}", source.stem if source else "{stem}")
    if "{stem}" in name:
        raise ParameterError(f"{where}: '{key}: {template}' needs the input file's name; run it on a file")
    p = Path(name)
    if not p.is_absolute() and source is not None:
        p = source.parent / p
    if not p.exists():
        raise ParameterError(f"{where}: {key} file not found: {p}")
    return p  # a folder, pipe or device is refused by the reader


def _gives_labels(task: str) -> bool:
    from imagewizard.core.task import task_or_generic

    return task_or_generic(task).output == "label map"


def write_result(dest: str | Path, out: np.ndarray, like: Any = None, *, overwrite: bool = False) -> Path:
    """Write a pipeline's result: an image keeping the source's format and metadata, or a label map."""
    if out.ndim == 2 and np.issubdtype(out.dtype, np.integer):
        from imagewizard.io.labels import write_labels

        return write_labels(dest, out, overwrite=overwrite, replace=None)
    from imagewizard.io import write

    return write(dest, out, like=like, overwrite=overwrite)


@dataclass(frozen=True)
class Pipeline:
    """An ordered list of :class:`Step`; run it with :meth:`run`."""

    steps: tuple[Step, ...]
    name: str = ""

    @classmethod
    def from_dict(cls, d: Any, *, where: str = "pipeline") -> "Pipeline":
        if isinstance(d, list):
            d = {"steps": d}
        if not isinstance(d, dict):
            raise ParameterError(f"{where}: expected a mapping with 'steps'")
        unknown = sorted(set(d) - {"name", "steps", "description"})
        if unknown:
            raise ParameterError(f"{where}: unknown field '{unknown[0]}' (allowed: name, description, steps)")
        steps = d.get("steps")
        if not isinstance(steps, list) or not steps:
            raise ParameterError(f"{where}: 'steps' must be a non-empty list")
        parsed = tuple(_step_from_dict(s, f"{where}: step {i}") for i, s in enumerate(steps, 1))
        for i, st in enumerate(parsed[:-1], 1):
            if _gives_labels(st.task):
                raise ParameterError(
                    f"{where}: step {i} ({st.task}) gives a label map, not an image: it must be the last step"
                )
        return cls(parsed, name=str(d.get("name") or ""))

    @property
    def gives_labels(self) -> bool:
        """The last step segments: the result is a label map (written as a 16-bit PNG), not an image."""
        return _gives_labels(self.steps[-1].task)

    @classmethod
    def load(cls, path: str | Path) -> "Pipeline":
        """Read a YAML (.yaml/.yml) or JSON pipeline file."""
        from imagewizard.core.errors import ImageReadError
        from imagewizard.io.files import read_input_text

        p = Path(path)
        if p.suffix.lower() not in PIPELINE_SUFFIXES:
            raise ParameterError(f"{p}: a pipeline file is .yaml, .yml or .json")
        try:
            text = read_input_text(p, what="pipeline file", limit=PIPELINE_MAX_BYTES)
        except ImageReadError as exc:
            msg = str(exc).replace("cannot read ", "cannot read pipeline file ", 1)
            raise ParameterError(msg) from None
        try:
            if p.suffix.lower() == ".json":
                data = json.loads(text)
            else:
                import yaml

                data = yaml.safe_load(text)
        except Exception as exc:  # noqa: BLE001 - any parser error is the file's fault
            first = " ".join(str(exc).split())[:160] or "unreadable"
            raise ParameterError(
                f"{p}: not valid {'JSON' if p.suffix.lower() == '.json' else 'YAML'}: {first}"
            ) from None
        return cls.from_dict(data, where=str(p))

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"steps": [s.to_dict() for s in self.steps]}
        if self.name:
            d = {"name": self.name, **d}
        return d

    def save(self, path: str | Path) -> Path:
        """Write the pipeline as YAML or JSON (by extension), atomically, never over an input."""
        from imagewizard.io.files import atomic_write

        p = Path(path)
        if p.suffix.lower() not in PIPELINE_SUFFIXES:
            raise ParameterError(f"cannot write plan {p}: use a .yaml, .yml or .json file name")
        if p.suffix.lower() == ".json":
            text = json.dumps(self.to_dict(), indent=2) + "\n"
        else:
            import yaml

            text = yaml.safe_dump(self.to_dict(), sort_keys=False)
        return atomic_write(p, text, what="plan")

    def run(
        self,
        img: np.ndarray,
        *,
        source: str | Path | None = None,
        tile_above: int | None = None,
        tile: int | None = None,
    ) -> tuple[np.ndarray, list[dict[str, Any]]]:
        """Run every step on ``img``; returns the result and one record per step.

        ``source`` is the input file, for ``{stem}`` and relative paths in ``mask``/``reference``.
        Images with more than ``tile_above`` pixels (default :data:`imagewizard.run.tiling.TILE_ABOVE`)
        run each local method (one declared with a ``halo``) in tiles of ``tile`` pixels a side, so
        memory stays bounded; the noise level is estimated once on the whole image first.
        """
        from imagewizard.core.progress import stage
        from imagewizard.run.tiling import TILE, TILE_ABOVE

        tile_above = TILE_ABOVE if tile_above is None else tile_above
        tile = TILE if tile is None else tile

        src = Path(source) if source is not None else None
        # every file any step names is found before the first step runs
        files: list[dict[str, Any]] = []
        for i, s in enumerate(self.steps, 1):
            where = f"step {i} ({s.task} {s.method})"
            files.append(
                {key: _resolve_file(value, src, key, where) for key, value in s.inputs.items() if _input(key).files}
            )
        records = []
        out = img
        for i, s in enumerate(self.steps, 1):
            with stage(f"step {i}/{len(self.steps)}: {s.task} {s.method}"):
                out, rec = self._run_step(i, s, out, files[i - 1], tile_above, tile)
            records.append(rec)
        return out, records

    @staticmethod
    def _run_step(
        i: int, s: Step, out: np.ndarray, files: dict[str, Any], tile_above: int, tile: int
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """One step: its noise level estimated, then the method run whole or in tiles; returns its record."""
        from imagewizard.api import apply, sigma_for
        from imagewizard.core.arrays import split_alpha
        from imagewizard.run.tiling import apply_tiled

        m = registry.get(s.task, s.method)
        extra: dict[str, Any] = {**s.inputs, **files}
        if isinstance(extra.get("kernel"), list):
            extra["kernel"] = np.asarray(extra["kernel"], dtype=np.float64)
        sigma = sigma_for(m, split_alpha(np.asarray(out, dtype=np.float32))[0], s.sigma) if m.sigma != "none" else None
        t0 = time.perf_counter()
        h, w = np.shape(out)[:2]
        # an image-sized input (a mask, a reference) cannot be cut into the same tiles
        tiled = m.halo is not None and h * w > tile_above and not files
        params = dict(s.params)
        # a method's own strength parameter (the real-photo denoiser's map scale) is its dial: apply
        # takes it as ``strength`` (a second keyword of the same name would be a TypeError)
        dial = params.pop("strength", s.strength)
        if tiled:
            out = apply_tiled(
                lambda t: apply(s.task, t, s.method, sigma=sigma, strength=dial, **extra, **params),
                np.asarray(out),
                tile=tile,
                halo=m.halo,
            )
        else:
            out = apply(s.task, out, s.method, sigma=sigma, strength=dial, **extra, **params)
        return out, {
            "step": i,
            "task": s.task,
            "method": s.method,
            "params": m.bind(s.params),
            "sigma": sigma,
            **({"strength": s.strength} if s.strength is not None else {}),
            "seconds": round(time.perf_counter() - t0, 4),
            **({"tiles": f"{tile}px, halo {m.halo}px"} if tiled else {}),
        }


def single_step(
    method: str, *, task: str | None = None, params: dict[str, Any] | None = None, sigma: Any = None, **inputs: Any
) -> Pipeline:
    """A one-step pipeline (what ``batch --method`` runs); ``inputs``: the task's (kernel=, mask=, ...)."""
    d: dict[str, Any] = {"method": method}
    for key, value in (("task", task), ("params", params), ("sigma", sigma), *inputs.items()):
        if value is not None and not (key == "params" and not value):  # sigma 0 is a level, not 'auto
            d[key] = value
    return Pipeline.from_dict({"steps": [d]})
