"""The method registry: the one place where every method is declared.

A method is a plain function on float32 arrays plus a declaration: its task,
a one-line summary, typed parameters (defaults, ranges or choices, help) and
what it accepts (gray/color, whether it uses a noise level, needs a blur
kernel, a mask or a reference image). The Python API, the CLI, pipelines and
the benchmark all read these declarations; nothing lists methods twice.

Declaring a method::

    @register("denoise", "median", "Median filter: the classic cure for salt-and-pepper noise.",
              params=[Param("size", int, 3, "window side in pixels (odd)", low=1, high=99)])
    def median(img, *, size=3):
        ...

The function receives the image (HxW, or HxWx3 when ``color="native"``) and,
by keyword, the resolved noise level ``sigma`` (0..255 scale) if it declares
``sigma``, ``kernel``/``mask``/``reference`` if it needs them, and its
parameters.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import math
import sys
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from imagewizard.core.errors import MissingDependencyError, ParameterError, UnknownMethodError

# Tasks are declared in imagewizard.core.task (one folder per task under imagewizard/tasks/);
# ``registry.TASKS`` stays as their names, derived from the declarations.

#: How a method treats colour.
#: ``native``: handles HxW and HxWx3 itself (says how in its docstring);
#: ``per-channel``: written for HxW, the registry applies it to each channel;
#: ``gray``: gray only, colour input is an error.
COLOR_MODES = ("native", "per-channel", "gray")

#: Whether a method uses the noise level: ``none``, ``optional`` (used when
#: given, the method has its own default otherwise) or ``auto`` (always used;
#: estimated from the image when not given).
SIGMA_MODES = ("none", "optional", "auto")

_TRUE = {"1", "true", "yes", "on", "y"}
_FALSE = {"0", "false", "no", "off", "n"}


@dataclass(frozen=True)
class Param:
    """A typed method parameter with its default and valid range.

    Parameters
    ----------
    name : str
        Keyword name (``snake_case``; the CLI also accepts ``kebab-case``).
    type : type
        ``int``, ``float``, ``str`` or ``bool``.
    default : object
        Default value. ``None`` means "derived automatically" (usually from
        the noise level) and is written ``auto`` on the command line.
    help : str
        What it means, in physical terms and units.
    low, high : float, optional
        Inclusive bounds for numbers.
    choices : tuple, optional
        Allowed values for strings (or numbers).
    """

    name: str
    type: type
    default: Any
    help: str = ""
    low: float | None = None
    high: float | None = None
    choices: tuple | None = None

    @property
    def auto(self) -> bool:
        """True when the default is derived automatically (``None``)."""
        return self.default is None

    def parse(self, value: Any, *, where: str = "") -> Any:
        """Convert ``value`` (a string from the CLI or a Python value) and validate it."""
        label = f"{where}{self.name}"
        if value is None or (isinstance(value, str) and value.strip().lower() == "auto"):
            if self.auto:
                return None
            raise ParameterError(f"parameter '{label}' has no automatic value; give a {self.type.__name__}")
        try:
            if self.type is bool:
                if isinstance(value, str):
                    low = value.strip().lower()
                    if low in _TRUE:
                        value = True
                    elif low in _FALSE:
                        value = False
                    else:
                        raise ValueError
                else:
                    value = bool(value)
            elif self.type is int:
                if isinstance(value, bool):
                    raise ValueError
                if isinstance(value, float) and not value.is_integer():
                    raise ValueError
                if isinstance(value, str):
                    as_float = float(value)
                    if not as_float.is_integer():
                        raise ValueError
                    value = as_float
                value = int(value)
            elif self.type is float:
                if isinstance(value, bool):
                    raise ValueError
                value = float(value)
                if not math.isfinite(value):
                    raise ValueError
            else:
                value = self.type(value)
        except (TypeError, ValueError):
            raise ParameterError(f"parameter '{label}' must be {_article(self.type.__name__)}, got {value!r}") from None
        if self.choices is not None and value not in self.choices:
            raise ParameterError(
                f"parameter '{label}' must be one of {', '.join(map(str, self.choices))}; got {value!r}"
            )
        if self.low is not None and value < self.low:
            raise ParameterError(f"parameter '{label}' must be >= {self.low:g}; got {value!r}")
        if self.high is not None and value > self.high:
            raise ParameterError(f"parameter '{label}' must be <= {self.high:g}; got {value!r}")
        return value

    def describe(self) -> dict:
        """A JSON-friendly description."""
        d: dict[str, Any] = {
            "name": self.name,
            "type": self.type.__name__,
            "default": "auto" if self.auto else self.default,
            "help": self.help,
        }
        if self.low is not None or self.high is not None:
            d["range"] = [self.low, self.high]
        if self.choices is not None:
            d["choices"] = list(self.choices)
        return d

    def range_text(self) -> str:
        """Short text of the valid values, e.g. ``[1, 99]`` or ``{soft, hard}``."""
        if self.choices is not None:
            return "{" + ", ".join(map(str, self.choices)) + "}"
        if self.low is not None or self.high is not None:
            lo = "-inf" if self.low is None else f"{self.low:g}"
            hi = "inf" if self.high is None else f"{self.high:g}"
            return f"[{lo}, {hi}]"
        return ""


def params_text(params: Iterable[Param]) -> str:
    """``name=default [range]`` for each parameter, for help texts (CLI epilogs, API docstrings)."""
    parts = []
    for p in params:
        default = "auto" if p.auto else p.default
        rng = p.range_text()
        parts.append(f"{p.name}={default}" + (f" {rng}" if rng else ""))
    return ", ".join(parts)


def _article(word: str) -> str:
    names = {"int": "an integer", "float": "a number", "bool": "true or false", "str": "a string"}
    return names.get(word, f"a {word}")


@dataclass(frozen=True)
class Method:
    """A registered method. Use :func:`register` rather than building one."""

    name: str
    task: str
    func: Callable[..., Any]
    summary: str
    params: tuple[Param, ...] = ()
    color: str = "native"
    sigma: str = "none"
    needs: frozenset[str] = frozenset()
    #: Inputs used when given but not required (e.g. an initial kernel for blind deconvolution).
    accepts: frozenset[str] = frozenset()
    requires: tuple[str, ...] = ()
    extra: str | None = None
    note: str = ""
    tags: tuple[str, ...] = field(default_factory=tuple)
    #: Optional readiness check (e.g. trained weights present): returns None, or why it is unavailable.
    #: A check that takes one argument is given the call's parameters (a method whose weights are a
    #: parameter is ready when they are given, not only when a default exists).
    check: Callable[..., str | None] | None = None
    #: Pixels of context a local method needs around each output pixel, so that large images can be
    #: processed in tiles with bounded memory (:mod:`imagewizard.run.tiling`); None: whole image only
    #: (global statistics, or a method that bounds its memory itself).
    halo: int | None = None
    #: Smallest image side (pixels) the method handles; smaller images are refused before the call
    #: (bm3d's C code crashes on images smaller than its blocks).
    min_size: int = 1

    @property
    def key(self) -> str:
        return f"{self.task}/{self.name}"

    def param(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        raise ParameterError(self._unknown_param_message(name))

    def _unknown_param_message(self, name: str) -> str:
        known = ", ".join(p.name for p in self.params) or "none"
        return f"method '{self.name}' has no parameter '{name}' (its parameters: {known})"

    def bind(self, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """Validate ``params`` and fill in defaults; returns the full keyword set."""
        params = dict(params or {})
        out: dict[str, Any] = {}
        names = {p.name for p in self.params}
        for raw in list(params):
            norm = raw.replace("-", "_")
            if norm not in names:
                raise ParameterError(self._unknown_param_message(raw))
            if norm != raw:
                params[norm] = params.pop(raw)
        for p in self.params:
            if p.name in params:
                out[p.name] = p.parse(params[p.name], where=f"{self.name}.")
            else:
                out[p.name] = p.default
        return out

    def missing_modules(self) -> list[str]:
        """The optional modules this method needs that are not installed."""
        return [mod for mod in self.requires if not _installed(mod)]

    def not_ready(self, params: dict[str, Any] | None = None) -> str | None:
        """Why the method cannot run with ``params`` although its modules are installed (its
        :attr:`check`: e.g. no weights), or None."""
        if self.check is None:
            return None
        try:
            takes_params = len(inspect.signature(self.check).parameters) > 0
        except (TypeError, ValueError):
            takes_params = False
        return self.check(dict(params or {})) if takes_params else self.check()

    def unavailable_reason(self, params: dict[str, Any] | None = None) -> str | None:
        """None when the method can run (with ``params``, when given); otherwise why not, in one line."""
        missing = self.missing_modules()
        if missing:
            hint = f"pip install 'imagewizard[{self.extra}]'" if self.extra else "install " + ", ".join(missing)
            return f"method '{self.name}' needs {', '.join(missing)}: {hint}"
        why = self.not_ready(params)
        return f"method '{self.name}' is unavailable: {why}" if why else None

    def available(self, params: dict[str, Any] | None = None) -> bool:
        """True when the optional modules (and e.g. weights) this method needs are present."""
        return self.unavailable_reason(params) is None

    def check_available(self, params: dict[str, Any] | None = None) -> None:
        reason = self.unavailable_reason(params)
        if reason:
            raise MissingDependencyError(reason)

    def unavailable_flag(self) -> str:
        """A short note for method listings: what to install, or what is missing; '' when ready."""
        missing = self.missing_modules()
        if missing:
            return f"needs the '{self.extra}' extra" if self.extra else "needs " + ", ".join(missing)
        return self.not_ready() or ""

    def describe(self) -> dict:
        """A JSON-friendly description (what ``imagewizard methods --json`` prints)."""
        return {
            "name": self.name,
            "task": self.task,
            "summary": self.summary,
            "color": self.color,
            "sigma": self.sigma,
            "needs": sorted(self.needs),
            "accepts": sorted(self.accepts),
            "params": [p.describe() for p in self.params],
            "available": self.available(),
            "extra": self.extra,
            "note": self.note,
            "tags": list(self.tags),
            "halo": self.halo,
            "min_size": self.min_size,
        }

    def check_size(self, shape: tuple[int, ...]) -> None:
        """Refuse an image smaller than :attr:`min_size` on either side, in one line."""
        h, w = int(shape[0]), int(shape[1]) if len(shape) > 1 else 1
        if min(h, w) < self.min_size:
            n = self.min_size
            raise ParameterError(
                f"method '{self.name}' needs an image of at least {n}x{n} pixels; this one is {w}x{h} (width x height)"
            )


def _installed(module: str) -> bool:
    """Whether ``module`` can be imported, without importing it. A compiled package's submodule
    (``cv2.xphoto``) sits in ``sys.modules`` without a spec, and for a moment while another
    thread imports its package: find_spec raises ValueError for it, so the module table decides."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ValueError, ImportError):
        return module in sys.modules


_REGISTRY: dict[tuple[str, str], Method] = {}
_LOADED = False
_LOAD_LOCK = threading.RLock()


def register(
    task: str,
    name: str,
    summary: str,
    *,
    params: Iterable[Param] = (),
    color: str = "native",
    sigma: str = "none",
    needs: Iterable[str] = (),
    accepts: Iterable[str] = (),
    requires: Iterable[str] = (),
    extra: str | None = None,
    note: str = "",
    tags: Iterable[str] = (),
    check: Callable[..., str | None] | None = None,
    halo: int | None = None,
    min_size: int = 1,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator that declares ``func`` as method ``name`` of ``task``."""
    if color not in COLOR_MODES:
        raise ValueError(f"color must be one of {COLOR_MODES}")
    if sigma not in SIGMA_MODES:
        raise ValueError(f"sigma must be one of {SIGMA_MODES}")
    needs, accepts = frozenset(needs), frozenset(accepts) - frozenset(needs)
    from imagewizard.core.task import _TASKS, _discover

    if task not in _TASKS:
        _discover()
    declared = _TASKS.get(task)
    # a method of an undeclared task (a quick experiment) may use any input some task declares
    allowed = set(declared.input_names) if declared else {i.name for t in _TASKS.values() for i in t.inputs}
    if not (needs | accepts) <= allowed:
        raise ValueError(
            f"{task}/{name}: needs and accepts must name inputs of task {task} ({', '.join(sorted(allowed)) or 'none'})"
        )
    params = tuple(params)
    if len({p.name for p in params}) != len(params):
        raise ValueError(f"{task}/{name}: duplicate parameter names")
    if "\n" in summary:
        raise ValueError("summary must be one line")
    if int(min_size) < 1:
        raise ValueError(f"{task}/{name}: min_size must be >= 1")

    def deco(func: Callable[..., Any]) -> Callable[..., Any]:
        key = (task, name)
        if key in _REGISTRY and _REGISTRY[key].func is not func:
            raise ValueError(f"method {task}/{name} is registered twice")
        _REGISTRY[key] = Method(
            name=name,
            task=task,
            func=func,
            summary=summary,
            params=params,
            color=color,
            sigma=sigma,
            needs=needs,
            accepts=accepts,
            requires=tuple(requires),
            extra=extra,
            note=note,
            tags=tuple(tags),
            check=check,
            halo=halo,
            min_size=int(min_size),
        )
        return func

    return deco


def load_builtins() -> None:
    """Import the modules that declare the methods of every declared task (and entry-point plugins).

    Each task's declaration lists its modules; those inside the task's folder load first, task by
    task, then those from elsewhere (the learned methods of :mod:`imagewizard.models`), so that the
    listing order is the tasks' order.
    """
    global _LOADED
    if _LOADED:
        return
    # a threaded caller (the web server) waits here until the table is complete; the flag is set
    # first so that a method module importing the registry does not start the loading again
    with _LOAD_LOCK:
        if _LOADED:
            return
        _LOADED = True
        from imagewizard.core.task import all_tasks

        own, other = [], []
        for t in all_tasks():
            for mod in t.modules:
                (own if mod.startswith("imagewizard.tasks.") else other).append(mod)
        for mod in dict.fromkeys(own + other):
            if _installed(mod):
                importlib.import_module(mod)
        # Third-party methods: packages that expose an ``imagewizard.tasks`` entry point.
        from importlib.metadata import entry_points

        for ep in entry_points(group="imagewizard.methods"):
            ep.load()


def load_task(task: str) -> None:
    """Import the modules of one task declared after the built-ins were loaded (a plugin, a test)."""
    from imagewizard.core.task import get_task

    for mod in get_task(task).modules:
        importlib.import_module(mod)


def get(task: str, name: str) -> Method:
    """Look up a method; raises :class:`UnknownMethodError` naming the valid ones."""
    load_builtins()
    try:
        return _REGISTRY[(task, name)]
    except KeyError:
        known = ", ".join(m.name for m in methods(task)) or "none"
        raise UnknownMethodError(f"unknown {task} method '{name}' (known: {known})") from None


def methods(task: str | None = None) -> list[Method]:
    """All registered methods, optionally of one task, in declaration order."""
    load_builtins()
    return [m for (t, _), m in _REGISTRY.items() if task is None or t == task]


def __getattr__(name: str):
    if name == "TASKS":  # the declared tasks' names (kept for code written before tasks were declared)
        from imagewizard.core.task import task_names

        return task_names()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def tasks() -> list[str]:
    """Tasks that have at least one method."""
    load_builtins()
    seen: list[str] = []
    for t, _ in _REGISTRY:
        if t not in seen:
            seen.append(t)
    return seen


def parse_assignments(items: Iterable[str]) -> dict[str, str]:
    """Parse CLI ``key=value`` words into a dict (values stay strings)."""
    out: dict[str, str] = {}
    for item in items:
        if "=" not in item:
            raise ParameterError(f"expected key=value, got '{item}'")
        key, value = item.split("=", 1)
        key = key.strip()
        if not key:
            raise ParameterError(f"expected key=value, got '{item}'")
        out[key] = value.strip()
    return out


def parse_spec(text: str) -> tuple[str, list[str], dict[str, str]]:
    """Split a spec such as ``'motion:15,30'`` or ``'gaussian:sigma=25'``.

    Returns the name, the positional values and the keyword values (all
    strings). ``'text'`` alone gives ``('text', [], {})``.

    Examples
    --------
    >>> parse_spec("salt-pepper:0.1,ratio=0.3")
    ('salt-pepper', ['0.1'], {'ratio': '0.3'})
    """
    if not isinstance(text, str) or not text.strip():
        raise ParameterError(f"empty spec {text!r}")
    name, _, rest = text.strip().partition(":")
    name = name.strip().lower()
    positional: list[str] = []
    keywords: dict[str, str] = {}
    if rest.strip():
        for part in rest.split(","):
            part = part.strip()
            if not part:
                raise ParameterError(f"empty value in spec '{text}'")
            if "=" in part:
                k, v = part.split("=", 1)
                keywords[k.strip().replace("-", "_")] = v.strip()
            elif keywords:
                raise ParameterError(f"positional value after key=value in spec '{text}'")
            else:
                positional.append(part)
    return name, positional, keywords


def bind_args(
    params: Iterable[Param], positional: list[Any], keywords: dict[str, Any], *, where: str
) -> dict[str, Any]:
    """Bind positional then keyword values to ``params``, validating each; defaults fill the rest."""
    params = list(params)
    if len(positional) > len(params):
        names = ",".join(p.name for p in params) or "no values"
        raise ParameterError(f"{where} takes at most {len(params)} values ({names}), got {len(positional)}")
    out: dict[str, Any] = {}
    for p, v in zip(params, positional):
        out[p.name] = p.parse(v, where=f"{where}.")
    by_name = {p.name: p for p in params}
    for k, v in keywords.items():
        if k not in by_name:
            known = ", ".join(by_name) or "none"
            raise ParameterError(f"{where} has no parameter '{k}' (its parameters: {known})")
        if k in out:
            raise ParameterError(f"{where}: parameter '{k}' given twice")
        out[k] = by_name[k].parse(v, where=f"{where}.")
    for p in params:
        out.setdefault(p.name, p.default)
    return out


def first_available(task: str, names: Iterable[str]) -> str:
    """The first of ``names`` (methods of ``task``, in order of preference) that is installed and ready.

    Falls back to the last name, so callers always get a method whose error message says what is missing.
    """
    load_builtins()
    names = tuple(names)
    for name in names:
        try:
            if get(task, name).available():
                return name
        except Exception:  # noqa: BLE001 - an unregistered or broken method is simply not a candidate
            continue
    return names[-1]
