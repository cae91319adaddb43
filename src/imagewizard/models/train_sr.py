"""Training the learned upscaler (``imagewizard train upscaler``): the papers' bicubic protocol.

Pairs are made as every super-resolution table makes them: the clean 8-bit photo cropped to a
multiple of the scale, shrunk with MATLAB-compatible bicubic (:func:`imagewizard.physics.resize.imresize`)
and rounded to 8 bits. Random aligned patches (96 px high-resolution side), flips and 90 degree
turns; one network body for every scale (a step per scale in turn); L1 loss, Adam, cosine
schedule. Validation: PSNR on the Y channel (BT.601, as MATLAB's ``rgb2ycbcr``) with a border of
``scale`` pixels removed, on held-out images that are never trained on, against bicubic.

Checkpoints are written every ``checkpoint_every`` steps and resume exactly (``--resume``); the
weights (safetensors + card) are written only when validation beats the best so far.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from imagewizard.core.errors import ParameterError


@dataclass
class SRConfig:
    data: str = ""
    splits: tuple[str, ...] = ("train", "test")
    #: images of the last split held out for validation (never trained on)
    val_images: int = 10
    scales: tuple[int, ...] = (2, 3, 4)
    features: int = 32
    blocks: int = 6
    patch: int = 96
    batch: int = 16
    steps: int = 6000
    lr: float = 2e-4
    lr_min: float = 1e-6
    seed: int = 0
    threads: int = 1
    checkpoint_every: int = 250
    val_every: int = 500
    out: str = "runs/upscaler"
    name: str = "srnet-color"
    #: perceptual fine-tune (SRGAN/ESRGAN recipe): start from these srnet weights, add a
    #: relativistic PatchGAN discriminator and a perceptual loss; gan 0 = plain L1 training
    init: str = ""
    gan: float = 0.0
    perceptual: float = 1.0
    l1: float = 0.01
    vgg19: str = ""
    #: "bicubic" (the papers' clean inputs) or "real": blur, noise and JPEG on the low-resolution
    #: input in random order, as Real-ESRGAN (Wang et al. 2021) trains for real photos
    degrade: str = "bicubic"
    extra: dict[str, Any] = field(default_factory=dict)


def _list_images(folder: Path, splits) -> list[list[Path]]:
    from imagewizard.io import list_images

    out = []
    for s in splits:
        d = folder / s
        if not d.is_dir():
            raise ParameterError(f"{d}: training folder not found")
        out.append(sorted(list_images(d, recursive=False)))
    return out


def load_pairs(cfg: SRConfig, log: Callable[[str], None] = print) -> dict[str, Any]:
    """The training and validation images as uint8, with their low-resolution versions per scale."""
    from imagewizard.io import read

    folder = Path(cfg.data)
    if folder.name == "val" or any(s == "val" for s in cfg.splits):
        raise ParameterError("the BSDS500 val folder is BSD100, a super-resolution test set: never train on it")
    groups = _list_images(folder, cfg.splits)
    val_paths = groups[-1][-cfg.val_images :] if cfg.val_images else []
    train_paths = [p for g in groups for p in g if p not in val_paths]
    if not train_paths:
        raise ParameterError(f"{folder}: no training images")

    def load(paths):
        ims = []
        for p in paths:
            img, _ = read(p)
            if img.ndim == 2:
                img = np.repeat(img[..., None], 3, axis=2)
            ims.append(np.round(np.clip(img, 0, 1) * 255).astype(np.uint8))
        return ims

    t0 = time.time()
    train, val = load(train_paths), load(val_paths)
    lr = {s: [make_lr(im, s) for im in train] for s in cfg.scales}
    log(
        f"data: {len(train)} training and {len(val)} validation images, low-resolution pairs in {time.time() - t0:.1f} s"
    )
    return {
        "train": train,
        "val": val,
        "lr": lr,
        "train_names": [p.name for p in train_paths],
        "val_names": [p.name for p in val_paths],
    }


def modcrop(im: np.ndarray, scale: int) -> np.ndarray:
    h, w = im.shape[0] - im.shape[0] % scale, im.shape[1] - im.shape[1] % scale
    return im[:h, :w]


def make_lr(hr_u8: np.ndarray, scale: int) -> np.ndarray:
    """The benchmark's low-resolution input: modcrop, MATLAB bicubic 1/scale, rounded to 8 bits."""
    from imagewizard.physics.resize import imresize

    x = modcrop(hr_u8, scale).astype(np.float64) / 255.0
    return np.round(np.clip(imresize(x, 1 / scale, dtype=np.float64), 0, 1) * 255).astype(np.uint8)


def y_psnr(ref_u8: np.ndarray, out_u8: np.ndarray, border: int) -> float:
    from imagewizard.analysis.metrics import psnr

    return psnr(ref_u8.astype(np.float32) / 255, out_u8.astype(np.float32) / 255, crop=border, y_channel=True)


def _batch(data, cfg: SRConfig, scale: int, rng: np.random.Generator):
    import torch

    p_lr = cfg.patch // scale
    xs, ys = [], []
    train, lows = data["train"], data["lr"][scale]
    for _ in range(cfg.batch):
        i = int(rng.integers(len(train)))
        lo = lows[i]
        hr = train[i]
        y0 = int(rng.integers(lo.shape[0] - p_lr + 1))
        x0 = int(rng.integers(lo.shape[1] - p_lr + 1))
        a = lo[y0 : y0 + p_lr, x0 : x0 + p_lr]
        b = hr[y0 * scale : (y0 + p_lr) * scale, x0 * scale : (x0 + p_lr) * scale]
        k = int(rng.integers(8))
        if k & 1:
            a, b = a[:, ::-1], b[:, ::-1]
        if k & 2:
            a, b = a[::-1], b[::-1]
        if k & 4:
            a, b = a.transpose(1, 0, 2), b.transpose(1, 0, 2)
        if cfg.degrade == "real":
            a = degrade_real(a, rng)
        xs.append(np.ascontiguousarray(a))
        ys.append(np.ascontiguousarray(b))
    x = torch.from_numpy(np.stack(xs)).permute(0, 3, 1, 2).float().div_(255)
    y = torch.from_numpy(np.stack(ys)).permute(0, 3, 1, 2).float().div_(255)
    return x, y


def upscale_u8(model, lr_u8: np.ndarray, scale: int) -> np.ndarray:
    import torch

    x = torch.from_numpy(lr_u8).permute(2, 0, 1)[None].float().div_(255)
    with torch.inference_mode():
        y = model(x, scale=scale)[0].permute(1, 2, 0).numpy()
    return np.round(np.clip(y, 0, 1) * 255).astype(np.uint8)


def degrade_real(lo_u8: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A low-resolution patch as a real photo's might be: Gaussian blur, Gaussian or Poisson noise and
    JPEG, each with probability 0.7, in random order (Real-ESRGAN's chain, one pass; 8-bit out)."""
    import cv2

    x = lo_u8.astype(np.float32) / 255

    def blur(x):
        s = float(rng.uniform(0.2, 1.5))
        return cv2.GaussianBlur(x, (0, 0), s)

    def noise(x):
        if rng.random() < 0.7:
            return x + rng.normal(0, rng.uniform(1, 15) / 255, x.shape).astype(np.float32)
        peak = float(rng.uniform(50, 500))  # photons at white
        return rng.poisson(np.clip(x, 0, 1) * peak).astype(np.float32) / peak

    def jpeg(x):
        u8 = np.round(np.clip(x, 0, 1) * 255).astype(np.uint8)
        ok, buf = cv2.imencode(".jpg", u8[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(30, 96))])
        return cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1].astype(np.float32) / 255

    ops = [f for f in (blur, noise, jpeg) if rng.random() < 0.7]
    for i in rng.permutation(len(ops)):
        x = ops[i](x)
    return np.round(np.clip(x, 0, 1) * 255).astype(np.uint8)


def validate(model, data, scales, degrade: str = "bicubic") -> dict[str, float]:
    """Mean Y-PSNR (border = scale) per scale, of the model and of MATLAB bicubic, on the held-out
    images (with ``degrade='real'``: the same chain as training, drawn with a fixed seed)."""
    from imagewizard.physics.resize import imresize

    model.eval()
    out: dict[str, float] = {}
    rng = np.random.default_rng(1234)
    for s in scales:
        ours, bic = [], []
        for hr in data["val"]:
            ref = modcrop(hr, s)
            lo = make_lr(hr, s)
            if degrade == "real":
                lo = degrade_real(lo, rng)
            ours.append(y_psnr(ref, upscale_u8(model, lo, s), s))
            b = imresize(lo.astype(np.float64) / 255, s, dtype=np.float64)
            bic.append(y_psnr(ref, np.round(np.clip(b, 0, 1) * 255).astype(np.uint8), s))
        out[f"x{s}"] = float(np.mean(ours))
        out[f"bicubic_x{s}"] = float(np.mean(bic))
    model.train()
    return out


def _gain(v: dict[str, float], scales) -> float:
    return float(np.mean([v[f"x{s}"] - v[f"bicubic_x{s}"] for s in scales]))


def train_upscaler(cfg: SRConfig, *, resume: str | None = None, log: Callable[[str], None] = print) -> Path:
    """Train (or resume) and return the path of the best weights written."""
    import torch

    from imagewizard.models.archs import build
    from imagewizard.io.files import atomic_write
    from imagewizard.models.train import _load_checkpoint, _save_atomic
    from imagewizard.models.weights import save_model

    state = None
    if resume:
        state = _load_checkpoint(Path(resume))
        saved = state["config"]
        cfg = SRConfig(
            **{
                **saved,
                "steps": max(cfg.steps, saved["steps"]) if cfg.steps else saved["steps"],
                "scales": tuple(saved["scales"]),
                "splits": tuple(saved["splits"]),
            }
        )
    torch.manual_seed(cfg.seed)
    torch.set_num_threads(max(1, cfg.threads))
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    data = load_pairs(cfg, log)
    arch_cfg = {"scales": tuple(cfg.scales), "channels": 3, "features": cfg.features, "blocks": cfg.blocks}
    model, arch_cfg = build("srnet", **arch_cfg)
    if cfg.init and state is None:
        from imagewizard.models.weights import load_model

        start, _ = load_model(cfg.init)
        model.load_state_dict(start.state_dict())
        log(f"started from {cfg.init}")
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    gan = _GanParts(cfg) if cfg.gan > 0 else None
    step, best, history, wall = 0, -math.inf, [], 0.0
    if state is not None:
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        if gan is not None and "disc" in state:
            gan.disc.load_state_dict(state["disc"])
            gan.opt.load_state_dict(state["disc_opt"])
        step, best, history, wall = state["step"], state["best"], state["history"], state.get("wall", 0.0)
        log(f"resumed at step {step} (best validation gain {best:+.3f} dB)")
    rng = np.random.default_rng(cfg.seed + step)
    model.train()
    t_start, t_log, losses = time.time(), time.time(), []
    ckpt = out / "checkpoint.pt"

    def save_checkpoint():
        _save_atomic(
            {
                "config": asdict(cfg),
                "model": model.state_dict(),
                "opt": opt.state_dict(),
                "step": step,
                "best": best,
                "history": history,
                "wall": wall + time.time() - t_start,
                **({"disc": gan.disc.state_dict(), "disc_opt": gan.opt.state_dict()} if gan is not None else {}),
            },
            ckpt,
            resumed=Path(resume) if resume else None,
        )

    while step < cfg.steps:
        s = cfg.scales[step % len(cfg.scales)]
        lr_now = cfg.lr_min + 0.5 * (cfg.lr - cfg.lr_min) * (1 + math.cos(math.pi * step / cfg.steps))
        for g in opt.param_groups:
            g["lr"] = lr_now
        x, y = _batch(data, cfg, s, rng)
        pred = model(x, scale=s)
        loss = torch.nn.functional.l1_loss(pred, y) if gan is None else gan.generator_loss(pred, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
        step += 1
        if time.time() - t_log > 60:
            log(
                f"step {step}/{cfg.steps} loss {np.mean(losses):.5f} lr {lr_now:.2e} "
                f"({(time.time() - t_start) / max(1, len(losses)):.2f} s/step)"
            )
            t_log, losses = time.time(), []
        if step % cfg.val_every == 0 or step == cfg.steps:
            v = validate(model, data, cfg.scales, cfg.degrade)
            gain = _gain(v, cfg.scales)
            history.append({"step": step, **v, "gain": gain})
            log(f"val step {step}: " + ", ".join(f"{k} {val:.3f}" for k, val in v.items()) + f"; gain {gain:+.3f} dB")
            if gain > best or gan is not None:  # a perceptual run keeps its latest: PSNR is not its aim
                best = max(best, gain)
                card = {
                    "task": "upscale",
                    "method": "perceptual" if gan is not None else ("real" if cfg.degrade == "real" else "learned"),
                    "degradation": cfg.degrade,
                    **({"losses": gan.describe(), "init": Path(cfg.init).name} if gan is not None else {}),
                    "scales": list(cfg.scales),
                    "data": {
                        "folder": cfg.data,
                        "splits": list(cfg.splits),
                        "train_images": len(data["train"]),
                        "val_images": data["val_names"],
                        "protocol": "modcrop, MATLAB bicubic 1/scale, 8-bit",
                    },
                    "command": command_line(),
                    "steps": step,
                    "wall_hours": round((wall + time.time() - t_start) / 3600, 3),
                    "validation": {"y_psnr_border_scale": v, "gain_over_bicubic_db": gain},
                    "params": sum(p.numel() for p in model.parameters()),
                }
                save_model(out / f"{cfg.name}.safetensors", model.state_dict(), "srnet", arch_cfg, card)
                log(f"  new best: wrote {out / cfg.name}.safetensors")
        if step % cfg.checkpoint_every == 0 or step == cfg.steps:
            save_checkpoint()
    atomic_write(out / "history.json", json.dumps(history, indent=1) + "\n", what="training history")
    return out / f"{cfg.name}.safetensors"


class _GanParts:
    """ESRGAN's recipe on a CPU budget: a PatchGAN discriminator on high-resolution patches with the
    relativistic average loss (Jolicoeur-Martineau 2018; Wang et al. 2018), a perceptual loss
    (VGG19 features when the user has the weights, else MS-SSIM + gradients) and a small L1 term."""

    def __init__(self, cfg: SRConfig):
        import torch

        from imagewizard.models.archs import build
        from imagewizard.models.perceptual import PerceptualLoss

        self.cfg = cfg
        self.disc, _ = build("patchgan", in_channels=3, features=32, layers=3)
        self.opt = torch.optim.Adam(self.disc.parameters(), lr=cfg.lr, betas=(0.9, 0.99))
        self.percep = PerceptualLoss(cfg.vgg19 or None)

    def describe(self) -> dict[str, Any]:
        c = self.cfg
        return {
            "l1": c.l1,
            "perceptual": c.perceptual,
            "perceptual_kind": self.percep.describe().get("kind"),
            "gan": c.gan,
            "discriminator": "PatchGAN (32 features, 3 layers), relativistic average loss",
        }

    def generator_loss(self, pred, real):
        import torch
        import torch.nn.functional as F

        def bce(logits, target: float):
            return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, target))

        d = self.disc
        # discriminator: real more real than the average fake, fake less real than the average real
        r, f = d(real), d(pred.detach())
        loss_d = 0.5 * (bce(r - f.mean(), 1.0) + bce(f - r.mean(), 0.0))
        self.opt.zero_grad(set_to_none=True)
        loss_d.backward()
        self.opt.step()
        for p in d.parameters():  # the generator's backward pass must not touch D's gradients
            p.requires_grad_(False)
        r, f = d(real).detach(), d(pred)
        adv = 0.5 * (bce(r - f.mean(), 0.0) + bce(f - r.mean(), 1.0))
        for p in d.parameters():
            p.requires_grad_(True)
        c = self.cfg
        return c.l1 * F.l1_loss(pred, real) + c.perceptual * self.percep(pred, real) + c.gan * adv


def command_line() -> str:
    import sys

    return " ".join(["imagewizard", *sys.argv[1:]]) if sys.argv else "imagewizard train upscaler"
