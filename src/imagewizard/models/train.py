"""Training denoisers: AdamW, cosine schedule, EMA, validation, exact resume.

``train_denoiser(TrainConfig(...))`` is what ``imagewizard train denoiser``
runs. A run directory holds ``last.ckpt`` (everything needed to resume
exactly: model, EMA, optimiser, schedule position, random generators,
history), ``best.safetensors`` + ``best.json`` (the EMA weights with the best
validation PSNR and their card) and ``log.jsonl`` (one line per validation).
Given the same seed, data and step count, a run gives the same weights
whether or not it was interrupted and resumed.
"""

from __future__ import annotations

import json
import math
import shlex
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from imagewizard.core.errors import ParameterError
from imagewizard.io.files import atomic_write, check_output
from imagewizard.models import data as D

LOSSES = ("mse", "l1", "charbonnier", "ssim", "psnr")


@dataclass
class TrainConfig:
    """Everything that defines a training run (recorded in the checkpoint and the card)."""

    arch: str = "unet"
    arch_config: dict[str, Any] = field(default_factory=dict)
    data: str = ""
    exclude: str | None = None  # folder of images never to train on (e.g. testsets/CBSD68)
    channels: int = 3
    sigma: tuple[float, float] = (0.0, 75.0)
    patch: int = 128
    batch: int = 8
    steps: int = 10000  # length of the schedule
    minutes: float | None = None  # stop this invocation after this long (resume later)
    lr: float = 4e-4
    lr_min: float = 1e-6
    warmup: int = 200
    schedule: str = "cosine"  # or "step"
    weight_decay: float = 1e-4
    loss: str = "l1"
    ema: float = 0.999  # 0 disables
    grad_clip: float = 1.0
    val_count: int = 12
    val_every: int = 1000
    val_sigmas: tuple[float, ...] = (15.0, 25.0, 50.0)
    val_crop: int = 0  # 0: whole images
    checkpoint_minutes: float = 10.0
    seed: int = 0
    threads: int = 0  # 0: torch default
    device: str = "auto"  # auto: CUDA when torch sees a GPU; cpu; cuda[:N] (results on the CPU unchanged)
    out: str = "runs/denoiser"
    command: str = ""
    init: str | None = None  # zoo name or .safetensors whose weights start the model (same architecture)
    gan: bool = False  # conditional GAN (pix2pix): PatchGAN discriminator, loss = adversarial + l1_weight * pixel
    l1_weight: float = 100.0
    objective: str = "denoise"  # or "diffusion": DDPM noise prediction at random steps up to sigma's top
    perceptual: float = 0.0  # diffusion: weight of the perceptual loss on the implied x0
    vgg19: str | None = None  # weights of VGG19 for the perceptual loss (else the documented substitute)
    full_schedule: bool = False  # diffusion: train every step (generation), not only those up to sigma's top
    # Share of batches whose noisy input is clipped to [0, 1] and rounded to 8-bit levels, as a saved
    # file holds it (degrade.clip_round_8bit); the model is still told the true sigma. 0: today's float noise.
    clip_fraction: float = 0.0
    mix: dict[str, float] = field(default_factory=dict)  # weights per source (data.SOURCES); {}: the folder only
    colour_aug: float = 0.0  # probability of data.colour_augment on a photograph patch (needs mix)
    val_set: str = "folder"  # or "photos": the held-out package photos (nn.photos), the folder then all trained on
    val_protocols: tuple[str, ...] = ("float",)  # validation protocols, of degrade.PROTOCOLS; selection on their mean
    # "gaussian": white noise of a sigma drawn from `sigma`, the model told it; "real": data.RealNoise
    # (camera, JPEG-compressed and signal-dependent noise), for a blind model, validated on REAL_VAL_CASES
    noise: str = "gaussian"

    def validate(self) -> None:
        if self.loss not in LOSSES:
            raise ParameterError(f"loss must be one of {', '.join(LOSSES)}, got '{self.loss}'")
        if self.schedule not in ("cosine", "step"):
            raise ParameterError(f"schedule must be cosine or step, got '{self.schedule}'")
        if self.channels not in (1, 3):
            raise ParameterError(f"channels must be 1 (gray) or 3 (colour), got {self.channels}")
        for name in ("patch", "batch", "steps"):
            if getattr(self, name) <= 0:
                raise ParameterError(f"{name} must be positive")
        if self.lr <= 0:
            raise ParameterError("lr must be positive")
        if self.objective not in ("denoise", "diffusion"):
            raise ParameterError(f"objective must be denoise or diffusion, got '{self.objective}'")
        if self.gan and self.l1_weight < 0:
            raise ParameterError("l1_weight must be >= 0")
        if not 0.0 <= self.clip_fraction <= 1.0:
            raise ParameterError(f"clip_fraction must be in [0, 1], got {self.clip_fraction:g}")
        if not 0.0 <= self.colour_aug <= 1.0:
            raise ParameterError(f"colour_aug must be in [0, 1], got {self.colour_aug:g}")
        if self.colour_aug > 0 and not self.mix:
            raise ParameterError("colour_aug needs a mix of sources (e.g. --mix folder=1)")
        if self.val_set not in ("folder", "photos"):
            raise ParameterError(f"val_set must be folder or photos, got '{self.val_set}'")
        from imagewizard.physics.degrade import PROTOCOLS

        bad = [p for p in self.val_protocols if p not in PROTOCOLS]
        if bad or not self.val_protocols:
            raise ParameterError(f"val_protocols must be among {', '.join(PROTOCOLS)}, got {list(self.val_protocols)}")
        D.parse_mix(self.mix)  # raises on unknown sources or bad weights
        if self.noise not in D.NOISE_MODELS:
            raise ParameterError(f"noise must be one of {', '.join(D.NOISE_MODELS)}, got '{self.noise}'")
        if self.noise == "real" and (self.objective != "denoise" or self.gan):
            raise ParameterError("noise real trains a plain denoiser (no --gan, objective denoise)")


def lr_at(cfg: TrainConfig, step: int) -> float:
    """Learning rate at ``step``: linear warm-up, then cosine (or x0.5 steps) decay to ``lr_min``."""
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    t = min((step - cfg.warmup) / max(cfg.steps - cfg.warmup, 1), 1.0)
    if cfg.schedule == "cosine":
        return cfg.lr_min + 0.5 * (cfg.lr - cfg.lr_min) * (1 + math.cos(math.pi * t))
    return max(cfg.lr * 0.5 ** int(t * 4), cfg.lr_min)


def make_loss(name: str) -> Callable:
    import torch
    import torch.nn.functional as F

    if name == "mse":
        return F.mse_loss
    if name == "l1":
        return F.l1_loss
    if name == "charbonnier":
        return lambda a, b: torch.sqrt((a - b) ** 2 + 1e-6).mean()
    if name == "psnr":
        return psnr_loss
    return lambda a, b: 1.0 - ssim_torch(a, b)


#: MSE at which :func:`psnr_loss` stops favouring a patch (40 dB): a nearly clean patch is not
#: worth more effort than a sigma-5 one.
PSNR_LOSS_FLOOR = 1e-4


def psnr_loss(pred, target):
    """MSE re-weighted per patch so that its gradient is that of the mean per-patch PSNR.

    Plain MSE over a batch with sigma drawn from 0..75 is dominated by the noisiest patches (their
    errors are several times larger), while benchmarks average PSNR in dB per image, where
    sigma 15 counts as much as 50. The gradient of ``mean(log(mse_i + floor))`` weights each patch
    by ``1 / (mse_i + floor)``; the weights are normalised to mean 1 and held fixed (detached), so
    the step size stays on the MSE scale and the value reported is a weighted MSE.
    """
    mse = ((pred - target) ** 2).flatten(1).mean(1)
    w = (1.0 / (mse + PSNR_LOSS_FLOOR)).detach()
    return (w / w.mean() * mse).mean()


def ssim_torch(a, b, data_range: float = 1.0):
    """Differentiable SSIM (11x11 Gaussian window, sigma 1.5), mean over images, channels and pixels."""
    from imagewizard.models.perceptual import ssim

    return ssim(a, b, data_range=data_range).mean()


def _ema_update(decay: float):
    """EMA with warm-up: the decay ramps as (1 + n) / (10 + n) up to ``decay``, so early
    averages are not dominated by the random initial weights."""
    import torch

    def update(ema_params, params, num_averaged):
        n = float(num_averaged)
        d = min(decay, (1 + n) / (10 + n))
        floats = [(e, p) for e, p in zip(ema_params, params) if e.is_floating_point()]
        if floats:
            torch._foreach_lerp_([e for e, _ in floats], [p for _, p in floats], 1.0 - d)
        for e, p in zip(ema_params, params):
            if not e.is_floating_point():  # batch-norm's step counter: copied, not averaged
                e.copy_(p)

    return update


def _load_checkpoint(path: Path) -> dict:
    """A checkpoint this trainer wrote, read safely: tensors and plain values only, never arbitrary pickles."""
    import io

    import torch

    from imagewizard.io.files import read_input_bytes

    data = read_input_bytes(path, what="checkpoint")
    try:
        state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception:  # a foreign, damaged or unsafe file: torch's own message names its internals
        raise ParameterError(f"{path}: not an ImageWizard training checkpoint (or damaged)") from None
    if not isinstance(state, dict) or not isinstance(state.get("config"), dict) or "model" not in state:
        raise ParameterError(f"{path}: not an ImageWizard training checkpoint")
    return state


def _save_atomic(obj: Any, path: Path, resumed: Path | None = None) -> None:
    """``torch.save`` through the guarded writer; ``resumed`` (the checkpoint this run resumed
    from, an input of the command) is the one input it may replace, so a run resumes in place."""
    import torch

    from imagewizard.io.files import atomic_path

    with atomic_path(path, what="checkpoint", suffix=".iw-tmp", replace=resumed) as tmp:  # removed again on any failure
        torch.save(obj, tmp)


def _val_clean(im: np.ndarray, crop: int) -> np.ndarray:
    """A uint8 validation image as float32 in [0, 1] (HxW for one channel), centre-cropped to ``crop`` if set."""
    if crop:
        h, w = im.shape[:2]
        y, x = max((h - crop) // 2, 0), max((w - crop) // 2, 0)
        im = im[y : y + crop, x : x + crop]
    return (im[:, :, 0] if im.shape[2] == 1 else im).astype(np.float32) / 255.0


def _val_psnr(clean: np.ndarray, pred: np.ndarray) -> float:
    mse = float(np.mean((np.clip(pred, 0, 1).astype(np.float64) - clean) ** 2))
    return 10 * math.log10(1.0 / max(mse, 1e-12))


def evaluate(
    model, images: list[np.ndarray], sigmas, *, seed: int = 1234, crop: int = 0, protocols: tuple[str, ...] = ("float",)
) -> dict[str, float]:
    """Mean PSNR (dB) of ``model`` on uint8 ``images`` with Gaussian noise at each sigma.

    Keys ``psnr_s{sigma}`` for the float protocol (noise unclipped) and ``psnr_uint8_s{sigma}`` for
    the uint8 one (the same noise, then :func:`~imagewizard.physics.degrade.clip_round_8bit`, as a file
    holds it); the model is given the true sigma under both.
    """
    from imagewizard.physics.degrade import clip_round_8bit
    from imagewizard.models.infer import predict

    out: dict[str, float] = {}
    model.eval()
    for protocol in protocols:
        for s in sigmas:
            vals = []
            for i, im in enumerate(images):
                clean = _val_clean(im, crop)
                rng = np.random.default_rng([seed, i, int(round(s * 100))])
                noisy = clean + rng.standard_normal(clean.shape, dtype=np.float32) * np.float32(s / 255.0)
                if protocol == "uint8":
                    noisy = clip_round_8bit(noisy)
                vals.append(_val_psnr(clean, predict(model, noisy, s, tile=1024)))
            out[f"psnr_s{s:g}" if protocol == "float" else f"psnr_{protocol}_s{s:g}"] = float(np.mean(vals))
    return out


#: The real-photo validation: name -> degrade() keywords (uint8, as a file holds them), seeded per image.
REAL_VAL_CASES: dict[str, dict[str, Any]] = {
    "cam800": {"noise": "camera:800"},
    "cam3200_jpeg80": {"noise": "camera:3200", "jpeg": 80},
    "cam12800": {"noise": "camera:12800"},
    "gauss25_jpeg80": {"noise": "gaussian:25", "jpeg": 80},
}


def evaluate_real(model, images: list[np.ndarray], *, seed: int = 1234, crop: int = 0) -> dict[str, float]:
    """Mean PSNR (dB) of a blind ``model`` on uint8 ``images`` under each of :data:`REAL_VAL_CASES`."""
    from imagewizard.physics.degrade import degrade
    from imagewizard.models.infer import predict

    out: dict[str, float] = {}
    model.eval()
    for name, kw in REAL_VAL_CASES.items():
        vals = []
        for i, im in enumerate(images):
            clean = _val_clean(im, crop)
            noisy = degrade(clean, **kw, seed=seed + i, protocol="uint8").image
            vals.append(_val_psnr(clean, predict(model, noisy, 0.0, tile=1024)))
        out[f"psnr_{name}"] = float(np.mean(vals))
    return out


#: What may change when a run is resumed; everything else comes from the checkpoint.
RESUME_OVERRIDES = ("steps", "minutes", "out", "lr", "lr_min", "val_every", "checkpoint_minutes", "threads", "device")


def train_denoiser(
    cfg: TrainConfig,
    *,
    resume: str | Path | None = None,
    overrides: dict[str, Any] | None = None,
    log: Callable[[str], None] = print,
    progress: bool = True,
    stop_after: int | None = None,
) -> dict[str, Any]:
    """Train a denoiser, or resume the run in ``resume`` (a run folder or checkpoint).

    On resume the run's definition comes from the checkpoint; ``overrides`` may change only the
    keys in :data:`RESUME_OVERRIDES` (e.g. extend ``steps`` or set a time budget in ``minutes``).
    ``stop_after`` ends this invocation after that many steps (the schedule is unchanged).
    """
    import torch

    from imagewizard.physics.degrade import clip_round_8bit
    from imagewizard.models.archs import build
    from imagewizard.models.diffusion import DiffusionRestorer, diffusion_loss
    from imagewizard.models.weights import save_model

    state, rp = None, None
    if resume is not None:
        rp = Path(resume)
        rp = rp / "last.ckpt" if rp.is_dir() else rp
        if not rp.is_file():
            raise ParameterError(f"{rp}: checkpoint not found")
        state = _load_checkpoint(rp)
        saved = dict(state["config"])
        saved["sigma"], saved["val_sigmas"] = tuple(saved["sigma"]), tuple(saved["val_sigmas"])
        if "val_protocols" in saved:
            saved["val_protocols"] = tuple(saved["val_protocols"])
        bad = set(overrides or {}) - set(RESUME_OVERRIDES)
        if bad:
            raise ParameterError(
                f"cannot change {', '.join(sorted(bad))} when resuming (only {', '.join(RESUME_OVERRIDES)})"
            )
        saved.update({k: v for k, v in (overrides or {}).items() if v is not None})
        cfg = TrainConfig(**saved)
    out = Path(cfg.out)
    ckpt_path = out / "last.ckpt"
    cfg.validate()
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)

    data = _training_data(cfg, log)
    train_files, val_files = data["train_files"], data["val_files"]
    val_imgs, sampler = data["val_imgs"], data["sampler"]
    noise = D.RealNoise() if cfg.noise == "real" else D.GaussianNoise(*cfg.sigma)

    if cfg.arch == "diffusers-unet":  # a diffusers UNet2DModel, fine-tuned from cfg.init
        from imagewizard.models.diffusers_unet import load_diffusers_unet

        model = load_diffusers_unet(cfg.init)
        if model.in_channels != cfg.channels:
            raise ParameterError(
                f"--init {cfg.init} takes {model.in_channels}-channel images; pass --channels {model.in_channels}"
            )
        arch_cfg = dict(model.unet.config)
    else:
        model, arch_cfg = build(cfg.arch, **{"in_channels": cfg.channels, **cfg.arch_config})
        if cfg.init and state is None:
            _init_from(model, cfg.init, cfg.arch, log)
    cfg.arch_config = {k: list(v) if isinstance(v, tuple) else v for k, v in arch_cfg.items()}
    from imagewizard.models.infer import resolve_device

    dev = resolve_device(cfg.device)
    model = model.to(dev, memory_format=torch.channels_last)
    disc = opt_d = None
    if cfg.gan:
        disc, _ = build("patchgan", in_channels=2 * cfg.channels)
        disc = disc.to(dev, memory_format=torch.channels_last)
        # pix2pix's Adam settings (beta1 0.5) for both players.
        opt_d = torch.optim.AdamW(disc.parameters(), lr=cfg.lr, betas=(0.5, 0.999), weight_decay=0.0)
    ema = None
    if cfg.ema > 0:
        from torch.optim.swa_utils import AveragedModel

        # use_buffers: batch-norm statistics are averaged too, so the EMA model is usable as is.
        ema = AveragedModel(model, multi_avg_fn=_ema_update(cfg.ema), use_buffers=True)
    params: Any = model.parameters()
    if hasattr(model, "estimator"):
        # the noise-map estimator is new and small beside a trained U-Net: it learns at 10x the rate
        est = {id(p) for p in model.estimator.parameters()}
        params = [
            {"params": [p for p in model.parameters() if id(p) not in est]},
            {"params": list(model.estimator.parameters()), "lr_scale": ESTIMATOR_LR_SCALE},
        ]
    opt = torch.optim.AdamW(
        params, lr=cfg.lr, weight_decay=cfg.weight_decay, betas=(0.5, 0.999) if cfg.gan else (0.9, 0.999)
    )
    loss_fn = make_loss(cfg.loss)
    diffusion = _diffusion_setup(cfg, model) if cfg.objective == "diffusion" else None
    rng = np.random.default_rng(cfg.seed)
    step, elapsed, history, best = 0, 0.0, [], {"psnr": -1.0, "step": 0}
    if state is not None:
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        if ema is not None and state.get("ema") is not None:
            ema.load_state_dict(state["ema"])
        if disc is not None:
            disc.load_state_dict(state["disc"])
            opt_d.load_state_dict(state["opt_d"])
        rng.bit_generator.state = state["np_rng"]
        torch.set_rng_state(state["torch_rng"])
        step, elapsed, history, best = state["step"], state["elapsed"], state["history"], state["best"]
        log(f"resumed from step {step} ({elapsed / 3600:.2f} h trained so far; best val PSNR {best['psnr']:.3f})")
    n_params = sum(p.numel() for p in model.parameters())
    log(f"model: {cfg.arch} {json.dumps(cfg.arch_config)} ({n_params / 1e6:.2f} M parameters)")

    def checkpoint() -> None:
        _save_atomic(
            {
                "config": asdict(cfg),
                "model": model.state_dict(),
                "opt": opt.state_dict(),
                "ema": ema.state_dict() if ema is not None else None,
                "disc": disc.state_dict() if disc is not None else None,
                "opt_d": opt_d.state_dict() if opt_d is not None else None,
                "np_rng": rng.bit_generator.state,
                "torch_rng": torch.get_rng_state(),
                "step": step,
                "elapsed": elapsed,
                "history": history,
                "best": best,
            },
            ckpt_path,
            resumed=rp,
        )

    def validate() -> None:
        net = ema.module if ema is not None else model
        t0 = time.time()
        if not val_imgs:
            scores = {}
        elif cfg.noise == "real":
            scores = evaluate_real(net, val_imgs, crop=cfg.val_crop)
        else:
            scores = evaluate(
                DiffusionRestorer(net) if diffusion else net,
                val_imgs,
                cfg.val_sigmas,
                crop=cfg.val_crop,
                protocols=cfg.val_protocols,
            )
        # no held-out images (a tiny folder): no score, rather than a NaN in the log and the card
        mean = float(np.mean(list(scores.values()))) if scores else None
        rec = {
            "step": step,
            "hours": round(elapsed / 3600, 4),
            "lr": lr_at(cfg, step),
            "loss": run_loss,
            "val_psnr": None if mean is None else round(mean, 4),
            **{k: round(v, 4) for k, v in scores.items()},
        }
        history.append(rec)
        check_output(out / "log.jsonl", what="training log")
        with open(out / "log.jsonl", "a") as f:
            f.write(json.dumps(rec) + "\n")
        if mean is None:
            log(f"step {step}: loss {run_loss:.5f}; no held-out images to validate on")
        else:
            log(
                f"step {step}: val PSNR {mean:.3f} dB {json.dumps({k: round(v, 2) for k, v in scores.items()})} "
                f"({time.time() - t0:.0f} s)"
            )
        # A GAN is not selected by PSNR (that would pick the least adversarial weights): its latest
        # validated generator is the one exported.
        if scores and (mean > best["psnr"] or cfg.gan):
            best.update(psnr=mean, step=step, **scores)
            # the method that runs them
            method = "gan" if cfg.gan else "diffusion" if diffusion else "real" if cfg.noise == "real" else cfg.arch
            card = {
                "task": "denoise",
                "method": method,
                "channels": cfg.channels,
                "sigma_range": list(cfg.sigma),
                "noise": cfg.noise,
                "data": {
                    "folder": cfg.data,
                    "exclude": cfg.exclude,
                    "train_images": len(train_files),
                    "val_images": len(val_files),
                    **data["card"],
                },
                "command": cfg.command,
                "train": {k: v for k, v in asdict(cfg).items() if k != "command"},
                "steps": step,
                "wall_time_hours": round(elapsed / 3600, 3),
                "validation": {"images": data["val_label"], **{k: round(v, 3) for k, v in scores.items()}},
                "learning_curve": [{k: r[k] for k in ("step", "hours", "val_psnr")} for r in history],
            }
            if cfg.init:
                card["init"] = cfg.init
            if diffusion is not None:
                card["diffusion"] = {
                    "scheduler": getattr(net, "scheduler_config", None),
                    "train_steps_up_to": diffusion["t_max"],
                    "loss": "MSE on the noise" + (f" + {cfg.perceptual:g} x perceptual" if cfg.perceptual else ""),
                    "perceptual": diffusion["perceptual"].describe() if diffusion["perceptual"] else None,
                    "validation": "one-step estimate from the step matching sigma",
                }
            if cfg.gan:
                card["gan"] = {
                    "generator": cfg.arch,
                    "discriminator": "patchgan 70x70 (conditional)",
                    "loss": f"BCE adversarial + {cfg.l1_weight:g} * {cfg.loss}",
                    "selection": "the EMA generator at the last validation (not chosen by PSNR)",
                }
            if cfg.arch == "diffusers-unet":
                from imagewizard.models.diffusers_unet import save_diffusers_unet

                save_diffusers_unet(net, out / "best", card)
            else:
                save_model(out / "best.safetensors", net.state_dict(), cfg.arch, cfg.arch_config, card)

    out.mkdir(parents=True, exist_ok=True)
    atomic_write(out / "config.json", json.dumps(asdict(cfg), indent=2) + "\n", what="training config")
    deadline = time.time() + cfg.minutes * 60 if cfg.minutes else None
    last_ckpt = time.time()
    run_loss, loss_sum, seen = float("nan"), 0.0, 0
    stop_step = cfg.steps if stop_after is None else min(cfg.steps, step + stop_after)
    bar = _progress(cfg.steps, step) if progress else None
    model.train()
    try:
        while step < stop_step and (deadline is None or time.time() < deadline):
            t0 = time.time()
            clean = sampler.sample(cfg.batch, rng)
            y = torch.from_numpy(clean).to(dev).contiguous(memory_format=torch.channels_last)
            for g in [*opt.param_groups, *(opt_d.param_groups if opt_d is not None else [])]:
                g["lr"] = lr_at(cfg, step) * g.get("lr_scale", 1.0)
            if diffusion is not None:
                loss = diffusion_loss(
                    model,
                    y,
                    diffusion["scheduler"],
                    rng,
                    t_max=diffusion["t_max"],
                    perceptual=diffusion["perceptual"],
                    perceptual_weight=cfg.perceptual,
                )
                pred = None
            else:
                noisy, sig = noise(clean, rng)
                # Only drawn when asked for, so runs without clip_fraction keep their random streams.
                if cfg.noise == "gaussian" and cfg.clip_fraction > 0 and rng.random() < cfg.clip_fraction:
                    noisy = clip_round_8bit(noisy)
                x = torch.from_numpy(noisy).to(dev).contiguous(memory_format=torch.channels_last)
                if cfg.noise == "real" and hasattr(model, "estimate"):
                    pred, loss = _blind_step(model, x, y, loss_fn, teacher=bool(rng.random() < 0.5))
                else:
                    pred = model(x, torch.from_numpy(sig).to(dev))
                    loss = loss_fn(pred, y)
            if hasattr(model, "extra_loss"):  # e.g. the VAE's beta * KL
                loss = loss + model.extra_loss()
            if disc is not None:
                loss = _gan_step(disc, opt_d, x, y, pred, loss, cfg.l1_weight)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.grad_clip:
                torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            opt.step()
            if ema is not None:
                ema.update_parameters(model)
            step += 1
            elapsed += time.time() - t0
            loss_sum += float(loss.detach())
            seen += 1
            run_loss = loss_sum / seen  # mean since the last validation (what the log reports)
            if bar is not None:
                bar.update(step, run_loss, cfg.batch * cfg.patch**2 / max(time.time() - t0, 1e-9))
            if step % cfg.val_every == 0 or step == cfg.steps:
                model.eval()
                validate()
                loss_sum, seen = 0.0, 0
                model.train()
                checkpoint()
                last_ckpt = time.time()
            elif time.time() - last_ckpt > cfg.checkpoint_minutes * 60:
                checkpoint()
                last_ckpt = time.time()
    except KeyboardInterrupt:
        log(f"interrupted at step {step}; checkpoint saved, resume with --resume {out}")
    finally:
        if bar is not None:
            bar.close()
        if step > 0:
            checkpoint()
    return {"step": step, "steps": cfg.steps, "hours": elapsed / 3600, "best": best, "out": str(out)}


def _training_data(cfg: TrainConfig, log: Callable[[str], None]) -> dict[str, Any]:
    """Training sampler and validation images of ``cfg``.

    Without ``cfg.mix`` this is exactly the original recipe: patches of the ``--data`` folder less
    a held-out split. With it, patches come from the weighted sources (the folder, the package
    photos' training split, dead leaves); with ``val_set='photos'`` validation is on the held-out
    package photos and the folder is trained on whole.
    """
    from imagewizard.models import photos as P

    mix = D.parse_mix(cfg.mix)
    use_folder = not mix or "folder" in mix
    train_files: list = []
    val_files: list = []
    val_imgs: list[np.ndarray] = []
    card: dict[str, Any] = {}
    if use_folder or cfg.val_set == "folder":
        if not cfg.data:
            raise ParameterError("--data is required (the folder is a training source or the validation set)")
        files = D.list_image_files(cfg.data, cfg.exclude)
        if cfg.val_set == "folder":
            train_files, val_files = D.split_files(files, cfg.val_count)
            val_imgs = D.load_images(val_files, cfg.channels, what="validation")
        else:
            train_files = files
        log(f"data: {len(train_files)} training images, {len(val_files)} held out for validation ({cfg.data})")
    protocols = " and ".join(cfg.val_protocols) + (" protocols" if len(cfg.val_protocols) > 1 else " protocol")
    val_label = f"held-out training-split images, whole, {protocols}"
    excl = [cfg.exclude] if cfg.exclude else []
    if cfg.val_set == "photos":
        held = P.collect_photos("val", exclude_folders=excl, log=log)
        if not held:
            raise ParameterError("val_set photos: none of the held-out package photos is installed")
        val_files = [str(p.file) for p in held]
        val_imgs = [D.to_channels(p.image, cfg.channels) for p in held]
        val_label = (
            f"held-out package photos (nn.photos, never trained on): {', '.join(p.name for p in held)}; "
            f"whole, {protocols}"
        )
        log(f"validation: {len(held)} held-out package photos ({', '.join(p.name for p in held)})")
    if not mix:
        sampler = D.PatchSampler(D.load_images(train_files, cfg.channels), cfg.patch)
        return {
            "train_files": train_files,
            "val_files": val_files,
            "val_imgs": val_imgs,
            "sampler": sampler,
            "card": card,
            "val_label": val_label,
        }
    samplers: dict[str, Any] = {}
    if "folder" in mix:
        samplers["folder"] = D.PatchSampler(D.load_images(train_files, cfg.channels), cfg.patch)
    if "photos" in mix:
        got = P.collect_photos("train", exclude_folders=excl, min_side=cfg.patch, log=log)
        if not got:
            raise ParameterError("mix: no package photos of the training split are installed")
        samplers["photos"] = D.PatchSampler([D.to_channels(p.image, cfg.channels) for p in got], cfg.patch)
        card["photos"] = {"train": [p.name for p in got], "fingerprint": P._fingerprint(got)}
        log(f"data: {len(got)} package photos for training")
    if "dead-leaves" in mix:
        samplers["dead-leaves"] = D.DeadLeavesSampler(cfg.patch, cfg.channels)
    card["mix"] = mix
    card["colour_aug"] = cfg.colour_aug
    log(
        f"mix: {json.dumps({k: round(v, 3) for k, v in mix.items()})}; colour augmentation on "
        f"{cfg.colour_aug:.0%} of photograph patches"
    )
    return {
        "train_files": train_files,
        "val_files": val_files,
        "val_imgs": val_imgs,
        "sampler": D.MixedSampler(samplers, mix, cfg.colour_aug),
        "card": card,
        "val_label": val_label,
    }


#: CBDNet's weights (Guo et al. 2019): the asymmetric map loss (under-estimates cost 1 - ALPHA,
#: over-estimates ALPHA: a denoiser told too little leaves noise, told too much only smooths a
#: little more) and the total variation that keeps the map smooth.
MAP_ALPHA, MAP_WEIGHT, MAP_TV = 0.3, 0.5, 0.05
ESTIMATOR_LR_SCALE = 10.0


def true_noise_map(noise, shuffle: int, blur: float = 2.0):
    """Per-pixel, per-channel noise level (0..1 sigma scale) of a known ``noise`` (N, C, H, W), at 1/shuffle size.

    The local RMS: squared noise averaged over shuffle x shuffle cells, then a Gaussian window of
    ``blur`` cells, square-rooted; for white noise of sigma s it is about s everywhere, for shot noise
    it follows the brightness, for camera noise also the colour channel.
    """
    import torch
    import torch.nn.functional as F

    v = F.avg_pool2d(noise.float() ** 2, shuffle) if shuffle > 1 else noise.float() ** 2
    r = int(3 * blur)
    t = torch.arange(-r, r + 1, dtype=v.dtype, device=v.device)
    k = torch.exp(-0.5 * (t / blur) ** 2)
    k = k / k.sum()
    c = v.shape[1]
    v = F.pad(v, (r, r, r, r), mode="reflect")
    v = F.conv2d(v, k.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)
    v = F.conv2d(v, k.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)
    return v.clamp_min(0).sqrt()


def _blind_step(model, x, y, loss_fn, *, teacher: bool):
    """Loss of a blind estimator + U-Net (CBDNet): reconstruction, asymmetric map loss, map smoothness.

    ``teacher``: denoise with the true map instead of the estimate (half the batches), so the U-Net
    keeps answering to its map, which is what makes ``strength`` (scaling the map) mean something.
    """
    import torch

    xp, planes = model.denoiser.prepare(x)
    est = model.estimate(planes)
    with torch.no_grad():
        truth = true_noise_map(x - y, model.denoiser.shuffle)
    under = (est < truth).to(est.dtype)
    map_loss = (torch.abs(MAP_ALPHA - under) * (est - truth) ** 2).mean()
    tv = ((est[..., 1:, :] - est[..., :-1, :]) ** 2).mean() + ((est[..., :, 1:] - est[..., :, :-1]) ** 2).mean()
    pred = model.denoiser.denoise(xp, planes, truth if teacher else est)[..., : x.shape[-2], : x.shape[-1]]
    # the map terms (0..1 sigma scale, squared) come out about a tenth of the image MSE: x10 evens them
    return pred, loss_fn(pred, y) + 10.0 * (MAP_WEIGHT * map_loss + MAP_TV * tv)


def _diffusion_setup(cfg: TrainConfig, model) -> dict[str, Any]:
    """Scheduler, the last training step (where the noise reaches the top of ``cfg.sigma``) and the perceptual loss."""
    from imagewizard.models.diffusion import ddpm_scheduler, step_for_sigma

    sched = ddpm_scheduler(getattr(model, "scheduler_config", None))
    t_max = (
        sched.config.num_train_timesteps - 1
        if cfg.full_schedule
        else step_for_sigma(sched.alphas_cumprod, cfg.sigma[1] / 255.0)
    )
    perceptual = None
    if cfg.perceptual > 0:
        from imagewizard.models.perceptual import PerceptualLoss

        perceptual = PerceptualLoss(cfg.vgg19).to(next(model.parameters()).device)
    return {"scheduler": sched, "t_max": t_max, "perceptual": perceptual}


def _gan_step(disc, opt_d, noisy, clean, pred, pixel_loss, l1_weight: float):
    """One discriminator update; returns the generator's loss: BCE(D(x, G(x)) -> real) + l1_weight * pixel."""
    import torch
    import torch.nn.functional as F

    def bce(logits, real: bool):
        return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, 1.0 if real else 0.0))

    d_real = disc(torch.cat([noisy, clean], 1))
    d_fake = disc(torch.cat([noisy, pred.detach()], 1))
    loss_d = 0.5 * (bce(d_real, True) + bce(d_fake, False))
    opt_d.zero_grad(set_to_none=True)
    loss_d.backward()
    opt_d.step()
    for p in disc.parameters():  # the generator's backward pass must not touch D's gradients
        p.requires_grad_(False)
    adv = bce(disc(torch.cat([noisy, pred], 1)), True)
    for p in disc.parameters():
        p.requires_grad_(True)
    return adv + l1_weight * pixel_loss


def _init_from(model, source: str, arch: str, log) -> None:
    """Start ``model`` from trained weights (zoo name or file) of the same architecture, e.g. a GAN's
    generator from the L1-trained denoiser (ESRGAN's recipe: pre-train for PSNR, then adversarially)."""
    import torch

    from imagewizard.models.zoo import load

    with torch.random.fork_rng(devices=[]):  # building the source model must not move this run's seed
        src, card = load(source)
    target = model
    if arch == "diffusion-unet" and card.get("arch") == "unet":
        target = model.denoiser  # a diffusion model starts from a trained denoiser: the same x0 predictor
    elif arch == "unet-blind" and card.get("arch") == "unet":
        try:  # the real-photo denoiser starts as the Gaussian U-Net told sigma 15 everywhere
            model.load_unet_state(src.state_dict())
        except (RuntimeError, ValueError):
            raise ParameterError(
                f"--init {source}: its U-Net differs from this run's (pass --arch-config {json.dumps(card.get('config'))})"
            ) from None
        log(f"initialised the U-Net from {source}")
        return
    elif card.get("arch") != arch:
        raise ParameterError(f"--init {source}: its architecture is {card.get('arch')}, not {arch}")
    state = src.state_dict()
    if arch == "unet" and getattr(src, "in_channels", 0) == 1 and getattr(target, "in_channels", 0) == 3:
        from imagewizard.models.archs.unet import colour_state_from_gray

        state = colour_state_from_gray(state, shuffle=target.shuffle)  # gray weights start a colour model
        log(f"colour model started from the gray {source} on the luminance")
    if arch == "unet" and _narrower_unet(src, target):
        from imagewizard.models.archs.unet import prune_state

        state = prune_state(state, tuple(target.channels), blocks=target.blocks)
        log(f"pruned {source} from widths {tuple(src.channels)} to {tuple(target.channels)} (L1 structured)")
    try:
        target.load_state_dict(state)
    except RuntimeError:
        raise ParameterError(
            f"--init {source}: its configuration differs from this run's {arch} "
            f"(pass the same --arch-config as {json.dumps(card.get('config'))})"
        ) from None
    log(f"initialised from {source}")


def _narrower_unet(src, target) -> bool:
    """True when ``target`` is ``src`` with fewer channels at some scales (then it starts pruned from it)."""
    a, b = tuple(getattr(src, "channels", ())), tuple(getattr(target, "channels", ()))
    same = (src.in_channels, src.blocks, src.shuffle) == (target.in_channels, target.blocks, target.shuffle)
    return same and len(a) == len(b) and a != b and all(n <= o for n, o in zip(b, a))


class _progress:
    """A Rich progress bar with loss, throughput and ETA (plain lines when not on a terminal)."""

    def __init__(self, total: int, start: int):
        self.total, self.start, self.t0 = total, start, time.time()
        self.last_print = 0.0
        self.rich = sys.stderr.isatty()
        if self.rich:
            from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

            self.p = Progress(
                TextColumn("[bold]train"),
                BarColumn(),
                TextColumn("{task.completed}/{task.total}"),
                TextColumn("{task.fields[info]}"),
                TimeRemainingColumn(),
                transient=False,
            )
            self.p.start()
            self.task = self.p.add_task("train", total=total, completed=start, info="")

    def update(self, step: int, loss: float, px_per_s: float) -> None:
        info = f"loss {loss:.4f}  {px_per_s / 1e3:.0f} kpx/s"
        if self.rich:
            self.p.update(self.task, completed=step, info=info)
        elif time.time() - self.last_print > 60:
            done = step - self.start
            rate = done / max(time.time() - self.t0, 1e-9)
            eta = (self.total - step) / max(rate, 1e-9)
            print(f"step {step}/{self.total}  {info}  eta {eta / 3600:.2f} h", file=sys.stderr, flush=True)
            self.last_print = time.time()

    def close(self) -> None:
        if self.rich:
            self.p.stop()


def command_line() -> str:
    """The command as a user would type it: ``imagewizard train denoiser|diffusion ...``."""
    args = sys.argv[1:]
    sub = next((a for a in args if a in ("denoiser", "diffusion")), "denoiser")
    if sub in args:
        args = args[args.index(sub) + 1 :]
    return f"imagewizard train {sub} " + " ".join(shlex.quote(a) for a in args)
