"""``results.jsonl``: one JSON record per image x degradation x method, appended as results arrive.

Each record is written with a single ``write`` and flushed, so a run that is
killed loses at most the record being written. On start the existing file
is read, records are keyed by ``(image, degradation, method)`` and those
jobs are skipped; a line that does not parse (the torn last line of a
killed run) is dropped and the file rewritten without it before appending.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable

from imagewizard.io.files import file_mode

Key = tuple[str, str, str]

__all__ = ["Key", "file_mode", "record_key", "ResultStore", "read_records"]


def record_key(record: dict[str, Any]) -> Key:
    return (record["image"], record["degradation"], record["method"])


def _parse_lines(text: str) -> tuple[list[dict[str, Any]], int]:
    good, bad = [], 0
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
            record_key(rec)
        except (ValueError, KeyError, TypeError):
            bad += 1
            continue
        good.append(rec)
    return good, bad


def read_records(path: str | Path) -> list[dict[str, Any]]:
    """All well-formed records of a results file (later duplicates of a key win)."""
    p = Path(path)
    if not p.exists():
        return []
    good, _ = _parse_lines(p.read_text(encoding="utf-8", errors="replace"))
    latest: dict[Key, dict[str, Any]] = {}
    for rec in good:
        latest[record_key(rec)] = rec
    return list(latest.values())


class ResultStore:
    """Append-only store of benchmark records with resume.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> store = ResultStore(pathlib.Path(tempfile.mkdtemp()) / "results.jsonl")
    >>> store.append({"image": "a", "degradation": "gaussian:25", "method": "box", "psnr": 30.0})
    >>> ("a", "gaussian:25", "box") in ResultStore(store.path).load()
    True
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.dropped = 0  # unreadable lines removed by the last load()
        self._fh = None

    def load(self) -> dict[Key, dict[str, Any]]:
        """Existing records by key; rewrites the file without unreadable (torn) lines."""
        if not self.path.exists():
            return {}
        raw = self.path.read_bytes()
        good, bad = _parse_lines(raw.decode("utf-8", errors="replace"))
        self.dropped = bad
        if bad or (raw and not raw.endswith(b"\n")):
            self._rewrite(good)
        out: dict[Key, dict[str, Any]] = {}
        for rec in good:
            out[record_key(rec)] = rec
        return out

    def _rewrite(self, records: Iterable[dict[str, Any]]) -> None:
        from imagewizard.io.files import atomic_write

        atomic_write(self.path, "".join(json.dumps(rec) + "\n" for rec in records), what="benchmark results")

    def append(self, record: dict[str, Any]) -> None:
        """Write one record as one line and flush it to the OS."""
        if self._fh is None:
            from imagewizard.io.files import check_output

            check_output(self.path, what="benchmark results")
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fh = open(self.path, "a", encoding="utf-8")
        self._fh.write(json.dumps(record) + "\n")
        self._fh.flush()

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    def __enter__(self) -> "ResultStore":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
