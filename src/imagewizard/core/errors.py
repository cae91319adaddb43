"""Exceptions with messages meant for users.

Every error a user can cause (bad file, bad parameter, missing optional
dependency) is an :class:`ImageWizardError` whose message is one line that
names the problem; the CLI prints it without a traceback.
"""

from __future__ import annotations


def plain_text(text: str) -> str:
    """A library's message or log line for a user: first line, no object reprs, no exception class names.

    >>> plain_text("<TiffTag.fromfile> raised TiffFileError('<tifffile.TiffTag 256 @10> invalid value offset 5')")
    'invalid value offset 5'
    """
    import re

    text = str(text).strip()
    text = text.splitlines()[0] if text else ""
    for _ in range(3):  # nested reprs: <tifffile.TiffTag 256 @10> inside <TiffTag.fromfile ...>
        text = re.sub(r"<[^<>]*>", "", text)
    inner = re.search(r"\b[A-Z]\w*(?:Error|Exception|Warning)\((['\"])(.*)\1\)", text)
    if inner:  # "... raised SomeError('the message')": the message is what matters
        text = inner.group(2)
    text = re.sub(r"\b[A-Z]\w*(?:Error|Exception|Warning)\b:?", "", text)
    text = re.sub(r"^\W*raised\b", "", text.strip())
    return " ".join(text.split()).strip(" :;,-()")


def plain_reason(exc: BaseException, default: str = "no details given", limit: int = 200) -> str:
    """What went wrong, for a user: :func:`plain_text` of the exception, at most ``limit`` characters.

    >>> plain_reason(ValueError("SafetensorError: header too large\\nmore"))
    'header too large'
    """
    text = plain_text(str(exc))
    if not text:
        return default
    return text if len(text) <= limit else text[: limit - 3] + "..."


class ImageWizardError(Exception):
    """Base class: a problem the user can fix, described in one line."""

    def __str__(self) -> str:
        # one line whatever text the message quotes (a spec or file name may hold line breaks)
        text = super().__str__()
        return text if "\n" not in text and "\r" not in text else " ".join(text.split())


class ImageReadError(ImageWizardError):
    """A file could not be read as an image."""


class ImageWriteError(ImageWizardError):
    """An image could not be written."""


class ParameterError(ImageWizardError, ValueError):
    """A method or degradation parameter is missing, malformed or out of range."""


class UnknownMethodError(ParameterError):
    """No method of that name is registered for the task."""


class MissingDependencyError(ImageWizardError):
    """An optional extra (e.g. ``bm3d``) is needed but not installed."""


class ImageWizardWarning(UserWarning):
    """Something likely wrong but not fatal (e.g. a noise level that looks like the 0..1 scale).

    The CLI prints it as one ``warning: ...`` line on stderr; library callers get a normal
    Python warning they can filter.
    """
