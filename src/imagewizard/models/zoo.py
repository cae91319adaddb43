"""The model zoo: trained weights that ship with the package, found by name.

Weights live in ``imagewizard/models/weights/NAME.safetensors`` with a card
``NAME.json``. Users can add their own folders with the environment variable
``IMAGEWIZARD_WEIGHTS`` (os.pathsep-separated); those are searched first, so a
user's retrained ``unet-color`` replaces the shipped one.
"""

from __future__ import annotations

import json
import os
from functools import lru_cache
from pathlib import Path

from imagewizard.core.errors import ParameterError

PACKAGE_WEIGHTS = Path(__file__).parent / "weights"


def weight_dirs() -> list[Path]:
    extra = [Path(p) for p in os.environ.get("IMAGEWIZARD_WEIGHTS", "").split(os.pathsep) if p]
    return [*extra, PACKAGE_WEIGHTS]


def find(name: str) -> Path | None:
    """Path of the weights called ``name`` (``NAME.safetensors``, or a diffusers UNet folder ``NAME/``), or None."""
    for d in weight_dirs():
        p = d / f"{name}.safetensors"
        if p.is_file():
            return p
        if _is_diffusers_dir(d / name):
            return d / name
    return None


def _is_diffusers_dir(p: Path) -> bool:
    return p.is_dir() and ((p / "config.json").is_file() or (p / "unet" / "config.json").is_file())


def require(name: str) -> Path:
    p = find(name)
    if p is None:
        where = ", ".join(str(d) for d in weight_dirs())
        raise ParameterError(
            f"no trained weights named '{name}' (looked in {where}); train them with "
            f"`imagewizard train ...` or set IMAGEWIZARD_WEIGHTS"
        )
    return p


def missing_reason(*names: str, train: str = "imagewizard train denoiser") -> str | None:
    """None when all ``names`` have weights; otherwise a one-line reason (for registry checks)."""
    missing = [n for n in names if find(n) is None]
    if not missing:
        return None
    where = ", ".join(str(d) for d in weight_dirs())
    return (
        f"trained weights {', '.join(missing)} not found (looked in {where}); "
        f"train them with `{train}` or point IMAGEWIZARD_WEIGHTS at them"
    )


def cards(family: str | None = None) -> list[dict]:
    """Cards of every model found (first occurrence of each name wins); ``family`` keeps only
    ``'restoration'`` or ``'generation'`` models (by the architecture in the card)."""
    from imagewizard.models.archs import family as arch_family

    seen: dict[str, dict] = {}
    for d in weight_dirs():
        for p in sorted(d.glob("*.safetensors")):
            if p.stem in seen:
                continue
            card_path = p.with_suffix(".json")
            card = json.loads(card_path.read_text()) if card_path.is_file() else {}
            seen[p.stem] = {"name": p.stem, "path": str(p), "bytes": p.stat().st_size, **card}
    found = list(seen.values())
    return found if family is None else [c for c in found if arch_family(str(c.get("arch", ""))) == family]


@lru_cache(maxsize=8)
def _load_cached(path: str, mtime: float):
    from imagewizard.models.weights import load_model

    return load_model(path)


@lru_cache(maxsize=2)
def _load_diffusers_cached(path: str, mtime: float):
    from imagewizard.models.diffusers_unet import load_diffusers_unet

    model = load_diffusers_unet(path).eval()
    card_path = Path(path) / "card.json"
    card = json.loads(card_path.read_text()) if card_path.is_file() else {"arch": "diffusers-unet"}
    return model, card


def load(name_or_path: str | Path):
    """Load ``(model, card)`` by zoo name, .safetensors file, or diffusers UNet folder (cached per process)."""
    p = Path(name_or_path)
    if not (p.suffix == ".safetensors" and p.is_file() or _is_diffusers_dir(p)):
        p = require(str(name_or_path))
    if p.is_dir():
        return _load_diffusers_cached(str(p.resolve()), p.stat().st_mtime)
    return _load_cached(str(p.resolve()), p.stat().st_mtime)
