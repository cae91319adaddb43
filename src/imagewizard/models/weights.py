"""Saving and loading trained weights: safetensors plus a JSON model card.

A model is two files side by side: ``NAME.safetensors`` (the tensors, with
the architecture name and config in the safetensors metadata) and
``NAME.json`` (the card: data, command, steps, wall time, measured
PSNR/SSIM). Tensors are stored as float16 when float32 would exceed the
size budget; they are cast back to float32 on load.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from imagewizard.core.errors import ParameterError, plain_reason

#: Keep each shipped weight file under this many bytes (repository rule: 20 MB).
MAX_BYTES = 19_000_000


def _atomic_bytes(path: Path, data: bytes) -> None:
    from imagewizard.io import atomic_write

    atomic_write(path, data)


def save_model(
    path: str | Path, state_dict: dict, arch: str, config: dict[str, Any], card: dict[str, Any] | None = None
) -> Path:
    """Write ``path`` (.safetensors) and its card (.json beside it)."""
    import torch
    from safetensors.torch import save

    path = Path(path).with_suffix(".safetensors")
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in state_dict.items()}
    nbytes = sum(t.numel() * t.element_size() for t in tensors.values())
    dtype = "float32"
    if nbytes > MAX_BYTES:
        tensors = {k: (v.half() if v.is_floating_point() else v) for k, v in tensors.items()}
        dtype = "float16"
    meta = {"arch": arch, "config": json.dumps(_jsonable(config)), "dtype": dtype}
    data = save(tensors, metadata=meta)
    if len(data) > MAX_BYTES:
        raise ParameterError(
            f"{path.name}: {len(data) / 1e6:.1f} MB even in float16; over the {MAX_BYTES / 1e6:.0f} MB budget"
        )
    _atomic_bytes(path, data)
    full_card = {"arch": arch, "config": _jsonable(config), "dtype": dtype, "bytes": len(data), **(card or {})}
    _atomic_bytes(path.with_suffix(".json"), (json.dumps(full_card, indent=2) + "\n").encode())
    del torch
    return path


def load_model(path: str | Path, *, build=None, known=None, kind: str = "a known architecture"):
    """Load a model saved by :func:`save_model`; returns ``(model, card)`` with the model in eval mode.

    ``build(arch, **config)`` and ``known`` (the architecture names it accepts) default to the
    denoisers of :mod:`imagewizard.models.archs`; other model families (the digit generators) pass theirs.
    """
    from safetensors import safe_open
    from safetensors.torch import load_file

    if build is None:
        from imagewizard.models.archs import ARCHS, build

        known = ARCHS
    path = Path(path)
    if not path.is_file():
        raise ParameterError(f"{path}: weights file not found")
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
        tensors = load_file(str(path))
    except Exception as exc:  # corrupt or not a safetensors file
        raise ParameterError(f"{path}: not a valid safetensors weights file ({plain_reason(exc)})") from None
    arch = meta.get("arch")
    if arch is None:
        raise ParameterError(f"{path}: no architecture recorded in the weights' metadata")
    if known is not None and arch not in known:
        raise ParameterError(f"{path}: architecture '{arch}' is not {kind} ({', '.join(known)})")
    config = json.loads(meta.get("config", "{}"))
    config = {k: tuple(v) if isinstance(v, list) else v for k, v in config.items()}
    model, _ = build(arch, **config)
    try:
        model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in tensors.items()})
    except RuntimeError as exc:
        raise ParameterError(
            f"{path}: weights do not fit the recorded {arch} config ({str(exc).splitlines()[0]})"
        ) from None
    model.eval()
    card_path = path.with_suffix(".json")
    card = json.loads(card_path.read_text()) if card_path.is_file() else {"arch": arch, "config": config}
    return model, card


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    return obj
