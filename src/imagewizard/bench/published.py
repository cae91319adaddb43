"""Published PSNR of well-known denoisers, from the data file ``imagewizard/data/published.json``.

Each row cites its source (the table it was read from). The numbers use the
float protocol (noise added to the 8-bit image in float, not clipped) and
whole-image PSNR at peak 255; see the file's ``caveats`` before comparing.
A row applies only to its own test set and Gaussian noise level.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

__all__ = [
    "PublishedRow",
    "load_published",
    "published_rows",
    "gaussian_sigma_only",
    "caveats",
    "protocol_note",
    "source_legend",
]


@dataclass(frozen=True)
class PublishedRow:
    dataset: str
    sigma: float | None  # Gaussian denoising tables; None for super-resolution rows
    method: str
    psnr: float
    ssim: float | None
    source: str  # full citations, '; '-separated
    note: str = ""
    keys: tuple[str, ...] = ()  # short source names (keys of the data file's 'sources')
    scale: int | None = None  # super-resolution tables: the upscaling factor

    @property
    def short_source(self) -> str:
        return ", ".join(self.keys) + (f" ({self.note})" if self.note else "")


@lru_cache(maxsize=1)
def load_published() -> dict[str, Any]:
    """The parsed data file (sources, caveats, protocol and tables)."""
    text = resources.files("imagewizard").joinpath("data/published.json").read_text(encoding="utf-8")
    return json.loads(text)


def _rows() -> list[PublishedRow]:
    data = load_published()
    sources = data["sources"]
    out = []
    for entry in data["tables"]:
        cite = "; ".join(sources[s] for s in entry["sources"])
        for sig, value in entry["psnr"].items():
            ssim = entry.get("ssim", {}).get(sig)
            scale = int(sig[1:]) if sig.startswith("x") else None  # "x2": a super-resolution factor
            out.append(
                PublishedRow(
                    entry["dataset"],
                    None if scale else float(sig),
                    entry["method"],
                    float(value),
                    None if ssim is None else float(ssim),
                    cite,
                    entry.get("note", ""),
                    tuple(entry["sources"]),
                    scale,
                )
            )
    return out


def published_rows(dataset: str | None, sigma: float | None, *, scale: int | None = None) -> list[PublishedRow]:
    """Rows for test set ``dataset`` (e.g. ``'bsd68'``) at Gaussian noise ``sigma`` (0..255), or for
    super-resolution by ``scale`` (``'bsd100'``), best PSNR first.

    Examples
    --------
    >>> [r.method for r in published_rows("set12", 25)][:2]
    ['SwinIR', 'DRUNet']
    >>> published_rows("tiny", 25)
    []
    >>> [r.psnr for r in published_rows("bsd100", None, scale=2) if r.method == "bicubic"]
    [29.56]
    """
    if dataset is not None and scale is not None:
        return sorted((r for r in _rows() if r.dataset == dataset and r.scale == scale), key=lambda r: -r.psnr)
    if dataset is None or sigma is None:
        return []
    rows = [r for r in _rows() if r.dataset == dataset and r.sigma is not None and abs(r.sigma - float(sigma)) < 1e-9]
    return sorted(rows, key=lambda r: -r.psnr)


def gaussian_sigma_only(spec: dict[str, Any]) -> float | None:
    """The sigma of a degradation that is exactly one zero-mean Gaussian noise and nothing else, else None.

    ``spec`` is what :func:`imagewizard.physics.degrade.parse_degrade_spec` returns.
    Published denoising tables apply only to such degradations.
    """
    from imagewizard.physics.degrade import NOISES
    from imagewizard.physics.kernels import parse_declared

    if spec.get("blur") or spec.get("mask") or spec.get("jpeg") or spec.get("downscale"):
        return None
    noise = spec.get("noise") or []
    if len(noise) != 1:
        return None
    name, bound = parse_declared(NOISES, noise[0], kind="noise")
    if name != "gaussian" or bound.get("mean", 0.0) != 0.0:
        return None
    return float(bound["sigma"])


def downscale_only(spec: dict[str, Any]) -> int | None:
    """The factor of a degradation that is exactly a bicubic downscaling (the super-resolution tables'), else None."""
    if spec.get("noise") or spec.get("blur") or spec.get("mask") or spec.get("jpeg") or spec.get("contrast"):
        return None
    f = spec.get("downscale")
    return int(f) if f and int(f) > 1 else None


def source_legend(rows: list[PublishedRow]) -> list[tuple[str, str]]:
    """(short name, citation) of every source the rows cite, in first-use order."""
    sources = load_published()["sources"]
    keys = dict.fromkeys(k for r in rows for k in r.keys)
    return [(k, sources[k]) for k in keys]


def caveats() -> list[str]:
    return list(load_published()["caveats"])


def protocol_note() -> str:
    return load_published()["protocol"]
