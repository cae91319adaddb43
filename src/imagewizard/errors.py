"""Exceptions with messages meant for users.

Every error a user can cause (bad file, bad parameter, missing optional
dependency) is an :class:`ImageWizardError` whose message is one line that
names the problem; the CLI prints it without a traceback.
"""

from __future__ import annotations


def plain_reason(exc: BaseException, default: str = "no details given") -> str:
    """What went wrong, for a user: the exception's first line without class names or object reprs.

    >>> plain_reason(ValueError("SafetensorError: header too large\\nmore"))
    'header too large'
    """
    import re

    text = str(exc).strip()
    text = text.splitlines()[0] if text else ""
    for _ in range(3):
        text = re.sub(r"<[^<>]*>", "", text)
    text = re.sub(r"\b[A-Z]\w*(?:Error|Exception|Warning)\b:?", "", text)
    text = " ".join(text.split()).strip(" :;,-()")
    if not text:
        return default
    return text if len(text) <= 200 else text[:197] + "..."


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
