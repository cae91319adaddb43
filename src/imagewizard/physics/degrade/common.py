"""What every degradation shares: boundary modes, the output protocols, 8-bit rounding and seeds
derived from names (so results do not depend on order or worker)."""

from __future__ import annotations

import hashlib
from typing import Any, Sequence

import numpy as np

from imagewizard.core.errors import ParameterError
from imagewizard.core.registry import Param


#: Boundary handling of :func:`blur` (names and meaning of :func:`scipy.ndimage.convolve`).
BLUR_MODES = ("reflect", "mirror", "nearest", "wrap", "constant")


#: Output conventions of :func:`degrade`.
PROTOCOLS = ("float", "uint8")


_NP_PAD = {"reflect": "symmetric", "mirror": "reflect", "nearest": "edge", "wrap": "wrap", "constant": "constant"}


def clip_round_8bit(x: np.ndarray) -> np.ndarray:
    """Clip to [0, 1] and round to the 256 levels of an 8-bit file: the ``'uint8'`` protocol.

    The one definition of what a saved 8-bit image holds; :func:`degrade` applies it last with
    ``protocol='uint8'`` and training applies it to noisy patches (``clip_fraction``).

    Parameters
    ----------
    x : ndarray
        Float image or batch of any shape, nominally in [0, 1].

    Returns
    -------
    ndarray
        float32, same shape, values k / 255 for integers k in 0..255.

    Examples
    --------
    >>> clip_round_8bit(np.array([-0.2, 0.5, 0.9991, 1.3], np.float32)) * 255
    array([  0., 128., 255., 255.], dtype=float32)
    """
    x = np.asarray(x, dtype=np.float32)
    return np.round(np.clip(x, 0.0, 1.0) * np.float32(255.0)) / np.float32(255.0)


def derive_seed(seed: int, *keys: int | str | float) -> int:
    """A 63-bit seed derived from ``seed`` and ``keys``, stable across processes and platforms.

    Uses SHA-256 (not ``hash()``, which is salted per process), so a
    benchmark can give every image and repetition its own reproducible stream.

    Examples
    --------
    >>> derive_seed(0, "bsd68", 3) == derive_seed(0, "bsd68", 3)
    True
    >>> derive_seed(0, "a") != derive_seed(1, "a")
    True
    """
    parts = []
    for k in (seed, *keys):
        if isinstance(k, (bool, np.bool_)):
            parts.append(f"b:{int(k)}")
        elif isinstance(k, (int, np.integer)):
            parts.append(f"i:{int(k)}")
        elif isinstance(k, str):
            parts.append(f"s:{k}")
        elif isinstance(k, (float, np.floating)):
            parts.append(f"f:{float(k)!r}")
        else:
            raise ParameterError(f"derive_seed keys must be int, str or float, got {type(k).__name__}")
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "little") >> 1


def _rng(rng: Any) -> np.random.Generator:
    """``None`` (fresh OS entropy), an int seed, or a Generator (used as is)."""
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is not None and (isinstance(rng, bool) or not isinstance(rng, (int, np.integer)) or rng < 0):
        raise ParameterError(f"rng must be None, a non-negative int seed or a numpy Generator, got {rng!r}")
    return np.random.default_rng(rng)


def _bind(params: Sequence[Param], where: str, **values: Any) -> list[Any]:
    return [p.parse(values[p.name], where=f"{where}.") for p in params]
