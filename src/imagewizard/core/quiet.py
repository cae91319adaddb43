"""Keep decoder chatter off the user's terminal and inside the one-line error.

Image libraries report trouble in three ways besides raising: Python warnings (Pillow's
``DecompressionBombWarning``, "Possibly corrupt EXIF data"), the ``logging`` module
(tifffile's "invalid circular reference to IFD"), and C code printing straight to file
descriptor 2 (libtiff's ``TIFFFillStrip: Read error``, libpng's ``IDAT: incorrect data
check``). :func:`captured` gathers all three while a file is decoded, so a failure can quote
the first line in its one-line error and a success prints nothing.
"""

from __future__ import annotations

import logging
import os
import tempfile
import threading
import warnings
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import Iterator

#: Loggers of the decoding libraries whose records are captured.
LOGGERS = ("tifffile", "PIL", "imageio")


@dataclass
class Chatter:
    """What the libraries said while a block ran."""

    lines: list[str] = field(default_factory=list)

    def first(self) -> str | None:
        """The first non-empty line, shortened to 160 characters, or ``None``."""
        for line in self.lines:
            line = " ".join(line.split())
            if line:
                return line if len(line) <= 160 else line[:157] + "..."
        return None


class _ListHandler(logging.Handler):
    def __init__(self, sink: list[str]) -> None:
        super().__init__(logging.DEBUG)
        self.sink = sink

    def emit(self, record: logging.LogRecord) -> None:
        with suppress(Exception):
            if record.levelno >= logging.WARNING:
                self.sink.append(record.getMessage())


# fd 2 is process-wide: the first block to enter redirects it, the last to leave restores it
_FD_LOCK = threading.Lock()
_FD_STATE: dict[str, object] = {"depth": 0, "saved": None, "file": None}


def _fd_enter() -> tuple[object, int] | None:
    with _FD_LOCK:
        try:
            if _FD_STATE["depth"] == 0:
                tmp = tempfile.TemporaryFile()
                saved = os.dup(2)
                os.dup2(tmp.fileno(), 2)
                _FD_STATE.update(saved=saved, file=tmp)
            _FD_STATE["depth"] = int(_FD_STATE["depth"]) + 1
            tmp = _FD_STATE["file"]
            return tmp, os.lseek(tmp.fileno(), 0, os.SEEK_END)  # type: ignore[union-attr]
        except OSError:  # no fd 2 (a daemon) or no temp space: run without capturing C chatter
            return None


def _fd_exit(entered: tuple[object, int] | None) -> list[str]:
    if entered is None:
        return []
    tmp, start = entered
    with _FD_LOCK:
        lines: list[str] = []
        with suppress(OSError):
            end = os.lseek(tmp.fileno(), 0, os.SEEK_END)  # type: ignore[union-attr]
            if end > start:
                data = os.pread(tmp.fileno(), min(end - start, 65536), start)  # type: ignore[union-attr]
                lines = data.decode("utf-8", "replace").splitlines()
        _FD_STATE["depth"] = int(_FD_STATE["depth"]) - 1
        if _FD_STATE["depth"] == 0:
            saved = _FD_STATE["saved"]
            with suppress(OSError):
                os.dup2(saved, 2)  # type: ignore[arg-type]
                os.close(saved)  # type: ignore[arg-type]
            with suppress(OSError):
                tmp.close()  # type: ignore[union-attr]
            _FD_STATE.update(saved=None, file=None)
        return lines


@contextmanager
def captured() -> Iterator[Chatter]:
    """Capture warnings, library log records and C-level stderr output of the block.

    Examples
    --------
    >>> import warnings
    >>> with captured() as said:
    ...     warnings.warn("Possibly corrupt EXIF data")
    >>> said.first()
    'Possibly corrupt EXIF data'
    """
    said = Chatter()
    handler = _ListHandler(said.lines)
    loggers = [logging.getLogger(name) for name in LOGGERS]
    saved = [(lg.propagate, lg.level) for lg in loggers]
    for lg in loggers:
        lg.addHandler(handler)
        lg.propagate = False
        if lg.level == logging.NOTSET or lg.level > logging.WARNING:
            lg.setLevel(logging.WARNING)
    import sys

    with suppress(Exception):
        sys.stderr.flush()
    entered = _fd_enter()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            yield said
    finally:
        with suppress(Exception):
            sys.stderr.flush()
        c_lines = _fd_exit(entered)
        for lg, (prop, level) in zip(loggers, saved):
            lg.removeHandler(handler)
            lg.propagate = prop
            lg.setLevel(level)
        # order: Python warnings and records first (they name the problem), then C chatter
        said.lines[:0] = [str(w.message) for w in caught]
        said.lines.extend(c_lines)
