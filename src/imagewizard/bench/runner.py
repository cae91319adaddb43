"""Plan and run a benchmark: images x degradations x methods, in parallel, resumable.

:func:`plan_bench` validates everything (data, specs, methods) before any
work and lists the jobs; :func:`run_bench` runs the jobs that
``results.jsonl`` in the output folder does not already hold, then writes
``summary.csv``, ``summary.md`` and ``report.html`` from all the records of
the plan.

Workers are separate processes (``spawn``), each capped at its share of the
cores (OpenMP/BLAS/OpenCV/PyTorch threads = cores // workers), so parallel
images do not oversubscribe the CPU; ``workers=0`` runs the jobs in the
calling process (for debugging; threads are then left alone).
"""

from __future__ import annotations

import json
import math
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from imagewizard.core.errors import ImageWizardError, ParameterError
from imagewizard.io.files import atomic_write
from imagewizard.bench.datasets import Dataset, resolve_dataset
from imagewizard.bench.store import Key, ResultStore, record_key
from imagewizard.physics.degrade import PROTOCOLS  # one definition of the protocols, with the degradations
from imagewizard.bench.worker import BASELINE, Job, Settings, run_job, slug

__all__ = [
    "BenchConfig",
    "Degradation",
    "Plan",
    "BenchResult",
    "BenchError",
    "plan_bench",
    "run_bench",
    "PROTOCOLS",
    "SAVE_FORMATS",
]

SAVE_FORMATS = ("png", "npy")
RUN_FILE = "run.json"
#: Settings that must match for records of an earlier run in the same folder to be reused.
_RUN_IDENTITY = ("dataset", "data_root", "task", "protocol", "seed", "blind", "gray")


class BenchError(ImageWizardError):
    """The benchmark could not go on (e.g. a worker process died)."""


@dataclass
class BenchConfig:
    """Everything ``imagewizard bench`` takes (see :func:`run_bench`)."""

    data: str
    degradations: Sequence[str]
    methods: str | Sequence[str] = "all"
    task: str | None = None
    protocol: str = "float"
    seed: int = 0
    out: str | Path = "bench-output"
    workers: int = 1
    limit: int | None = None
    gray: bool = False
    blind: bool = False
    published: bool = False
    save_images: bool = False
    save_format: str = "png"
    exclude: Sequence[str] = ()
    crops: int = 3
    fresh: bool = False
    command: str | None = None


@dataclass
class Degradation:
    text: str  # as given
    spec: str  # canonical (the key in records)
    kw: dict[str, Any]
    sigma_true: float | None  # the Gaussian noise level methods get in non-blind runs
    published_sigma: float | None  # set when the degradation is exactly Gaussian noise
    published_scale: int | None = None  # set when it is exactly a bicubic downscaling (super-resolution)


@dataclass
class Plan:
    config: BenchConfig
    dataset: Dataset
    task: str
    degradations: list[Degradation]
    methods: list[str]
    jobs: list[Job]
    settings: Settings
    notes: list[str] = field(default_factory=list)

    @property
    def order(self) -> list[tuple[str, str]]:
        """(degradation, method) pairs that have jobs, in report order, the input baseline first."""
        pairs = {(j.degradation, j.method) for j in self.jobs}
        return [(d.spec, m) for d in self.degradations for m in [BASELINE, *self.methods] if (d.spec, m) in pairs]

    @property
    def keys(self) -> set[Key]:
        return {(j.image, j.degradation, j.method) for j in self.jobs}


@dataclass
class BenchResult:
    out: Path
    plan: Plan
    records: list[dict[str, Any]]
    rows: list[dict[str, Any]]
    published: dict[str, list]
    files: dict[str, Path]
    ran: int
    reused: int


# --------------------------------------------------------------------------- planning


def _true_sigma(kw: dict[str, Any]) -> float | None:
    """The Gaussian noise level when every noise step is zero-mean Gaussian (combined in quadrature)."""
    from imagewizard.physics.degrade import NOISES
    from imagewizard.physics.kernels import parse_declared

    sigmas = []
    for spec in kw.get("noise") or []:
        name, bound = parse_declared(NOISES, spec, kind="noise")
        if name != "gaussian" or bound.get("mean", 0.0) != 0.0:
            return None
        sigmas.append(float(bound["sigma"]))
    if not sigmas:
        return None
    return float(math.sqrt(sum(s * s for s in sigmas)))


def _degradations(texts: Sequence[str]) -> list[Degradation]:
    from imagewizard.physics.degrade import format_degrade_spec, parse_degrade_spec
    from imagewizard.bench.published import downscale_only, gaussian_sigma_only

    if isinstance(texts, str):
        texts = [texts]
    if not texts:
        raise ParameterError("--degrade: give at least one degradation spec, e.g. --degrade gaussian:25")
    out: list[Degradation] = []
    seen: dict[str, str] = {}
    for text in texts:
        kw = parse_degrade_spec(text)
        spec = format_degrade_spec(**kw)
        if spec == "none":
            raise ParameterError(f"--degrade {text}: degrades nothing")
        if spec in seen:
            continue
        clash = [seen[s] for s in seen if slug(s) == slug(spec)]
        if clash:
            raise ParameterError(f"--degrade {text}: its folder name clashes with --degrade {clash[0]}")
        seen[spec] = text
        out.append(Degradation(text, spec, kw, _true_sigma(kw), gaussian_sigma_only(kw), downscale_only(kw)))
    return out


def _infer_task(degs: list[Degradation]) -> str:
    from imagewizard.core.task import task_for_degradation

    tasks = {task_for_degradation(d.kw) for d in degs}
    if len(tasks) > 1:
        raise ParameterError(
            f"the --degrade specs call for different tasks ({', '.join(sorted(tasks))}); "
            "pass --task or run them separately"
        )
    return tasks.pop()


def _split_list(value: str | Sequence[str]) -> list[str]:
    items = value.split(",") if isinstance(value, str) else [v for x in value for v in str(x).split(",")]
    return [v.strip() for v in items if v.strip()]


#: ``--task any``: methods of every task compete (a mixed set of degradations, the wizard against fixed methods).
ANY_TASK = "any"


def _lookup(task: str, name: str):
    from imagewizard.core import registry

    if task != ANY_TASK:
        return registry.get(task, name)
    found = [m for m in registry.methods() if m.name == name]
    if not found:
        raise ParameterError(
            f"--methods: unknown method '{name}' (known: {', '.join(sorted({m.name for m in registry.methods()}))})"
        )
    if len(found) > 1:
        raise ParameterError(
            f"--methods: '{name}' is a method of several tasks ({', '.join(m.task for m in found)}); pass --task"
        )
    return found[0]


@dataclass(frozen=True)
class _Variant:
    """A registered method with fixed parameters, benchmarked under its own row name ``method:key=value``."""

    method: Any
    name: str
    params: dict[str, Any]

    def __getattr__(self, attr):  # task, needs, color, ... of the method
        return getattr(self.method, attr)


def _method_variant(item: str) -> tuple[str, dict[str, str]]:
    """``'unet:ensemble=8'`` -> ``('unet', {'ensemble': '8'})``; a plain name has no parameters."""
    name, *parts = item.split(":")
    params = {}
    for part in parts:
        key, eq, value = part.partition("=")
        if not eq or not key.strip() or not value.strip():
            raise ParameterError(f"--methods: '{item}': parameters go as name:key=value[:key=value], got '{part}'")
        params[key.strip()] = value.strip()
    return name.strip(), params


def _select_methods(
    task: str, requested: str | Sequence[str], exclude: Sequence[str], degs: list[Degradation], notes: list[str]
):
    from imagewizard.core import registry

    names = _split_list(requested)
    if not names:
        raise ParameterError("--methods is empty; give names separated by commas, or 'all'")
    excluded = set(_split_list(exclude)) if exclude else set()
    has = {"kernel": any(d.kw.get("blur") for d in degs), "mask": any(d.kw.get("mask") for d in degs)}
    if [n.lower() for n in names] == ["all"]:
        chosen, skipped = [], []
        for m in registry.methods(None if task == ANY_TASK else task):
            if m.name in excluded or excluded & set(m.tags):
                continue
            why = m.unavailable_reason()
            if why is None and "reference" in m.needs:
                why = "needs a reference image"
            if why is None and any(not has[n] for n in m.needs if n in has):
                why = f"needs a {' and '.join(n for n in sorted(m.needs) if n in has)} the degradation does not make"
            if why:
                skipped.append(f"{m.name} ({why})")
            else:
                chosen.append(m)
        if skipped:
            notes.append("not run: " + "; ".join(skipped))
        if not chosen:
            raise ParameterError(
                f"--methods all: no {task} method can run here" + (f" ({'; '.join(skipped)})" if skipped else "")
            )
        return chosen
    if "all" in [n.lower() for n in names]:
        raise ParameterError("--methods: 'all' cannot be combined with method names")
    chosen = []
    for item in dict.fromkeys(names):
        n, params = _method_variant(item)
        if n == BASELINE:
            raise ParameterError(f"--methods: '{BASELINE}' is the name of the degraded-input baseline row")
        m = _lookup(task, n)
        m.check_available(params)
        if "reference" in m.needs:
            raise ParameterError(f"--methods: '{n}' needs a reference image, which a benchmark does not have")
        for need in m.needs:
            if need in has and not has[need]:
                raise ParameterError(
                    f"--methods: '{n}' needs a {need}, but no --degrade spec makes one "
                    f"(add {'blur=KERNEL' if need == 'kernel' else 'mask=MASK'})"
                )
        if params:  # the same checks as the plain method, then a row of its own
            bound = m.bind(params)  # one-line error on an unknown or out-of-range parameter
            params = {k.replace("-", "_"): bound[k.replace("-", "_")] for k in params}
            m = _Variant(m, n + "".join(f":{k}={v}" for k, v in params.items()), params)
        if m.name not in [x.name for x in chosen] and n not in excluded:
            chosen.append(m)
    return chosen


def plan_bench(config: BenchConfig) -> Plan:
    """Validate ``config`` and list the jobs (one-line :class:`ParameterError` on any bad argument)."""
    from imagewizard.core import registry

    c = config
    if c.protocol not in PROTOCOLS:
        raise ParameterError(f"--protocol must be one of {', '.join(PROTOCOLS)}; got {c.protocol!r}")
    if c.save_format not in SAVE_FORMATS:
        raise ParameterError(f"--save-format must be one of {', '.join(SAVE_FORMATS)}; got {c.save_format!r}")
    for name, value, low in (("--workers", c.workers, 0), ("--seed", c.seed, 0), ("--crops", c.crops, 0)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ParameterError(f"{name} must be an integer >= {low}; got {value!r}")
    degs = _degradations(c.degradations)
    task = c.task or _infer_task(degs)
    if task not in registry.tasks() and task != ANY_TASK:
        raise ParameterError(f"--task: unknown task '{task}' (known: {', '.join(registry.tasks())}, {ANY_TASK})")
    notes: list[str] = []
    methods = _select_methods(task, c.methods, c.exclude, degs, notes)
    ds = resolve_dataset(c.data, limit=c.limit, gray=c.gray)
    notes = ds.notes + notes
    settings = Settings(
        task=task,
        protocol=c.protocol,
        seed=int(c.seed),
        blind=bool(c.blind),
        gray=bool(c.gray),
        dataset=ds.name,
        out_dir=str(Path(c.out)),
        save_images=bool(c.save_images),
        save_format=c.save_format,
    )
    jobs: list[Job] = []
    gray_only = [m for m in methods if m.color == "gray"]
    colour_skips = 0
    crop_images = {r.name for r in ds.images[: c.crops]}
    from imagewizard.core.task import task_or_generic

    # the degraded input is a row only where it has the clean image's shape (not a small upscale input)
    rows = [BASELINE] if task_or_generic(task, strict=False).output == "same-shape image" else []
    for ref in ds.images:
        colour = None
        for d in degs:
            for name in [*rows, *(m.name for m in methods)]:
                m = next((x for x in methods if x.name == name), None)
                if m is not None and (
                    m.needs & {"kernel"} and not d.kw.get("blur") or m.needs & {"mask"} and not d.kw.get("mask")
                ):
                    continue
                if m is not None and m.color == "gray":
                    if colour is None:
                        colour = _is_colour(ref, c.gray)
                    if colour:
                        colour_skips += 1
                        continue
                jobs.append(
                    Job(
                        ref.name,
                        ref.source,
                        d.spec,
                        d.kw,
                        name,
                        d.sigma_true,
                        settings,
                        crops=ref.name in crop_images,
                        task=m.task if m is not None else task,
                        params=dict(m.params) if isinstance(m, _Variant) else {},
                        runs=m.method.name if isinstance(m, _Variant) else "",
                    )
                )
    if colour_skips:
        notes.append(
            f"{', '.join(m.name for m in gray_only)} work on gray images only: skipped on colour images "
            f"({colour_skips} jobs; --gray converts)"
        )
    return Plan(c, ds, task, degs, [m.name for m in methods], jobs, settings, notes)


def _is_colour(ref, gray: bool) -> bool:
    from imagewizard.bench.datasets import load_image

    return load_image(ref, gray=gray).ndim == 3


# --------------------------------------------------------------------------- output folder


def _run_identity(plan: Plan) -> dict[str, Any]:
    c = plan.config
    return {
        "dataset": plan.dataset.name,
        "data_root": plan.dataset.root,
        "task": plan.task,
        "protocol": c.protocol,
        "seed": int(c.seed),
        "blind": bool(c.blind),
        "gray": bool(c.gray),
    }


def _provenance(plan: Plan) -> dict[str, Any]:
    from imagewizard.bench.provenance import code_version, weights_used

    return {"code": code_version(), "weights": weights_used(plan.methods)}


def _prepare_out(plan: Plan, machine: dict[str, Any]) -> Path:
    out = Path(plan.config.out)
    if out.exists() and not out.is_dir():
        raise ParameterError(f"--out {out}: exists and is not a folder")
    out.mkdir(parents=True, exist_ok=True)
    run_file = out / RUN_FILE
    ident = _run_identity(plan)
    if plan.config.fresh:
        for name in ("results.jsonl", "summary.csv", "summary.md", "report.html", RUN_FILE):
            (out / name).unlink(missing_ok=True)
        for sub in ("crops", "images"):
            shutil.rmtree(out / sub, ignore_errors=True)
    elif run_file.exists():
        try:
            old = json.loads(run_file.read_text())
        except ValueError:
            old = {}
        for k in _RUN_IDENTITY:
            if k in old and old[k] != ident[k]:
                raise ParameterError(
                    f"--out {out}: holds a run with {k}={old[k]} (this run: {ident[k]}); "
                    "choose another --out or add --fresh to start over"
                )
    atomic_write(
        run_file,
        json.dumps({**ident, "command": plan.config.command, "machine": machine, **_provenance(plan)}, indent=2) + "\n",
        what="benchmark run record",
    )
    return out


# --------------------------------------------------------------------------- execution


def _progress(console, enabled: bool):
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=console,
        disable=not enabled,
        transient=False,
    )


def _execute(todo: list[Job], workers: int, store: ResultStore, console, progress: bool) -> None:
    with _progress(console, progress) as bar:
        task_id = bar.add_task("bench", total=len(todo))

        def done(rec: dict[str, Any]) -> None:
            store.append(rec)
            label = f"{rec['method']} on {rec['image']}"
            bar.update(task_id, advance=1, description=label[:40])

        def lost(job: Job, reason: str) -> dict[str, Any]:
            raise BenchError(
                f"{reason} around {job.method} on {job.image} [{job.degradation}]; finished "
                "records are kept, run again to resume"
            )

        from imagewizard.run.jobs import run_jobs

        run_jobs(
            run_job, todo, done, backend="serial" if workers == 0 else "process", workers=max(workers, 1), lost=lost
        )


def run_bench(config: BenchConfig, *, console=None, progress: bool = True) -> BenchResult:
    """Run (or resume) a benchmark and write its outputs to ``config.out``.

    Outputs: ``results.jsonl`` (one record per image x degradation x
    method, written as it goes), ``summary.csv``, ``summary.md``,
    ``report.html`` and ``run.json`` (settings and machine). Records already
    in ``results.jsonl`` are reused, so an interrupted run resumes.

    Examples
    --------
    >>> res = run_bench(BenchConfig(data="tiny", degradations=["gaussian:25"], methods="box",
    ...                             limit=1, out=tmp, workers=0), progress=False)   # doctest: +SKIP
    >>> [r["method"] for r in res.rows]                                             # doctest: +SKIP
    ['input', 'box']
    """
    from imagewizard.bench.machine import machine_info
    from imagewizard.bench.report import write_outputs

    plan = plan_bench(config)
    machine = machine_info()
    out = _prepare_out(plan, machine)
    store = ResultStore(out / "results.jsonl")
    existing = store.load()
    wanted = plan.keys
    todo = [j for j in plan.jobs if (j.image, j.degradation, j.method) not in existing]
    if console is not None:
        reused = len(wanted) - len(todo)
        console.print(
            f"{len(plan.jobs)} jobs: {plan.dataset.name} ({len(plan.dataset.images)} images) x "
            f"{len(plan.degradations)} degradations x {len(plan.methods)} methods"
            + (" + input" if any(j.method == BASELINE for j in plan.jobs) else "")
            + (f"; {reused} already in {store.path}, {len(todo)} to run" if reused else "")
        )
        if store.dropped:
            console.print(f"dropped {store.dropped} unreadable line(s) from {store.path} (an interrupted write)")
    try:
        if todo:
            _execute(todo, config.workers, store, console, progress)
    finally:
        store.close()
    records = [r for r in ResultStore(out / "results.jsonl").load().values() if record_key(r) in wanted]
    rows, published, files = write_outputs(plan, records, machine, out)
    return BenchResult(out, plan, records, rows, published, files, ran=len(todo), reused=len(wanted) - len(todo))
