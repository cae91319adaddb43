"""Tasks, declared once: what a task's methods receive, what they return, how it is scored.

A task (denoise, deblur, inpaint, enhance; later upscale, segment, detect, ...) is one
:class:`Task` declaration in its folder ``imagewizard/tasks/<task>/__init__.py``, beside the
modules of its methods. From it come the Python function (``imagewizard.denoise``), the CLI
command and its options, the pipeline step's fields, the benchmark's task inference and scoring,
and ``imagewizard tasks``. Nothing else lists tasks.

Declaring a task::

    TASK = declare_task(Task(
        "deblur", "Undo blur (deconvolution) given the blur kernel.",
        inputs=(KERNEL,), sigma=True, default_method="wiener", made_by="blur",
        modules=("imagewizard.tasks.deblur.fourier", ...)))

A declaration imports nothing heavy: the method modules load when a method is first needed.

Examples
--------
>>> from imagewizard.core.task import get_task
>>> t = get_task("deblur")
>>> t.default_method, [i.name for i in t.inputs], t.output
('wiener', ['kernel'], 'same-shape image')
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass
from typing import Any, Callable

from imagewizard.core.errors import ParameterError

#: What a task returns. Only same-shape images exist today; the rest are declared for the tasks
#: that come next (upscale: an image of another shape; segment: a label map; detect: boxes).
OUTPUT_KINDS = ("same-shape image", "image", "label map", "boxes", "class scores")
#: How an output is written to a file and drawn for a person.
WRITERS = ("image", "label overlay", "boxes on image", "json")


@dataclass(frozen=True)
class Input:
    """Something a task's methods receive besides the image (a kernel, a mask, a reference ...).

    Parameters
    ----------
    name : str
        Keyword in the Python API and field name in pipeline files (``kernel``).
    summary : str
        One line for the API's docstring (what values it takes, in the API's terms).
    cli_help : str
        Help of the CLI option; ``cli_needs`` says how to give it when a method needs it.
    resolve : str
        ``module:function`` turning a user's value (array, spec, path) into what methods receive;
        called as ``resolve(value, image_shape)``.
    files : bool
        True when the value names a file (the CLI takes a path; pipelines resolve ``{stem}`` and
        relative paths from the input's folder).
    primary : bool
        Comes right after the image in the task function's signature (``deblur(img, kernel)``);
        otherwise after ``method`` (``enhance(img, method, reference=...)``).
    required : bool
        Every method of the task needs it (the CLI option is then required).
    cli_short : str or None
        A short CLI flag (``-k``).
    check : str or None
        ``module:function`` called as ``check(value, where)`` when a pipeline file is loaded, for an
        input that is not a file (a kernel spec); None: the resolver is tried on the value.
    example : str
        A typical value of a non-file input (the web form's placeholder): ``'gaussian:2'``, ``'2'``.
    upload : bool
        A non-file input that may also be given as a file (a kernel image): the web form offers both.
    """

    name: str
    summary: str
    cli_help: str
    cli_needs: str
    resolve: str
    files: bool = True
    primary: bool = True
    required: bool = False
    cli_short: str | None = None
    example: str = ""
    upload: bool = False
    check: str | None = None

    @property
    def cli_flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    def resolver(self) -> Callable[[Any, tuple[int, ...]], Any]:
        return _load(self.resolve)

    def checker(self) -> Callable[[Any, str], None] | None:
        return _load(self.check) if self.check else None


def _load(ref: str) -> Any:
    module, _, func = ref.partition(":")
    return getattr(importlib.import_module(module), func)


@dataclass(frozen=True)
class Task:
    """A task's declaration (see the module docstring).

    Parameters
    ----------
    name, summary : str
        Command and function name; one line shown by ``imagewizard tasks`` and the CLI.
    inputs : tuple of Input
        What a method may receive besides the image; each method says which it needs or accepts.
    sigma : bool
        Its methods may take a noise level (``--sigma``, ``sigma=``; the 0..255 scale).
    strength : bool
        It has the ``strength`` dial (``--strength``, ``strength=``, a pipeline step's field):
        0 = off (the input back), 1 = as measured, above 1 = stronger; see
        :func:`imagewizard.api.apply`.
    output, writer : str
        What it returns (:data:`OUTPUT_KINDS`) and how that is written (:data:`WRITERS`).
    metrics : tuple of str
        The scores of an output against ground truth (keys of what ``score`` returns).
    score : str
        ``module:function`` called as ``score(ground_truth, output)``, returning ``{metric: value}``;
        the benchmark scores every output with it.
    made_by : str or None
        The degradation field (``imagewizard.physics.degrade``: ``blur``, ``mask``, ...) whose presence
        makes a benchmark input one of this task's; the task with ``made_by=None`` and
        ``bench_fallback`` takes the rest (denoise: noise only).
    default_method : str
    modules : tuple of str
        Modules whose import registers the task's methods, in listing order.
    rank : int
        Listing order among tasks (smaller first).
    cli : str or None
        ``module:function`` of a hand-written CLI command, for a task whose command does more
        than run one method (enhance: the wizard); None: the command is generated.
    example : str
        One CLI example for the command's help.
    """

    name: str
    summary: str
    inputs: tuple[Input, ...] = ()
    sigma: bool = False
    strength: bool = False
    output: str = "same-shape image"
    writer: str = "image"
    metrics: tuple[str, ...] = ("psnr", "ssim", "mse", "mae")
    score: str = "imagewizard.analysis.metrics:compare"
    made_by: str | None = None
    bench_fallback: bool = False
    default_method: str = ""
    modules: tuple[str, ...] = ()
    rank: int = 100
    cli: str | None = None
    example: str = ""

    def __post_init__(self) -> None:
        if self.output not in OUTPUT_KINDS:
            raise ValueError(f"task {self.name}: output must be one of {OUTPUT_KINDS}")
        if self.writer not in WRITERS:
            raise ValueError(f"task {self.name}: writer must be one of {WRITERS}")
        if "\n" in self.summary:
            raise ValueError("summary must be one line")
        if len({i.name for i in self.inputs}) != len(self.inputs):
            raise ValueError(f"task {self.name}: duplicate input names")

    def scorer(self) -> Callable[[Any, Any], dict[str, float]]:
        return _load(self.score)

    def input(self, name: str) -> Input | None:
        return next((i for i in self.inputs if i.name == name), None)

    @property
    def input_names(self) -> tuple[str, ...]:
        return tuple(i.name for i in self.inputs)

    def as_dict(self) -> dict[str, Any]:
        """The declaration as plain data (``imagewizard tasks --json``, the web app's forms)."""
        return {
            "name": self.name,
            "summary": self.summary,
            "output": self.output,
            "writer": self.writer,
            "sigma": self.sigma,
            "strength": self.strength,
            "metrics": list(self.metrics),
            "default_method": self.default_method,
            "made_by": self.made_by,
            "example": self.example,
            "inputs": [
                {
                    "name": i.name,
                    "summary": i.summary,
                    "file": i.files,
                    "cli": i.cli_flag,
                    "example": i.example,
                    "upload": i.upload,
                    "required": i.required,
                }
                for i in self.inputs
            ],
        }


_TASKS: dict[str, Task] = {}
_DISCOVERED = False


def declare_task(task: Task) -> Task:
    """Declare (register) a task; declaring the same task again replaces it (a reloaded module)."""
    _TASKS[task.name] = task
    return task


def _discover() -> None:
    """Import the built-in task folders (``imagewizard.tasks.*``) and ``imagewizard.tasks`` plugins."""
    global _DISCOVERED
    if _DISCOVERED:
        return
    _DISCOVERED = True
    from imagewizard import tasks as pkg

    for info in pkgutil.iter_modules(pkg.__path__):
        if info.ispkg:
            importlib.import_module(f"{pkg.__name__}.{info.name}")
    from importlib.metadata import entry_points

    for ep in entry_points(group="imagewizard.tasks"):
        ep.load()


def all_tasks() -> list[Task]:
    """Every declared task, in listing order (rank, then name)."""
    _discover()
    return sorted(_TASKS.values(), key=lambda t: (t.rank, t.name))


def task_names() -> tuple[str, ...]:
    return tuple(t.name for t in all_tasks())


def get_task(name: str) -> Task:
    """A task by name; a one-line error naming the known ones otherwise."""
    _discover()
    try:
        return _TASKS[name]
    except (KeyError, TypeError):
        raise ParameterError(f"unknown task '{name}' (known: {', '.join(task_names())})") from None


def task_or_generic(name: str, *, strict: bool = True) -> Task:
    """The declared task, or for methods registered under an undeclared task name, a generic one:
    a same-shape image task that takes every input some task declares. ``strict=False`` gives the
    generic task for any other name too (a benchmark over several tasks, ``--task any``)."""
    _discover()
    if name in _TASKS:
        return _TASKS[name]
    from imagewizard.core import registry

    if strict and not any(m.task == name for m in registry.methods()):
        return get_task(name)  # raises: unknown task
    inputs = {i.name: i for t in all_tasks() for i in t.inputs}
    return Task(name, f"methods registered under '{name}'", inputs=tuple(inputs.values()), sigma=True)


def input_names() -> tuple[str, ...]:
    """Every input any task declares (the registry checks methods' ``needs`` against them)."""
    seen: list[str] = []
    for t in all_tasks():
        seen += [n for n in t.input_names if n not in seen]
    return tuple(seen)


def task_for_degradation(fields: dict[str, Any]) -> str:
    """The task a benchmark input belongs to, from the degradation that made it.

    Where several tasks' degradations are present (a blurred image with holes), the task listed
    last wins (inpaint over deblur): the later tasks' damage is the one the others cannot undo.
    """
    made = [t.name for t in all_tasks() if t.made_by and fields.get(t.made_by)]
    if made:
        return made[-1]
    fallback = [t.name for t in all_tasks() if t.bench_fallback]
    return fallback[0] if fallback else "denoise"
