"""The CLI's view of :mod:`imagewizard.core.progress`: a Rich bar with an ETA on a terminal.

On a terminal (stderr) every stage (a pipeline step, or the one method of a task command) gets a
line with its tiles counted, elapsed time and time remaining; a stage that does not count shows
a spinner and its elapsed time. Elsewhere nothing is printed, unless ``IMAGEWIZARD_PROGRESS=1``
asks for plain lines on stderr (at most one every two seconds per stage, and each stage's end),
e.g. for a log.
"""

from __future__ import annotations

import os
import sys
import time
from contextlib import contextmanager
from typing import Iterator, Optional

from imagewizard.core.progress import reporting, stage

PROGRESS_ENV = "IMAGEWIZARD_PROGRESS"


class _PlainLines:
    """``stage: done/total tiles, N s, about M s left`` lines on stderr, throttled."""

    def __init__(self, every: float = 2.0):
        self.every, self.start, self.last = every, {}, {}

    def __call__(self, label: str, done: int, total: Optional[int]) -> None:
        now = time.perf_counter()
        t0 = self.start.setdefault(label, now)
        if total is None:
            print(f"{label}: started", file=sys.stderr, flush=True)
            return
        if done < total and now - self.last.get(label, t0) < self.every:
            return
        self.last[label] = now
        spent = now - t0
        left = spent / done * (total - done) if done else float("nan")
        eta = f", about {left:.0f} s left" if done < total else ""
        print(f"{label}: {done}/{total} tiles, {spent:.0f} s{eta}", file=sys.stderr, flush=True)


class _RichBar:
    def __init__(self, progress):
        self.progress, self.tasks = progress, {}

    def __call__(self, label: str, done: int, total: Optional[int]) -> None:
        task = self.tasks.get(label)
        if task is None:
            task = self.tasks[label] = self.progress.add_task(label, total=total)
        self.progress.update(task, completed=done, total=total)


@contextmanager
def progress_bar(label: str = "") -> Iterator[None]:
    """Show the progress of the work in the block (see the module docstring); ``label`` names it."""
    forced = os.environ.get(PROGRESS_ENV, "").strip() not in ("", "0")
    if forced and not sys.stderr.isatty():
        with reporting(_PlainLines()), stage(label) if label else _nothing():
            yield
        return
    if not sys.stderr.isatty():
        yield
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("tiles"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        with reporting(_RichBar(bar)), stage(label) if label else _nothing():
            yield


@contextmanager
def _nothing() -> Iterator[None]:
    yield
