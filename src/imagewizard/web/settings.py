"""What the server allows, each limit with a default and a ``serve`` option, and who may call."""

from __future__ import annotations

import hashlib
import hmac
import os
from dataclasses import dataclass, field

from imagewizard.core.errors import ParameterError

#: Environment variable holding the token (or several, comma-separated) when not given with --token.
TOKEN_ENV = "IMAGEWIZARD_TOKEN"
LOOPBACK = ("127.0.0.1", "localhost", "::1")


@dataclass(frozen=True)
class Settings:
    """The server's limits and tokens.

    Parameters
    ----------
    max_upload_mb : float
        Largest request body (all files of one request together); larger requests get 413.
    max_pixels : int
        Largest image (width x height), checked from the file's header before decoding: 413.
    max_queued : int
        Jobs waiting or running at once, over all users; more get 429 with ``Retry-After``.
    max_run_s : float
        A job running longer is stopped (its worker process is replaced) and reported failed.
    result_lifetime_s : float
        Finished jobs, their results and temporary files are deleted this long after they end.
    workers : int
        Worker processes (ignored with a Dask cluster).
    tokens : tuple of str
        Accepted tokens; empty: no token asked (allowed on loopback only).
    """

    max_upload_mb: float = 64.0
    max_pixels: int = 50_000_000
    max_queued: int = 32
    max_run_s: float = 600.0
    result_lifetime_s: float = 3600.0
    workers: int = 1
    tokens: tuple[str, ...] = field(default=(), repr=False)
    cluster: str | None = None

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 1024 * 1024)

    def owner(self, token: str | None) -> str | None:
        """The owner id of a caller's token ('' when no token is needed); None: refused."""
        if not self.tokens:
            return ""
        if not token:
            return None
        given = token.encode()
        for t in self.tokens:
            if hmac.compare_digest(given, t.encode()):
                return hashlib.sha256(given).hexdigest()[:16]
        return None


def tokens_from(option: list[str] | None) -> tuple[str, ...]:
    """Tokens from ``--token`` (repeatable), else from :data:`TOKEN_ENV` (comma-separated)."""
    raw = list(option or []) or os.environ.get(TOKEN_ENV, "").split(",")
    tokens = tuple(t.strip() for t in raw if t.strip())
    for t in tokens:
        if len(t) < 8:
            raise ParameterError("a token must have at least 8 characters (a guessable token protects nothing)")
    return tokens


def check_binding(host: str, tokens: tuple[str, ...]) -> None:
    """Refuse to listen beyond this machine without a token."""
    if host not in LOOPBACK and not tokens:
        raise ParameterError(
            f"serving on {host} reaches other machines: give a token with --token or {TOKEN_ENV}, or bind to 127.0.0.1"
        )
