"""Users' own pretrained upscalers (``upscale --method model``): ESRGAN / Real-ESRGAN / SwinIR files.

:func:`load_sr_model` reads a ``.pth`` / ``.pt`` (tensors only: ``torch.load(weights_only=True)``,
never an arbitrary pickle) or ``.safetensors`` file, unwraps the usual containers (``params_ema``,
``params``, ``state_dict``, ``model``), recognises the architecture from the keys and the tensor
shapes, builds the network with :mod:`imagewizard.models.archs.rrdbnet`,
:mod:`imagewizard.models.archs.srvgg` or :mod:`imagewizard.models.archs.swinir` and loads it
strictly. What it recognises:

* **RRDBNet** (BasicSR / Real-ESRGAN layout): ``conv_first.weight`` and ``body.0.rdb1.conv1.weight``.
  ``num_feat`` is ``conv_first``'s output channels, ``num_grow_ch`` ``body.0.rdb1.conv1``'s,
  ``num_block`` the number of distinct ``body.N``. The scale comes from the pixel-unshuffle:
  ``conv_first``'s input channels over ``conv_last``'s output channels is 1, 4 or 16 for x4, x2, x1
  (the images are assumed to have as many channels in as out, as every published model does).
* **Old ESRGAN** (the 2018 release: ``model.0.weight``, ``model.1.sub.N.RDB1.conv1.0.weight``, ...):
  renamed by :func:`~imagewizard.models.archs.rrdbnet.convert_old_esrgan`, then as above (x4 only).
* **SRVGGNetCompact**: ``body.0.weight`` a 4-D conv and no ``conv_first``. The convolutions are the
  even ``body.N`` with 4-D weights; ``num_conv`` is (last index) / 2 - 1; ``prelu`` when the odd
  entries hold 1-D weights (PReLU slopes), ``relu`` when they hold none (a ``leakyrelu`` model
  has no weights either and cannot be told apart: it is loaded as ``relu``). The factor is
  ``sqrt(last conv's output channels / input channels)``.
* **SwinIR** (JingyunLiang/SwinIR layout: ``conv_first.weight`` and
  ``layers.0.residual_group.blocks.0...``): classical (``pixelshuffle``, x2/x3/x4/x8), lightweight
  (``pixelshuffledirect``) and real-world (``nearest+conv``, x2/x4) models, ``1conv`` or ``3conv``;
  groups, blocks, heads, window and MLP ratio are read from the keys and shapes
  (:func:`_swinir_config`). Denoising / JPEG SwinIRs (no upsampler) are refused.

The loaded network is wrapped in :class:`ForeignUpscaler`, which has the interface of the
project's own ``srnet`` (``forward(x, sigma=None, scale=None)``, ``scales``) so the tiled runner
:func:`imagewizard.models.upscale.upscale_tiled` runs it with bounded memory.

Examples
--------
>>> import numpy as np, torch, tempfile, os
>>> from imagewizard.models.archs.srvgg import SRVGGNetCompact
>>> path = os.path.join(tempfile.mkdtemp(), "tiny.pth")
>>> torch.save({"params": SRVGGNetCompact(num_feat=4, num_conv=1).state_dict()}, path)
>>> net, info = load_sr_model(path)
>>> info["arch"], info["scale"], info["config"]["num_conv"], info["path"]
('SRVGGNetCompact', 4, 1, 'tiny.pth')
>>> model(np.zeros((6, 5), np.float32), scale=4, weights=path).shape
(24, 20)
"""

from __future__ import annotations

import functools
import math
import os
import re
import warnings
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import numpy as np

from imagewizard.core.errors import ParameterError, plain_reason
from imagewizard.core.registry import Param, register

#: environment variable naming the weights file when ``weights`` is not given
ENV = "IMAGEWIZARD_SR_WEIGHTS"
#: low-resolution tile side
TILE = 192
#: tile margins, low-resolution pixels. The exact receptive field of a 23-block RRDBNet is ~350
#: pixels, far more than matters in practice (Real-ESRGAN's own tiler uses 10): the margin is the
#: exact radius for the small nets, capped, and never under 16 for the deep ones.
MIN_MARGIN, MAX_MARGIN = 16, 32
TORCH_SUFFIXES = (".pth", ".pt", ".ckpt", ".bin")
#: containers training code wraps state dicts in, in order of preference (EMA weights first, as
#: Real-ESRGAN's own inference does)
CONTAINERS = ("params_ema", "params", "state_dict", "model", "net", "generator")


def _round_up(n: int, m: int) -> int:
    return -(-int(n) // m) * m


def _fail(path: Path, problem: str):
    raise ParameterError(f"{path.name}: {problem}") from None


def _read(path: Path) -> dict:
    """The file's top-level object: a dict (of tensors, or of containers of tensors)."""
    suffix = path.suffix.lower()
    if suffix == ".safetensors":
        from safetensors.torch import load_file

        try:
            return load_file(str(path), device="cpu")
        except Exception as exc:  # noqa: BLE001 - any failure is a damaged or foreign file
            _fail(path, f"not a valid safetensors file ({plain_reason(exc)})")
    if suffix not in TORCH_SUFFIXES:
        _fail(path, f"expected a .pth, .pt or .safetensors weights file, not '{suffix or 'no extension'}'")
    if path.stat().st_size == 0:
        _fail(path, "the file is empty")
    import pickle

    try:
        with warnings.catch_warnings():  # e.g. the pickle-protocol note of the weights-only unpickler
            warnings.simplefilter("ignore")
            import torch

            obj = torch.load(str(path), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        if "weights only" in str(exc).lower():  # torch's refusal: the pickle holds code or custom classes
            _fail(
                path, "holds Python objects other than tensors; only plain state dicts are loaded, never pickled code"
            )
        _fail(path, "not a PyTorch weights file (or it is damaged)")
    except Exception:  # noqa: BLE001 - torch raises KeyError, EOFError, RuntimeError... on a foreign file
        _fail(path, "not a PyTorch weights file (or it is damaged)")
    if not isinstance(obj, dict):
        _fail(path, f"holds a {type(obj).__name__}, not a state dict of tensors")
    return obj


def _unwrap(path: Path, obj: dict) -> dict[str, Any]:
    """The state dict of tensors inside the usual training containers, ``module.`` prefixes removed."""
    import torch

    for _ in range(3):  # e.g. {"state_dict": {"params_ema": {...}}}
        if any(torch.is_tensor(v) for v in obj.values()):
            break
        inner = next((obj[k] for k in CONTAINERS if isinstance(obj.get(k), dict)), None)
        if inner is None:
            break
        obj = inner
    state = {str(k): v for k, v in obj.items() if torch.is_tensor(v)}
    if not state:
        found = ", ".join(map(str, list(obj)[:5])) or "nothing"
        _fail(path, f"no tensors found (top-level entries: {found})")
    if all(k.startswith("module.") for k in state):  # saved from a DataParallel wrapper
        state = {k[len("module.") :]: v for k, v in state.items()}
    return state


_BODY_INDEX = re.compile(r"^body\.(\d+)\.")


def detect(state: dict[str, Any]) -> tuple[str, str, dict[str, Any]]:
    """``(arch, layout, config)`` of a state dict; ``state`` renamed in place for the old layout.

    Raises ``ValueError`` with the reason when the keys match no known architecture.

    Examples
    --------
    >>> from imagewizard.models.archs.rrdbnet import RRDBNet
    >>> detect(RRDBNet(scale=2, num_feat=8, num_block=2, num_grow_ch=4).state_dict())[2]
    {'num_in_ch': 3, 'num_out_ch': 3, 'scale': 2, 'num_feat': 8, 'num_block': 2, 'num_grow_ch': 4}
    """
    from imagewizard.models.archs.rrdbnet import UNSHUFFLE, convert_old_esrgan, is_old_esrgan

    layout = "basicsr"
    if is_old_esrgan(state):
        converted = convert_old_esrgan(state)
        state.clear()
        state.update(converted)
        layout = "old-esrgan"
    if "conv_first.weight" in state and "body.0.rdb1.conv1.weight" in state:
        if "conv_up3.weight" in state:
            raise ValueError("an x8 RRDBNet (conv_up3) is not supported: only x1, x2 and x4 models")
        first, last = state["conv_first.weight"], state.get("conv_last.weight")
        if last is None or first.ndim != 4 or last.ndim != 4:
            raise ValueError("an RRDBNet without conv_first / conv_last convolutions")
        ratio, out_ch = first.shape[1] / last.shape[0], int(last.shape[0])
        scale = next((s for s, f in UNSHUFFLE.items() if ratio == f * f), None)
        if scale is None:
            raise ValueError(f"an RRDBNet with {first.shape[1]} input and {out_ch} output channels: no known scale")
        blocks = {int(m.group(1)) for k in state if (m := _BODY_INDEX.match(k))}
        config = {
            "num_in_ch": out_ch,
            "num_out_ch": out_ch,
            "scale": scale,
            "num_feat": int(first.shape[0]),
            "num_block": len(blocks),
            "num_grow_ch": int(state["body.0.rdb1.conv1.weight"].shape[0]),
        }
        return "RRDBNet", layout, config
    if "conv_first.weight" in state and any(k.startswith("layers.0.residual_group.blocks.0.") for k in state):
        return "SwinIR", "swinir", _swinir_config(state)
    w0 = state.get("body.0.weight")
    if w0 is not None and w0.ndim == 4 and "conv_first.weight" not in state:
        index = {int(m.group(1)) for k in state if (m := _BODY_INDEX.match(k))}
        last = max(index)
        w_last = state.get(f"body.{last}.weight")
        if last % 2 or last < 2 or w_last is None or w_last.ndim != 4:
            raise ValueError(f"body.{last} is not the final convolution of an SRVGGNetCompact")
        prelu = any(f"body.{i}.weight" in state for i in range(1, last, 2))
        in_ch, out_maps = int(w0.shape[1]), int(w_last.shape[0])
        upscale = math.isqrt(out_maps // in_ch)
        if upscale < 1 or upscale * upscale * in_ch != out_maps:
            raise ValueError(f"an SRVGGNetCompact whose last conv has {out_maps} maps for {in_ch} channels")
        config = {
            "num_in_ch": in_ch,
            "num_out_ch": in_ch,
            "num_feat": int(w0.shape[0]),
            "num_conv": last // 2 - 1,
            "upscale": upscale,
            "act_type": "prelu" if prelu else "relu",
        }
        return "SRVGGNetCompact", "realesrgan", config
    keys = ", ".join(list(state)[:3])
    raise ValueError(f"not an RRDBNet (ESRGAN / Real-ESRGAN), SRVGGNetCompact or SwinIR state dict (keys: {keys}, ...)")


_SWIN_BLOCK = re.compile(r"^layers\.(\d+)\.residual_group\.blocks\.(\d+)\.")


def _swinir_config(state: dict[str, Any]) -> dict[str, Any]:
    """The :class:`~imagewizard.models.archs.swinir.SwinIR` arguments a state dict implies.

    Groups and blocks from the ``layers.I.residual_group.blocks.J`` names; heads and window from
    each group's relative-position bias table (``(2 ws - 1)^2`` rows, one column per head); the
    MLP ratio from ``fc1``; the head from its layers (``conv_up1``: real-world, ``conv_before_upsample``
    with ``upsample``: classical, ``upsample`` alone: lightweight). ``img_range`` is not in the
    weights: 1.0, as in every released SR model.
    """
    first = state["conv_first.weight"]
    embed, in_ch = int(first.shape[0]), int(first.shape[1])
    if "absolute_pos_embed" in state:
        raise ValueError("a SwinIR with an absolute position embedding (ape) only runs at its training size")
    blocks: dict[int, set[int]] = {}
    for k in state:
        if m := _SWIN_BLOCK.match(k):
            blocks.setdefault(int(m.group(1)), set()).add(int(m.group(2)))
    groups = sorted(blocks)
    if groups != list(range(len(groups))) or any(sorted(b) != list(range(len(b))) for b in blocks.values()):
        raise ValueError("a SwinIR whose layers / blocks are not numbered 0, 1, 2, ...")
    heads, window = [], None
    for i in groups:
        table = state.get(f"layers.{i}.residual_group.blocks.0.attn.relative_position_bias_table")
        if table is None or table.ndim != 2:
            raise ValueError(f"a SwinIR without a relative position bias table in layer {i}")
        side = math.isqrt(int(table.shape[0]))
        ws = (side + 1) // 2
        if side * side != table.shape[0] or side % 2 == 0 or (window is not None and ws != window):
            raise ValueError(f"a SwinIR whose bias table in layer {i} has {table.shape[0]} rows: no square window")
        window = ws
        heads.append(int(table.shape[1]))
    fc1 = state.get("layers.0.residual_group.blocks.0.mlp.fc1.weight")
    if fc1 is None:
        raise ValueError("a SwinIR without an MLP in its first block")
    if "layers.0.conv.weight" in state:
        resi = "1conv"
    elif "layers.0.conv.0.weight" in state:
        resi = "3conv"
    else:
        raise ValueError("a SwinIR without the convolution that closes each residual group")
    if "conv_up3.weight" in state:
        raise ValueError("an x8 real-world SwinIR (conv_up3) is not supported: only x2 and x4")
    if "conv_up1.weight" in state:
        upsampler, upscale = "nearest+conv", 4 if "conv_up2.weight" in state else 2
    elif "conv_before_upsample.0.weight" in state and "upsample.0.weight" in state:
        upsampler = "pixelshuffle"
        convs = [state[k] for k in sorted(state) if re.fullmatch(r"upsample\.\d+\.weight", k)]
        feat = int(state["conv_before_upsample.0.weight"].shape[0])
        if len(convs) == 1 and convs[0].shape[0] == 9 * feat:
            upscale = 3
        elif all(c.shape[0] == 4 * feat for c in convs):
            upscale = 2 ** len(convs)
        else:
            raise ValueError("a SwinIR whose pixel-shuffle upsampler matches no x2 / x3 / x4 / x8 layout")
    elif "upsample.0.weight" in state:
        upsampler = "pixelshuffledirect"
        maps = int(state["upsample.0.weight"].shape[0])
        upscale = math.isqrt(maps // in_ch)
        if upscale < 2 or upscale * upscale * in_ch != maps:
            raise ValueError(f"a lightweight SwinIR whose last conv has {maps} maps for {in_ch} channels")
    else:
        raise ValueError("a SwinIR without an upsampler: a denoising / JPEG model, not an upscaler")
    return {
        "in_chans": in_ch,
        "embed_dim": embed,
        "depths": [len(blocks[i]) for i in groups],
        "num_heads": heads,
        "window_size": window,
        "mlp_ratio": int(fc1.shape[0]) / embed,
        "qkv_bias": "layers.0.residual_group.blocks.0.attn.qkv.bias" in state,
        "patch_norm": "patch_embed.norm.weight" in state,
        "upscale": upscale,
        "upsampler": upsampler,
        "resi_connection": resi,
    }


def _build(arch: str, config: dict[str, Any]):
    if arch == "SwinIR":
        from imagewizard.models.archs.swinir import SwinIR

        return SwinIR(**config)
    if arch == "RRDBNet":
        from imagewizard.models.archs.rrdbnet import RRDBNet

        return RRDBNet(**config)
    from imagewizard.models.archs.srvgg import SRVGGNetCompact

    return SRVGGNetCompact(**config)


@functools.lru_cache(maxsize=4)
def _load_cached(resolved: str, mtime_ns: int, size: int):
    # keyed on the file's modification time and size too, so an overwritten file is read again
    path = Path(resolved)
    state = _unwrap(path, _read(path))
    try:
        arch, layout, config = detect(state)
    except ValueError as exc:
        _fail(path, str(exc))
    net = _build(arch, config)
    if arch == "SwinIR":  # upstream files also hold buffers that are recomputed here
        from imagewizard.models.archs.swinir import strip_derived

        state = strip_derived(state)
    try:
        net.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        # torch's message lists every missing key over many lines: say what kind and how many
        text = str(exc)
        missing = re.search(r"Missing key\(s\) in state_dict: ([^\n]*)", text)
        unexpected = re.search(r"Unexpected key\(s\) in state_dict: ([^\n]*)", text)
        parts = []
        for label, m in (("missing", missing), ("unexpected", unexpected)):
            if m:
                names = re.findall(r'"([^"]+)"', m.group(1))
                parts.append(f"{len(names)} {label} key(s), e.g. {names[0]}" if names else label + " keys")
        if not parts and "size mismatch" in text:
            first = re.search(r"size mismatch for ([^:]+)", text)
            parts.append(f"shape mismatch for {first.group(1) if first else 'a tensor'}")
        _fail(path, f"looks like {arch} but does not load into it ({'; '.join(parts) or plain_reason(exc)})")
    net.eval()
    info = {
        "arch": arch,
        "scale": int(config.get("scale", config.get("upscale"))),
        "params": sum(p.numel() for p in net.parameters()),
        "path": path.name,
        "layout": layout,
        "config": config,
    }
    from imagewizard.models.archs.foreign import ForeignUpscaler

    return ForeignUpscaler(net, arch).eval(), info


def load_sr_model(path: str | os.PathLike):
    """Load a user's ESRGAN / Real-ESRGAN / SwinIR weights file; cached per process.

    Parameters
    ----------
    path : str or path-like
        A ``.pth`` / ``.pt`` (tensors only) or ``.safetensors`` file of an RRDBNet (new or old
        ESRGAN layout), an SRVGGNetCompact or a SwinIR upscaler.

    Returns
    -------
    module : ForeignUpscaler
        The network in eval mode, wrapped with the interface of the project's upscalers
        (``module.net`` is the bare network).
    info : dict
        ``arch`` (``'RRDBNet'`` / ``'SRVGGNetCompact'`` / ``'SwinIR'``), ``scale``, ``params`` (count), ``path``
        (the file name), ``layout`` (``'basicsr'``, ``'old-esrgan'`` or ``'realesrgan'``) and
        ``config`` (the constructor's arguments).

    Raises
    ------
    ParameterError
        One line naming the file and the problem: missing, unreadable, not tensors, or an
        unknown architecture.
    """
    if find_spec("torch") is None:
        raise ParameterError("loading .pth / .safetensors upscalers needs torch: install torch")
    p = Path(os.path.expanduser(str(path)))
    try:
        st = p.resolve().stat()
    except OSError:
        raise ParameterError(f"{p.name}: weights file not found ({p})") from None
    if not p.is_file():
        raise ParameterError(f"{p.name}: not a file ({p})")
    module, info = _load_cached(str(p.resolve()), st.st_mtime_ns, st.st_size)
    return module, {**info, "config": dict(info["config"])}  # callers may edit their copy


def _weights_missing(weights: str | None) -> str | None:
    """Why ``model`` cannot run without a weights file: none given and ``$IMAGEWIZARD_SR_WEIGHTS``
    unset (so ``--methods all`` and listings skip it rather than fail on every image)."""
    if weights or os.environ.get(ENV, "").strip():
        return None
    return f"needs weights=PATH (a .pth or .safetensors file of RRDBNet, SRVGGNetCompact or SwinIR) or ${ENV}"


@register(
    "upscale",
    "model",
    "Your own pretrained upscaler (ESRGAN/Real-ESRGAN RRDBNet, SRVGGNetCompact or SwinIR) from a .pth or .safetensors file.",
    params=(
        Param("weights", str, None, f"path of the .pth/.safetensors file; auto: ${ENV}"),
        Param("tile", int, TILE, "low-resolution tile side (memory bound)", low=32, high=4096),
    ),
    needs=("scale",),
    requires=("torch",),
    tags=("learned",),
    check=lambda params: _weights_missing(params.get("weights")),
)
def model(img: np.ndarray, *, scale: int, weights: str | None = None, tile: int = TILE) -> np.ndarray:
    """Upscale ``img`` (HxW or HxWx3 float32 in [0, 1]) with the network in ``weights``.

    The weights fix the factor: asking for another ``scale`` is an error. Gray runs as three
    equal channels and comes back HxW; the output is float32 clipped to [0, 1]. The image is
    processed in ``tile``-sized low-resolution tiles with a margin of context (see
    :attr:`ForeignUpscaler.margin`), so large images need bounded memory.
    """
    from imagewizard.models.upscale import upscale_tiled

    weights = weights or os.environ.get(ENV, "").strip() or None
    if weights is None:
        raise ParameterError(f"method 'model' {_weights_missing(None)}")
    net, info = load_sr_model(weights)
    if int(scale) != net.scale:
        raise ParameterError(
            f"method 'model': {info['path']} upscales by {net.scale}, not {scale}; use --scale {net.scale}"
        )
    # tiles and margins on the unshuffle's multiple keep every tile's pixel grid that of the whole image
    tile = _round_up(tile, net.multiple)
    x = np.asarray(img, np.float32)
    return upscale_tiled(net, x, net.scale, tile=tile, margin=net.margin).astype(np.float32, copy=False)
