"""Load, wrap and save diffusers-format ``UNet2DModel`` noise predictors (e.g. ``google/ddpm-celeba-hq``).

A pipeline directory as published on the hub holds ``model_index.json``,
``unet/`` (config.json + weights) and ``scheduler/scheduler_config.json``;
:func:`load_diffusers_unet` reads that layout or a bare UNet directory, and
:func:`save_diffusers_unet` writes the pipeline layout (loadable again here
and by ``diffusers.DDPMPipeline.from_pretrained``) plus a ``card.json``.

Example
-------
>>> import torch
>>> model = DiffusersEps(tiny_unet())
>>> model(torch.zeros(1, 3, 16, 16), torch.tensor([10])).shape
torch.Size([1, 3, 16, 16])
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn

from imagewizard.core.errors import ParameterError


def _one_line(e: BaseException) -> str:
    from imagewizard.core.errors import plain_reason

    return plain_reason(e)


def _offline() -> bool:
    # huggingface_hub reads HF_HUB_OFFLINE once at import; read it per call so that setting it
    # later (tests, the CLI) still prevents any network attempt.
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}


def _hub_reachable(timeout: float = 3.0) -> bool:
    # Without this probe an offline machine spends ~25 s per attempt in huggingface_hub's retries.
    import socket
    from urllib.parse import urlparse

    from huggingface_hub import constants

    url = urlparse(constants.ENDPOINT)
    try:
        socket.create_connection(
            (url.hostname, url.port or (443 if url.scheme == "https" else 80)), timeout=timeout
        ).close()
        return True
    except OSError:
        return False


def _quiet_kwargs() -> dict:
    # Without accelerate diffusers falls back to low_cpu_mem_usage=False anyway, but warns each load.
    from diffusers.utils import is_accelerate_available

    return {"low_cpu_mem_usage": bool(is_accelerate_available())}


def _looks_like_path(s: str) -> bool:
    # Hub ids are "name" or "org/name"; anything else that does not exist is a missing directory.
    return s.startswith((".", "/", "~", "\\")) or s.count("/") > 1 or "\\" in s or os.path.isabs(s)


def _read_json(path: Path) -> dict | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def load_diffusers_unet(path_or_id: str, *, subfolder: str | None = None) -> "DiffusersEps":
    """Load a diffusers ``UNet2DModel`` (and its scheduler config) as a :class:`DiffusersEps`.

    Parameters
    ----------
    path_or_id : str
        A local directory (pipeline layout with ``unet/config.json``, or a bare
        UNet directory with ``config.json``) or a hub id such as
        ``google/ddpm-celeba-hq`` (needs the network, or the hub cache; with
        ``HF_HUB_OFFLINE=1`` only the cache is tried).
    subfolder : str or None
        Overrides the UNet subfolder (default: ``"unet"`` when present/for hub ids).

    Returns
    -------
    DiffusersEps
        The wrapped UNet, in eval mode; ``.scheduler_config`` is the scheduler's
        config dict when one was found, else None.

    Raises
    ------
    ParameterError
        Missing directory, no config, not a ``UNet2DModel``, or a hub id that
        could not be loaded.

    Example
    -------
    >>> model = load_diffusers_unet("runs/ddpm-celeba-hq")  # doctest: +SKIP
    """
    from diffusers import DDPMScheduler, UNet2DModel

    p = Path(str(path_or_id)).expanduser()
    if p.exists():
        if not p.is_dir():
            raise ParameterError(f"diffusers model must be a directory, got a file: {p}")
        if subfolder is None:
            subfolder = "unet" if (p / "unet" / "config.json").is_file() else None
        unet_dir = p / subfolder if subfolder else p
        cfg = _read_json(unet_dir / "config.json")
        if cfg is None:
            raise ParameterError(f"no diffusers UNet in {p}: missing or unreadable {unet_dir / 'config.json'}")
        cls = cfg.get("_class_name", "UNet2DModel")
        if cls != "UNet2DModel":
            raise ParameterError(f"{unet_dir} holds a {cls}; only unconditional UNet2DModel (DDPM-style) is supported")
        try:
            unet = UNet2DModel.from_pretrained(str(p), subfolder=subfolder, local_files_only=True, **_quiet_kwargs())
        except Exception as e:  # noqa: BLE001 - diffusers raises many types for bad files
            raise ParameterError(f"could not load the diffusers UNet from {unet_dir}: {_one_line(e)}") from None
        sched = None
        for cand in (p / "scheduler" / "scheduler_config.json", p / "scheduler_config.json"):
            if cand.is_file():
                sched = _read_json(cand)
                break
        return DiffusersEps(unet, scheduler_config=sched)

    if _looks_like_path(str(path_or_id)):
        raise ParameterError(f"diffusers model directory not found: {p}")
    offline = _offline() or not _hub_reachable()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # deprecation chatter from inside diffusers/huggingface_hub
        try:
            try:
                unet = UNet2DModel.from_pretrained(
                    path_or_id, subfolder=subfolder or "unet", local_files_only=offline, **_quiet_kwargs()
                )
            except Exception:  # noqa: BLE001 - repos with the UNet at the top level
                if subfolder is not None:
                    raise
                unet = UNet2DModel.from_pretrained(path_or_id, local_files_only=offline, **_quiet_kwargs())
        except Exception as e:  # noqa: BLE001
            raise ParameterError(
                f"could not load diffusers model {path_or_id!r} from the hub "
                f"({_one_line(e)}); without network access only local directories work"
            ) from None
        try:
            sched = dict(DDPMScheduler.load_config(path_or_id, subfolder="scheduler", local_files_only=offline))
        except Exception:  # noqa: BLE001 - a UNet without a scheduler is still usable
            sched = None
    return DiffusersEps(unet, scheduler_config=sched)


class DiffusersEps(nn.Module):
    """A diffusers ``UNet2DModel`` as an epsilon predictor: ``forward(x_t, t) -> noise``.

    Parameters
    ----------
    unet : diffusers.UNet2DModel
        The wrapped model, available as ``.unet``.
    scheduler_config : dict or None
        The noise scheduler's config, kept for saving and for the training loop.

    Attributes
    ----------
    in_channels, sample_size : int
        From the UNet config.

    Example
    -------
    >>> eps = DiffusersEps(tiny_unet(sample_size=16))
    >>> eps.in_channels, eps.sample_size
    (3, 16)
    """

    def __init__(self, unet, scheduler_config: dict[str, Any] | None = None):
        super().__init__()
        self.unet = unet
        self.scheduler_config = dict(scheduler_config) if scheduler_config else None
        self.in_channels = int(unet.config.in_channels)
        self.sample_size = unet.config.sample_size
        if isinstance(self.sample_size, (list, tuple)):
            self.sample_size = tuple(int(s) for s in self.sample_size)
        # Image sides must be multiples of the total down-sampling; tiles keep this much context
        # (attention blocks see the whole tile, so tiled results differ slightly from whole-image ones).
        self.multiple = 2 ** (len(unet.config.block_out_channels) - 1)
        self.receptive_margin = 16 * self.multiple

    def forward(self, x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """Predicted noise for ``x_t`` (in [-1, 1] scale) at integer timesteps ``t`` of shape (N,)."""
        out = self.unet(x_t, t).sample
        # Learned-variance UNets output [eps, variance]; the first half is the noise.
        if out.shape[1] == 2 * self.in_channels:
            out = out[:, : self.in_channels]
        return out


def save_diffusers_unet(model: DiffusersEps, out_dir: str | Path, card: dict[str, Any]) -> Path:
    """Write ``out_dir/{unet/, scheduler/, model_index.json, card.json}``, replacing it whole.

    Everything is written to a temporary sibling directory first and then
    renamed into place, so an interrupted save never leaves a half-written
    model where a complete one was. Without a scheduler config, diffusers'
    default ``DDPMScheduler`` (1000 linear steps) is written.

    Parameters
    ----------
    model : DiffusersEps
    out_dir : str or Path
    card : dict
        JSON-serialisable facts for ``card.json`` (non-JSON values are stringified).

    Returns
    -------
    Path
        ``out_dir``.

    Example
    -------
    >>> save_diffusers_unet(DiffusersEps(tiny_unet()), "runs/tiny", {"steps": 0})  # doctest: +SKIP
    """
    import diffusers
    from diffusers import DDPMScheduler

    out = Path(out_dir).expanduser()
    if out.exists() and not out.is_dir():
        raise ParameterError(f"output must be a directory, but a file exists: {out}")
    from imagewizard.io.files import atomic_folder

    with atomic_folder(out, what="model folder") as tmp:
        model.unet.save_pretrained(str(tmp / "unet"), safe_serialization=True)
        cfg = model.scheduler_config
        sched = DDPMScheduler.from_config(cfg) if cfg else DDPMScheduler()
        sched.save_config(str(tmp / "scheduler"))
        index = {
            "_class_name": "DDPMPipeline",
            "_diffusers_version": diffusers.__version__,
            "scheduler": ["diffusers", "DDPMScheduler"],
            "unet": ["diffusers", "UNet2DModel"],
        }
        (tmp / "model_index.json").write_text(json.dumps(index, indent=2) + "\n")
        (tmp / "card.json").write_text(json.dumps(card, indent=2, default=str) + "\n")
    return out


def tiny_unet(sample_size: int = 16, in_channels: int = 3):
    """A ~40k-parameter ``UNet2DModel`` for tests (two resolution levels, DDPM-style mid-block attention).

    Example
    -------
    >>> sum(p.numel() for p in tiny_unet().parameters()) < 100_000
    True
    """
    from diffusers import UNet2DModel

    return UNet2DModel(
        sample_size=sample_size,
        in_channels=in_channels,
        out_channels=in_channels,
        block_out_channels=(8, 16),
        layers_per_block=1,
        norm_num_groups=4,
        down_block_types=("DownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "UpBlock2D"),
    )
