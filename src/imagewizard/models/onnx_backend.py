"""CPU inference through ONNX Runtime: the same network and weights, 1.5-2x faster than PyTorch eager here.

Each weights file is exported once (by PyTorch's exporter) to an ONNX graph kept in the user's cache,
named by the SHA-256 of the weights and the export format. A later process that finds the graph runs
it with ONNX Runtime and never imports torch (which costs ~1.3 s of every short command).

Why not ship the graphs: the safetensors file stays the one source of the weights (a user's retrained
``unet-color`` gets its own graph automatically), and a graph is only made for weights actually used.

The graph is traced at a size that is a multiple of the network's down-sampling factor, so it holds
no padding branch: :class:`OrtNet` pads with edge values (what the network's own replicate padding
does) and crops, which gives the PyTorch output to float rounding (tested).
"""

from __future__ import annotations

import copy
import hashlib
import io
import json
import os
import warnings
from functools import lru_cache
from importlib.util import find_spec
from pathlib import Path

import numpy as np

from imagewizard.core.errors import ParameterError

#: Bump when the export changes: old graphs are then ignored (and re-made).
FORMAT = "imagewizard-onnx-2"  # 2: blind U-Nets take their map scale (strength) as an input
#: Architectures whose graphs export and run identically (tested); the rest stay on PyTorch.
ARCHS = frozenset({"unet", "unet-blind", "dncnn", "rednet"})
BACKENDS = ("onnx", "torch")  # and auto (None)
BACKEND_HELP = (
    "inference engine on the CPU: auto (ONNX Runtime when installed and the network exports, else "
    "PyTorch), onnx, or torch; GPUs always use PyTorch"
)


def available() -> bool:
    """True when ONNX Runtime (to run graphs) and onnx (to write them) are installed."""
    return find_spec("onnxruntime") is not None and find_spec("onnx") is not None


def cache_dir() -> Path:
    """Where exported graphs live: ``$IMAGEWIZARD_CACHE``, else ``$XDG_CACHE_HOME/imagewizard``, else
    ``~/.cache/imagewizard``."""
    if os.environ.get("IMAGEWIZARD_CACHE"):
        return Path(os.environ["IMAGEWIZARD_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "imagewizard"


def torch_cpu_only() -> bool:
    """True when the installed torch is a CPU-only build, read from its version file without importing it
    (so ``device=auto`` can pick the CPU, and ONNX Runtime, without paying torch's import)."""
    spec = find_spec("torch")
    if spec is None or not spec.submodule_search_locations:
        return True
    version = Path(next(iter(spec.submodule_search_locations))) / "version.py"
    try:
        text = version.read_text()
    except OSError:
        return False
    for line in text.splitlines():
        if line.startswith("cuda") and "=" in line:
            return line.split("=", 1)[1].strip() == "None"
    return False


def weights_header(path: str | Path) -> tuple[str, dict]:
    """``(arch, config)`` recorded in a safetensors file's metadata, read without torch."""
    from safetensors import safe_open

    with safe_open(str(path), framework="numpy") as f:
        meta = f.metadata() or {}
    if "arch" not in meta:
        raise ParameterError(f"{path}: no architecture recorded in the weights' metadata")
    return meta["arch"], json.loads(meta.get("config", "{}"))


def exportable(path: str | Path) -> bool:
    """True when the weights' architecture runs on ONNX Runtime here."""
    try:
        arch, _ = weights_header(path)
    except Exception:  # unreadable weights: let the PyTorch loader give its error
        return False
    return arch in ARCHS


def graph_path(weights: str | Path) -> Path:
    """The cached graph's file for ``weights`` (named by the weights' content and :data:`FORMAT`)."""
    st = os.stat(weights)
    return cache_dir() / "onnx" / f"{Path(weights).stem}-{_digest(str(weights), st.st_mtime_ns, st.st_size)}.onnx"


@lru_cache(maxsize=32)
def _digest(path: str, mtime_ns: int, size: int) -> str:
    """SHA-256 (16 hex digits) of the weights and the format, once per file version and process."""
    h = hashlib.sha256(FORMAT.encode())
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()[:16]


def export(weights: str | Path) -> bytes:
    """The ONNX graph (bytes) of the network in ``weights``, with its tiling facts as metadata."""
    import onnx
    import torch

    from imagewizard.models import zoo

    net, _card = zoo.load(weights)

    # a blind U-Net (the real-photo denoiser) ignores sigma; its second input is the scale of its
    # estimated noise map, so ``strength`` runs here too
    scaled = hasattr(net, "estimate")

    class Plain(torch.nn.Module):  # exactly (x, sigma) or (x, strength)
        def __init__(self):
            super().__init__()
            self.net = net

        def forward(self, x, second):
            return self.net(x, None, strength=second) if scaled else self.net(x, second)

    model = Plain().eval()
    model.in_channels = net.in_channels
    for k in ("multiple", "receptive_margin"):
        if hasattr(net, k):
            setattr(model, k, getattr(net, k))
    multiple = int(getattr(model, "multiple", 1))
    side = max(64, multiple * 4)  # a multiple of `multiple`: the traced graph holds no padding branch
    x = torch.rand(1, int(model.in_channels), side, side)
    s = torch.full((1,), 0.5) if scaled else torch.full((1,), 25 / 255.0)
    second = "strength" if scaled else "sigma"
    buf = io.BytesIO()
    with warnings.catch_warnings():  # the legacy exporter's deprecation and tracer notes are not the user's
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model,
            (x, s),
            buf,
            input_names=["x", second],
            output_names=["y"],
            dynamic_axes={
                "x": {0: "n", 2: "h", 3: "w"},
                "y": {0: "n", 2: "h", 3: "w"},
                **({} if scaled else {"sigma": {0: "n"}}),
            },
            dynamo=False,
            opset_version=17,
        )
    graph = onnx.load_from_string(buf.getvalue())
    facts = {
        "format": FORMAT,
        "multiple": multiple,
        "receptive_margin": int(getattr(model, "receptive_margin", 64)),
        "in_channels": int(model.in_channels),
    }
    for k, v in facts.items():
        graph.metadata_props.add(key=f"imagewizard.{k}", value=str(v))
    return graph.SerializeToString()


def export_map(weights: str | Path) -> bytes:
    """The ONNX graph (bytes) of a blind U-Net's noise estimator alone: ``x`` (N, C, H, W), sides a
    multiple of the network's, to ``map`` (N, C, H/shuffle, W/shuffle) on the 0..255 sigma scale, the
    map of :meth:`~imagewizard.models.archs.unet_blind.BlindUNet.noise_map` before its nearest-
    neighbour enlargement (a few small convolutions: the wizard reads its level without torch)."""
    import onnx
    import torch

    from imagewizard.models import zoo

    net, _card = zoo.load(weights)
    if not hasattr(net, "estimate"):
        raise ValueError("not a blind network: it has no noise estimator")
    den = net.denoiser

    class Estimator(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.net = net

        def forward(self, x):
            y = torch.nn.functional.pixel_unshuffle(x, den.shuffle) if den.shuffle > 1 else x
            return 255.0 * self.net.estimate(y)

    side = max(64, int(den.multiple) * 4)
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            Estimator().eval(),
            (torch.rand(1, int(net.in_channels), side, side),),
            buf,
            input_names=["x"],
            output_names=["map"],
            dynamic_axes={"x": {0: "n", 2: "h", 3: "w"}, "map": {0: "n", 2: "h", 3: "w"}},
            dynamo=False,
            opset_version=17,
        )
    graph = onnx.load_from_string(buf.getvalue())
    facts = {
        "format": FORMAT,
        "multiple": int(den.multiple),
        "receptive_margin": 0,
        "in_channels": int(net.in_channels),
        "shuffle": int(den.shuffle),
    }
    for k, v in facts.items():
        graph.metadata_props.add(key=f"imagewizard.{k}", value=str(v))
    return graph.SerializeToString()


def load_map(weights: str | Path, threads: int = 1):
    """``f(x) -> map``: the noise estimator of the blind network in ``weights`` on ONNX Runtime, for
    one HxWxC float32 image in [0, 1], giving the HxWxC map on the 0..255 scale (as
    ``BlindUNet.noise_map``: edge-padded to the network's multiple, enlarged by nearest neighbour,
    cropped). Exported once and cached beside the denoiser's graph."""
    weights = Path(weights)
    path = graph_path(weights)
    path = path.with_name(path.stem + "-map.onnx")
    net = None
    if path.is_file():
        try:
            net = _session(str(path), path.stat().st_mtime, threads)
        except Exception:  # damaged: export again
            net = None
    if net is None:
        data = export_map(weights)
        _save_quietly(path, data)
        net = _session(str(path), path.stat().st_mtime, threads) if path.is_file() else _open(data, threads, False)
    m = net.multiple
    shuffle = int(net.session.get_modelmeta().custom_metadata_map.get("imagewizard.shuffle", "1"))

    def run(img: np.ndarray) -> np.ndarray:
        h, w = img.shape[:2]
        x = np.pad(img, ((0, (-h) % m), (0, (-w) % m), (0, 0)), mode="edge").transpose(2, 0, 1)[None]
        out = net.session.run(None, {"x": np.ascontiguousarray(x, dtype=np.float32)})[0][0]
        if shuffle > 1:
            out = out.repeat(shuffle, axis=1).repeat(shuffle, axis=2)
        return out[:, :h, :w].transpose(1, 2, 0)

    return run


def _save_quietly(path: Path, data: bytes) -> None:
    """Write the graph atomically (temp file + rename, so that concurrent processes never read half a
    graph); a cache that cannot be written only costs the next process another export."""
    from imagewizard.io import atomic_write

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, data, what="model cache")
    except (OSError, ParameterError):
        pass


class OrtNet:
    """A network on ONNX Runtime with the interface :mod:`imagewizard.models.infer` tiles:
    ``multiple``, ``receptive_margin``, ``in_channels`` and :meth:`run_numpy`."""

    #: Memory budget per input pixel for the tile size: ONNX Runtime's activations take 281-290 bytes
    #: (measured at 0.25-2.4 MP; PyTorch eager needs ~1200), a whole-image pass on the arena ~400;
    #: with this margin a 1 MP photo runs whole and a 12 MP photo stays near 1.3 GB in all.
    bytes_per_pixel = 600

    def __init__(self, session, facts: dict, tiles=None):
        self.session = session
        self._tiles = tiles  # makes the session for tiled runs (no memory arena), on first need
        self.multiple = int(facts["multiple"])
        self.receptive_margin = int(facts["receptive_margin"])
        self.in_channels = int(facts["in_channels"])
        self.inputs = {i.name for i in session.get_inputs()}  # blind networks' graphs drop the unused sigma
        self.strength = 1.0  # the noise-map scale of a graph with a ``strength`` input (blind U-Nets)

    def with_strength(self, strength: float) -> "OrtNet":
        """The same session run with its estimated noise map scaled by ``strength`` (0: the input back)."""
        if "strength" not in self.inputs:
            raise ValueError("this graph has no strength input")
        other = copy.copy(self)
        other.strength = float(strength)
        return other

    def run_numpy(self, x: np.ndarray, sigma: float, *, tiled: bool = False) -> np.ndarray:
        """Denoise ``x`` (N, C, H, W) float32; ``sigma`` on the 0..255 scale.

        ``tiled``: one window of many. ONNX Runtime's memory arena keeps (and doubles) what its runs
        allocated, which over the tiles of a 12 MP photo grew to 1.7 GB; tiles therefore run on a
        session without it (1.25 GB), and a single whole-image pass on the arena (10 % faster)."""
        h, w = x.shape[-2:]
        if self.strength == 0.0 and "strength" in self.inputs:  # off means the input back
            return np.asarray(x, dtype=np.float32)
        m = self.multiple
        ph, pw = (-h) % m, (-w) % m
        if ph or pw:
            x = np.pad(x, ((0, 0), (0, 0), (0, ph), (0, pw)), mode="edge")
        feed = {"x": np.ascontiguousarray(x, dtype=np.float32)}
        if "sigma" in self.inputs:
            feed["sigma"] = np.full((x.shape[0],), sigma / 255.0, dtype=np.float32)
        if "strength" in self.inputs:
            feed["strength"] = np.full((1,), self.strength, dtype=np.float32)
        session = self.session
        if tiled and self._tiles is not None:
            session = self._tiles()
        y = session.run(None, feed)[0]
        return y[..., :h, :w]


@lru_cache(maxsize=8)
def _session(path: str, mtime: float, threads: int, arena: bool = True) -> OrtNet:
    return _open(path, threads, arena, lambda: _session(path, mtime, threads, False).session)


def _open(source: str | bytes, threads: int, arena: bool, tiles=None) -> OrtNet:
    """A session on a graph file or the graph's bytes; ``tiles`` makes the arena-free one for tiled runs."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.enable_cpu_mem_arena = arena
    so.intra_op_num_threads = max(int(threads), 1)
    so.inter_op_num_threads = 1
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")  # idle threads must not spin on cores
    so.log_severity_level = 3
    session = ort.InferenceSession(source, so, providers=["CPUExecutionProvider"])
    meta = session.get_modelmeta().custom_metadata_map
    facts = {k.removeprefix("imagewizard."): v for k, v in meta.items() if k.startswith("imagewizard.")}
    if facts.get("format") != FORMAT:
        raise ValueError("not an imagewizard graph of this format")
    return OrtNet(session, facts, tiles if arena else None)


def load(weights: str | Path, threads: int) -> OrtNet:
    """The network in ``weights`` on ONNX Runtime with ``threads`` CPU threads (exported and cached on
    first use; a damaged cached graph is made again)."""
    if not available():
        raise ParameterError("backend=onnx needs onnxruntime and onnx (pip install onnxruntime onnx)")
    weights = Path(weights)
    path = graph_path(weights)
    if path.is_file():
        try:
            return _session(str(path), path.stat().st_mtime, threads)
        except Exception:  # truncated or foreign file under our name: export again below
            pass
    data = export(weights)
    _save_quietly(path, data)
    if path.is_file():
        try:
            return _session(str(path), path.stat().st_mtime, threads)
        except Exception:
            pass
    return _open(data, threads, arena=False)  # the cache cannot be written: run from memory
