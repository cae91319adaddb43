"""Finding the images in a folder (batch and bench inputs)."""

from __future__ import annotations

import fnmatch
import os
from pathlib import Path, PurePosixPath

from imagewizard.core.errors import ImageReadError
from imagewizard.io.metadata import SUPPORTED_READ, _SKIP_NAMES


def list_images(folder, recursive: bool = True, pattern: str | None = None) -> list[Path]:
    """Image files in ``folder`` with a readable extension, sorted.

    Hidden files and folders (names starting with ``.``) and ``Thumbs.db``
    are skipped. ``pattern`` is a glob matched against the file name, or,
    when it contains ``/``, against the path relative to ``folder`` (``*``
    does not cross folders: ``'raw/*.tif'``).

    Examples
    --------
    >>> list_images("photos", pattern="*.jpg")                  # doctest: +SKIP
    [PosixPath('photos/a.jpg'), PosixPath('photos/trip/b.jpg')]
    """
    root = Path(folder)
    if not root.exists():
        raise ImageReadError(f"cannot list {root}: folder not found")
    if not root.is_dir():
        raise ImageReadError(f"cannot list {root}: not a folder")
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")] if recursive else []
        for name in filenames:
            if name.startswith(".") or name.lower() in _SKIP_NAMES:
                continue
            if os.path.splitext(name)[1].lower() not in SUPPORTED_READ:
                continue
            path = Path(dirpath, name)
            if pattern is not None and not _matches(path.relative_to(root), pattern):
                continue
            if path.is_file():
                found.append(path)
    return sorted(found)


def _matches(rel: Path, pattern: str) -> bool:
    if "/" not in pattern:
        return fnmatch.fnmatchcase(rel.name, pattern)
    rel_posix, pat = PurePosixPath(rel.as_posix()), PurePosixPath(pattern)
    return len(rel_posix.parts) == len(pat.parts) and rel_posix.match(pattern)
