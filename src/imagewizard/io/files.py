"""The one way in and the one way out: every file ImageWizard reads or writes passes through here.

Two promises rest on this module. A user's file is never harmed: :func:`atomic_write` refuses
any path that is, or links to, a file the running command reads, and replaces its target only
by renaming a complete temporary file over it. A bad file never hangs or floods a command:
:func:`open_input` opens regular files only (a named pipe, a device or a socket is refused
before it can block) and refuses files over a size limit.

A command runs inside :func:`guard`. Within it, every file opened with :func:`open_input` (and
every path declared with :func:`protect`, for inputs a command will read later) is an input,
and no write may land on one. Outside a guard (plain library use) reads are not tracked, so a
script may read ``a.png`` and write ``a.png`` back; :func:`imagewizard.io.write` still refuses
the file its ``like`` came from unless ``overwrite=True``.

Examples
--------
>>> import tempfile, pathlib
>>> from imagewizard.io.files import guard, open_input, atomic_write
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> _ = (d / "in.txt").write_text("x")
>>> with guard():
...     with open_input(d / "in.txt", what="text file") as fh:
...         data = fh.read()
...     atomic_write(d / "in.txt", b"y")
Traceback (most recent call last):
...
imagewizard.core.errors.ImageWriteError: refusing to write the output to ...: it is an input of this command...
"""

from __future__ import annotations

import contextvars
import errno
import fcntl
import os
import stat
import tempfile
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Iterable, Iterator

from imagewizard.core.errors import ImageReadError, ImageWriteError, ParameterError

#: Files larger than this are refused before reading (bytes). Images can be large (a 100 MP
#: 16-bit RGBA TIFF stored raw is 800 MB); the pixel limit in :mod:`imagewizard.io` is the finer
#: guard against decompression bombs.
DEFAULT_MAX_BYTES = 2 * 1024**3
MAX_BYTES_ENV = "IMAGEWIZARD_MAX_FILE_BYTES"
#: Text inputs (pipeline files, kernel tables, cards) are small; a huge one is a mistake or an attack.
TEXT_MAX_BYTES = 16 * 1024**2
#: POSIX file-name limit (bytes of one path component) on the file systems users have.
NAME_MAX = 255


@dataclass
class InputGuard:
    """The inputs of one command: resolved paths and (device, inode) pairs."""

    paths: set[str] = field(default_factory=set)
    ids: set[tuple[int, int]] = field(default_factory=set)

    def add(self, path: str | os.PathLike) -> None:
        p = Path(path)
        with suppress(OSError, RuntimeError, ValueError):
            self.paths.add(str(p.resolve()))
        with suppress(OSError, ValueError):
            st = os.stat(p)
            if stat.S_ISREG(st.st_mode):
                self.ids.add((st.st_dev, st.st_ino))

    def holds(self, path: str | os.PathLike) -> bool:
        """Whether ``path`` is, or links to, one of the inputs."""
        p = Path(path)
        with suppress(OSError, RuntimeError, ValueError):
            if str(p.resolve()) in self.paths:
                return True
        with suppress(OSError, ValueError):
            st = os.stat(p)
            return (st.st_dev, st.st_ino) in self.ids
        return False


_CURRENT: contextvars.ContextVar[InputGuard | None] = contextvars.ContextVar("imagewizard_inputs", default=None)


@contextmanager
def guard(inputs: Iterable[str | os.PathLike] = ()) -> Iterator[InputGuard]:
    """Run a command: inside, no write may land on a file read (or declared with ``inputs``).

    Guards nest; an inner one starts with the outer one's inputs, so a batch job keeps its
    command's inputs protected too.
    """
    outer = _CURRENT.get()
    g = InputGuard(set(outer.paths), set(outer.ids)) if outer is not None else InputGuard()
    for p in inputs:
        if p is not None:
            g.add(p)
    token = _CURRENT.set(g)
    try:
        yield g
    finally:
        _CURRENT.reset(token)


def protect(*paths: str | os.PathLike | None) -> None:
    """Declare files the running command will read, before reading them (no-op outside a guard)."""
    g = _CURRENT.get()
    if g is not None:
        for p in paths:
            if p is not None:
                g.add(p)


def is_input(path: str | os.PathLike) -> bool:
    g = _CURRENT.get()
    return g is not None and g.holds(path)


# --------------------------------------------------------------------------- reading


def max_bytes() -> int:
    """The size limit for input files: ``$IMAGEWIZARD_MAX_FILE_BYTES`` or 2 GiB."""
    env = os.environ.get(MAX_BYTES_ENV, "").strip()
    if not env:
        return DEFAULT_MAX_BYTES
    try:
        value = int(float(env))
    except (ValueError, OverflowError):
        raise ParameterError(f"{MAX_BYTES_ENV} must be a positive number of bytes, got {env!r}") from None
    if value <= 0:
        raise ParameterError(f"{MAX_BYTES_ENV} must be a positive number of bytes, got {env!r}")
    return value


_KINDS = (
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISDIR, "a directory"),
)


def _kind(mode: int) -> str:
    for test, name in _KINDS:
        if test(mode):
            return name
    return "not a regular file"


_os_open = os.open  # one name for tests to stand in for (root cannot be refused a permission)


def open_input(path: str | os.PathLike, *, what: str = "file", limit: int | None = None) -> BinaryIO:
    """Open a user's file for reading, safely; the file becomes an input of the running command.

    Refuses, with a one-line :class:`~imagewizard.core.errors.ImageReadError`: a missing file, a
    directory, a named pipe, a device or a socket (checked on the opened descriptor, which is
    opened non-blocking so that a FIFO cannot stall the command), a file over ``limit`` bytes
    (default :func:`max_bytes`), and any path the system cannot open (too long, looping links,
    permission denied).

    Parameters
    ----------
    path : path-like
    what : str
        What the file is for, in the error message (``'image'``, ``'mask'``, ``'pipeline file'``).
    limit : int, optional
        Size limit in bytes.
    """
    p = Path(os.fspath(path))
    if not str(p):
        raise ImageReadError(f"cannot read {what}: empty file name")
    limit = max_bytes() if limit is None else limit
    try:
        fd = _os_open(p, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as e:
        raise ImageReadError(f"cannot read {p}: {_os_reason(e, what)}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise ImageReadError(
                f"cannot read {p}: it is {_kind(st.st_mode)}, not "
                + (f"{_a(what)} file" if not what.endswith("file") else "a regular file")
            )
        if st.st_size > limit:
            raise ImageReadError(
                f"cannot read {p}: {st.st_size:,} bytes exceeds the {what} size limit of "
                f"{limit:,} (raise it with {MAX_BYTES_ENV})"
            )
        flags = fcntl.fcntl(fd, fcntl.F_GETFL)
        fcntl.fcntl(fd, fcntl.F_SETFL, flags & ~os.O_NONBLOCK)
        fh = os.fdopen(fd, "rb")
        fh.raw.name = str(p)  # as open() would: decoders (tifffile) name the file from it
    except BaseException:
        os.close(fd)
        raise
    g = _CURRENT.get()
    if g is not None:
        g.paths.add(str(p.resolve()))
        g.ids.add((st.st_dev, st.st_ino))
    return fh


def read_input_bytes(path: str | os.PathLike, *, what: str = "file", limit: int | None = None) -> bytes:
    """The whole content of a user's file (see :func:`open_input`)."""
    with open_input(path, what=what, limit=limit) as fh:
        try:
            return fh.read()
        except OSError as e:
            raise ImageReadError(f"cannot read {path}: {_os_reason(e, what)}") from None


def read_input_text(path: str | os.PathLike, *, what: str = "text file", limit: int = TEXT_MAX_BYTES) -> str:
    """A user's UTF-8 text file (pipeline, kernel table), at most ``limit`` bytes."""
    data = read_input_bytes(path, what=what, limit=limit)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise ImageReadError(f"cannot read {path}: not UTF-8 text (bad byte at offset {e.start})") from None


def _a(word: str) -> str:
    return ("an " if word[:1].lower() in "aeiou" else "a ") + word


def _write_reason(e: OSError, p: Path) -> str:
    if e.errno == errno.ENOENT:  # creating the temporary file failed though the folder exists: /proc, /sys
        return f"cannot create files in {p.parent}"
    return _os_reason(e)


def _os_reason(e: OSError, what: str = "file") -> str:
    reasons = {
        errno.ENOENT: "file not found",
        errno.EISDIR: f"it is a directory, not {_a(what)} file" if not what.endswith("file") else "it is a directory",
        errno.EACCES: "permission denied",
        errno.EPERM: "permission denied",
        errno.ENAMETOOLONG: "file name too long",
        errno.ELOOP: "too many levels of symbolic links",
        errno.ENOTDIR: "a part of the path is not a folder",
        errno.ENOSPC: "no space left on the device",
        errno.EROFS: "the file system is read-only",
        errno.EDQUOT: "disk quota exceeded",
        errno.EIO: "input/output error",
        errno.ENXIO: "no such device or address (a socket or an unconnected device)",
    }
    if e.errno in reasons:
        return reasons[e.errno]
    return (e.strerror or "operating-system error").rstrip(".").lower()


# --------------------------------------------------------------------------- writing


def check_output(
    path: str | os.PathLike, *, what: str = "output", replace: str | os.PathLike | None = None, folder: bool = False
) -> Path:
    """Refuse an output path before any work: an input of the command, a bad name, a blocked folder.

    Parameters
    ----------
    path : path-like
        Where the command will write.
    what : str
        What is written there, for the message (``'output'``, ``'plan'``, ``'mask'``).
    replace : path-like, optional
        The one input this output may replace (``--overwrite`` on a command's main output).
    folder : bool
        ``path`` is an output folder rather than a file.

    Returns
    -------
    pathlib.Path
    """
    p = Path(os.fspath(path))
    if not str(p) or p.name in ("", ".", ".."):
        raise ImageWriteError(f"cannot write {what} {str(p)!r}: not a file name")
    for part in p.parts:
        if len(os.fsencode(part)) > NAME_MAX:
            raise ImageWriteError(
                f"cannot write {what} {_short(p)}: file name too long "
                f"({len(os.fsencode(part))} bytes; the limit is {NAME_MAX})"
            )
    if "\x00" in str(p):
        raise ImageWriteError(f"cannot write {what}: the path contains a NUL character")
    if folder and p.exists() and not p.is_dir():
        raise ImageWriteError(f"cannot write into {p}: it exists and is not a folder")
    if is_input(p) and not (replace is not None and _same(p, replace)):
        hint = "; choose another path" + (" or pass --overwrite" if what in ("output", "image") else "")
        raise ImageWriteError(f"refusing to write the {what} to {p}: it is an input of this command{hint}")
    try:
        st = os.stat(p)
    except FileNotFoundError:
        st = None
    except OSError as e:
        raise ImageWriteError(f"cannot write {what} {p}: {_os_reason(e)}") from None
    if st is not None:
        if folder and not stat.S_ISDIR(st.st_mode):
            raise ImageWriteError(f"cannot write into {p}: it exists and is not a folder")
        if not folder and stat.S_ISDIR(st.st_mode):
            raise ImageWriteError(f"cannot write {what} {p}: it is a directory")
        if not folder and not stat.S_ISREG(st.st_mode):
            raise ImageWriteError(f"cannot write {what} {p}: it is {_kind(st.st_mode)}")
    parent = _existing_parent(p)
    if parent is not None and not parent.is_dir():
        raise ImageWriteError(f"cannot write {what} {p}: {parent} exists and is not a folder")
    return p


def _existing_parent(p: Path) -> Path | None:
    for parent in p.absolute().parents:
        try:
            if parent.exists():
                return parent
        except OSError:
            return None
    return None


def _same(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    with suppress(OSError, RuntimeError):
        if Path(a).resolve() == Path(b).resolve():
            return True
    try:
        return os.path.samefile(a, b)
    except (OSError, ValueError):
        return False


def _short(p: Path) -> str:
    s = str(p)
    return s if len(s) <= 80 else s[:38] + "..." + s[-38:]


_UMASK: int | None = None


def file_mode() -> int:
    """The mode a plainly created file gets (0o666 less the umask); files made by mkstemp would get 0o600."""
    global _UMASK
    if _UMASK is None:  # os.umask can only be read by setting it
        _UMASK = os.umask(0o022)
        os.umask(_UMASK)
    return 0o666 & ~_UMASK


def atomic_write(
    path: str | os.PathLike, data: bytes | str, *, what: str = "output", replace: str | os.PathLike | None = None
) -> Path:
    """Write ``data`` to ``path`` through the guard: all of it or nothing, never over an input.

    The data go to a temporary file beside ``path`` (flushed to disk), which is then renamed over
    it, so a crash, a kill or a full disk leaves either the old file or the new one, never half
    of one. ``replace`` names the one input this write may replace (``--overwrite``).

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    p = check_output(path, what=what, replace=replace)
    if isinstance(data, str):
        data = data.encode("utf-8")
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise ImageWriteError(f"cannot write {what} {p}: {p.parent} exists and is not a folder") from None
    except OSError as e:
        raise ImageWriteError(f"cannot write {what} {p}: cannot create folder {p.parent} ({_os_reason(e)})") from None
    try:
        mode = stat.S_IMODE(p.stat().st_mode) if p.exists() else file_mode()
        # a short temporary name: the target's own name may already be near the 255-byte limit
        fd, tmp = tempfile.mkstemp(dir=p.parent, prefix=f".{p.name[:40]}.", suffix=".iw-tmp")
    except OSError as e:
        raise ImageWriteError(f"cannot write {what} {p}: {_write_reason(e, p)}") from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, p)
    except BaseException as e:
        with suppress(OSError):
            os.unlink(tmp)
        if isinstance(e, OSError):
            raise ImageWriteError(f"cannot write {what} {p}: {_os_reason(e)}") from None
        raise
    return p


@contextmanager
def atomic_path(
    path: str | os.PathLike,
    *,
    what: str = "output",
    suffix: str | None = None,
    replace: str | os.PathLike | None = None,
) -> Iterator[Path]:
    """A temporary path beside ``path`` for writers that need a file name (matplotlib, torch.save).

    The body writes the temporary file; on success it is renamed over ``path`` (after the same
    checks as :func:`atomic_write`, ``replace`` included); on any failure it is removed and
    ``path`` is untouched.
    """
    p = check_output(path, what=what, replace=replace)
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(
            dir=p.parent, prefix=f".{p.name[:40]}.", suffix=(suffix if suffix is not None else p.suffix) or ".iw-tmp"
        )
        os.close(fd)
    except FileExistsError:
        raise ImageWriteError(f"cannot write {what} {p}: {p.parent} exists and is not a folder") from None
    except OSError as e:
        raise ImageWriteError(f"cannot write {what} {p}: {_write_reason(e, p)}") from None
    try:
        yield Path(tmp)
        mode = stat.S_IMODE(p.stat().st_mode) if p.exists() else file_mode()
        check_output(p, what=what, replace=replace)  # the body may have read files since
        os.chmod(tmp, mode)
        os.replace(tmp, p)
    except BaseException as e:
        with suppress(OSError):
            os.unlink(tmp)
        if isinstance(e, OSError):
            raise ImageWriteError(f"cannot write {what} {p}: {_os_reason(e)}") from None
        raise


def check_output_folder(path: str | os.PathLike, *, what: str = "output folder") -> Path:
    """An output folder: not a file, not an input, creatable (checked before any work)."""
    return check_output(path, what=what, folder=True)


@contextmanager
def atomic_folder(path: str | os.PathLike, *, what: str = "output folder") -> Iterator[Path]:
    """A temporary folder beside ``path`` for writers that make a folder (a diffusers model).

    The body fills the temporary folder; on success it replaces ``path`` (an old folder there is
    moved aside first, then removed); on any failure it is removed and ``path`` is untouched.
    """
    import shutil

    p = check_output_folder(path, what=what)
    if p.exists() and not p.is_dir():
        raise ImageWriteError(f"cannot write {what} {p}: a file exists there")
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{p.name[:40]}.", dir=p.parent))
    except OSError as e:
        raise ImageWriteError(f"cannot write {what} {p}: {_write_reason(e, p)}") from None
    try:
        yield tmp
        check_output_folder(p, what=what)  # the body may have read files since
        if p.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{p.name[:40]}.old.", dir=p.parent))
            os.replace(p, old / "x")
            os.replace(tmp, p)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, p)
    except BaseException as e:
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(e, OSError):
            raise ImageWriteError(f"cannot write {what} {p}: {_os_reason(e)}") from None
        raise
