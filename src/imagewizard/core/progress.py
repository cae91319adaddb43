"""Progress of the work on one image: steps and tiles counted, for a bar with an ETA.

Library code reports; whoever runs it decides whether and how to show it. Long loops call
:func:`report` (``done`` of ``total`` units, e.g. tiles); a pipeline names its steps with
:func:`stage`. Nothing is shown, and the calls cost next to nothing, unless a caller installed a
reporter with :func:`reporting` (the CLI does, with a Rich bar on a terminal).

Examples
--------
>>> seen = []
>>> with reporting(lambda stage, done, total: seen.append((stage, done, total))):
...     with stage("step 1/1 denoise unet"):
...         for i in range(2):
...             report(i + 1, 2)
>>> seen
[('step 1/1 denoise unet', 0, None), ('step 1/1 denoise unet', 1, 2), ('step 1/1 denoise unet', 2, 2)]
"""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from typing import Callable, Iterator, Optional

#: ``reporter(stage, done, total)``; ``total`` None: a stage began whose length is not known
Reporter = Callable[[str, int, Optional[int]], None]

_REPORTER: ContextVar[Reporter | None] = ContextVar("imagewizard_progress", default=None)
_STAGE: ContextVar[str] = ContextVar("imagewizard_progress_stage", default="")


@contextmanager
def reporting(reporter: Reporter | None) -> Iterator[None]:
    """Send the progress of the work inside the block to ``reporter`` (None: nowhere)."""
    token = _REPORTER.set(reporter)
    try:
        yield
    finally:
        _REPORTER.reset(token)


@contextmanager
def stage(label: str) -> Iterator[None]:
    """Name the work inside the block (a pipeline step); its start is reported with ``total=None``."""
    token = _STAGE.set(label)
    try:
        reporter = _REPORTER.get()
        if reporter is not None:
            reporter(label, 0, None)
        yield
    finally:
        _STAGE.reset(token)


def report(done: int, total: int) -> None:
    """``done`` of ``total`` units of the current stage are finished."""
    reporter = _REPORTER.get()
    if reporter is not None:
        reporter(_STAGE.get(), int(done), int(total))


def active() -> bool:
    """Whether anyone listens (a loop may skip preparing its counts when not)."""
    return _REPORTER.get() is not None
