"""Training the generative models; deterministic given the seed.

``train_generator("diffusion" | "vae" | "gan", ...)`` trains on the
scikit-learn digits (or an MNIST IDX file), prints a progress line every
~5% of the steps, and writes ``OUT/model.safetensors`` + ``model.json`` (the
card) + ``samples.png`` (64 samples). The card's quality measure is the
*digit-classifier score* (:func:`digit_score`).
"""

from __future__ import annotations

import math
import shlex
import sys
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
import torch.nn.functional as F

from imagewizard.core.errors import ParameterError
from imagewizard.models import digits as D
from imagewizard.models.generators import build, grid, resolve, write_png

#: arch -> default (steps, batch, lr). GAN lr/betas as in Radford et al.
DEFAULTS = {"dcgan": (2500, 64, 2e-4), "vae-gen": (4000, 64, 1e-3), "ddpm": (2000, 64, 1e-3)}

_CLASSIFIER: list = []


def digit_score(images: torch.Tensor) -> dict[str, Any]:
    """Digit-classifier score of images (N, 1, H, W) in [0, 1].

    A multinomial logistic regression is fit on 1500 of scikit-learn's 8x8
    digits; samples are area-downscaled to 8x8 and classified. Reported:
    ``confident`` = fraction whose top class probability exceeds 0.9 (does
    it look like *some* digit), ``entropy_bits`` = entropy of the predicted
    class histogram (log2(10) = 3.32 when all ten digits appear equally;
    low values mean mode collapse), and the same two numbers for the 297
    held-out real digits as the reference.
    """
    if not _CLASSIFIER:
        from sklearn.datasets import load_digits
        from sklearn.linear_model import LogisticRegression

        d = load_digits()
        clf = LogisticRegression(max_iter=5000, C=0.1).fit(d.data[:1500], d.target[:1500])
        _CLASSIFIER.append(clf)
        _CLASSIFIER.append(_score(clf, d.data[1500:]))
    clf, ref = _CLASSIFIER
    return {
        **_score(clf, D.to_digits8(images)),
        "reference_heldout_real": ref,
        "method": "logistic regression fit on 1500 sklearn 8x8 digits; samples area-downscaled to 8x8; "
        "confident = fraction with max class probability > 0.9; entropy_bits = entropy of the "
        "predicted-class histogram (max 3.32)",
    }


def _score(clf, x8: np.ndarray) -> dict[str, Any]:
    p = clf.predict_proba(x8)
    hist = np.bincount(p.argmax(1), minlength=10) / len(p)
    nz = hist[hist > 0]
    return {
        "n": int(len(p)),
        "confident": round(float((p.max(1) > 0.9).mean()), 4),
        "entropy_bits": round(float(-(nz * np.log2(nz)).sum()), 4),
        "class_histogram": [round(float(h), 4) for h in hist],
    }


def _cosine(step: int, steps: int, floor: float = 0.1) -> float:
    return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * min(step, steps) / steps))


def make_stepper(arch: str, model, lr: float, steps: int, g: torch.Generator, config: dict) -> tuple[Callable, dict]:
    """A function ``step(x, i) -> {loss name: value}`` doing one optimiser step on batch x in [0, 1]."""
    if arch == "dcgan":
        from imagewizard.models.archs.dcgan import Discriminator

        disc = Discriminator(config["in_channels"], config["size"], config["features"])
        opt_g = torch.optim.Adam(model.parameters(), lr, betas=(0.5, 0.999))
        opt_d = torch.optim.Adam(disc.parameters(), lr, betas=(0.5, 0.999))
        bce = F.binary_cross_entropy_with_logits

        def step(x, i):
            x = x * 2 - 1  # tanh range
            n = len(x)
            fake = model(torch.randn((n, model.nz), generator=g))
            real_logit, fake_logit = disc(x), disc(fake.detach())
            # one-sided label smoothing (0.9; Salimans et al. 2016) keeps D from saturating on 1797 images
            loss_d = bce(real_logit, torch.full_like(real_logit, 0.9)) + bce(fake_logit, torch.zeros_like(fake_logit))
            opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            opt_d.step()
            out = disc(fake)
            loss_g = bce(out, torch.ones_like(out))  # non-saturating generator loss
            opt_g.zero_grad(set_to_none=True)
            loss_g.backward()
            opt_g.step()
            return {"loss_d": loss_d.item(), "loss_g": loss_g.item()}

        return step, {"discriminator": disc}

    opt = torch.optim.Adam(model.parameters(), lr)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: _cosine(s, steps))
    ema = None
    if arch == "ddpm":  # EMA weights sample much better than the last iterate (Ho et al. 2020)
        ema = {k: v.detach().clone() for k, v in model.state_dict().items()}

    def step(x, i):
        if arch == "vae-gen":
            loss, rec, kl = model.loss(x, generator=g)
            logs = {"loss": loss.item(), "rec": rec.item(), "kl": kl.item()}
        else:
            loss = model.loss(x, generator=g)
            logs = {"loss": loss.item()}
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        if ema is not None:
            d = min(0.995, (1 + i) / (10 + i))
            with torch.no_grad():
                for k, v in model.state_dict().items():
                    ema[k].mul_(d).add_(v.detach(), alpha=1 - d) if v.is_floating_point() else ema[k].copy_(v)
        return logs

    return step, {"ema": ema}


def train_generator(
    model_kind: str,
    data: str | Path | None = None,
    steps: int | None = None,
    batch: int | None = None,
    lr: float | None = None,
    seed: int = 0,
    out: str | Path = "runs/generator",
    minutes: float | None = None,
    config: dict[str, Any] | None = None,
    log: Callable[[str], None] | None = print,
    quality: int = 256,
    sample_steps: int = 50,
    command: str | None = None,
) -> dict[str, Any]:
    """Train a generative model and write ``OUT/model.safetensors``, ``model.json`` and ``samples.png``.

    Parameters
    ----------
    model_kind : str
        ``diffusion``/``ddpm``, ``vae`` or ``gan``/``dcgan``.
    data : path, optional
        MNIST IDX images file (28x28, zero-padded to 32x32); default: the
        1797 scikit-learn 8x8 digits upscaled to 32x32.
    steps, batch, lr : optional
        Defaults per model in :data:`DEFAULTS`.
    seed : int
        Seeds the initialisation, the batches and the noise: same seed, same weights.
    out : path
        Output folder.
    minutes : float, optional
        Stop early (and still save) after this much wall time.
    config : dict, optional
        Architecture settings overriding the defaults in ``zoo.GEN_ARCHS``.
    quality : int
        Number of samples for the digit-classifier score (0 skips it).

    Returns
    -------
    dict
        ``weights``, ``card`` (also written as JSON), ``steps`` done, ``seconds``.
    """
    arch = resolve(model_kind)
    d_steps, d_batch, d_lr = DEFAULTS[arch]
    steps, batch, lr = int(steps or d_steps), int(batch or d_batch), float(lr or d_lr)
    if steps <= 0 or batch <= 0 or lr <= 0:
        raise ParameterError("steps, batch and lr must be positive")
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    size = (config or {}).get("size", 32)
    if data is None:
        x_all = D.load_digits32(size)
        data_card = {
            "name": "digits",
            "source": "sklearn.datasets.load_digits",
            "images": len(x_all),
            "preprocessing": f"8x8 values 0..16 scaled to [0, 1], bilinear upscale to {size}x{size}",
        }
    else:
        x_all = D.mnist_32(data)
        if size != 32:
            x_all = F.interpolate(x_all, size=(size, size), mode="bilinear", align_corners=False)
        data_card = {
            "name": "mnist",
            "file": str(data),
            "images": len(x_all),
            "preprocessing": f"uint8/255, 28x28 zero-padded to 32x32{'' if size == 32 else f', resized to {size}'}",
        }
    model, cfg = build(arch, **{"in_channels": 1, "size": size, **(config or {})})
    model.train()
    stepper, extra = make_stepper(arch, model, lr, steps, g, cfg)
    history: list[dict[str, float]] = []
    every = max(1, steps // 20)
    t0 = time.time()
    done = 0
    for i in range(steps):
        x = x_all[torch.randint(0, len(x_all), (batch,), generator=g)]
        history.append(stepper(x, i))
        done = i + 1
        if log and (done % every == 0 or done == steps):
            recent = _mean(history[-every:])
            log(
                f"step {done}/{steps} "
                + " ".join(f"{k} {v:.4f}" for k, v in recent.items())
                + f" ({time.time() - t0:.0f} s)"
            )
        if minutes is not None and time.time() - t0 > minutes * 60:
            if log:
                log(f"stopping after {done} steps: --minutes {minutes} reached")
            break
    seconds = time.time() - t0
    if extra.get("ema") is not None:
        model.load_state_dict(extra["ema"])
    model.eval()
    card: dict[str, Any] = {
        "task": "generate",
        "data": data_card,
        "command": command if command is not None else " ".join(shlex.quote(a) for a in ["imagewizard", *sys.argv[1:]]),
        "steps": done,
        "batch": batch,
        "lr": lr,
        "seed": seed,
        "wall_seconds": round(seconds, 1),
        "threads": torch.get_num_threads(),
        "final_losses": {k: round(v, 5) for k, v in _mean(history[-min(100, len(history)) :]).items()},
        "first_losses": {k: round(v, 5) for k, v in _mean(history[: min(100, len(history))]).items()},
    }
    if arch == "dcgan":
        card["optimizer"] = "Adam(lr, betas=(0.5, 0.999)) for G and D; BCE, non-saturating G loss, real label 0.9"
        card["saved"] = "generator only"
    elif arch == "ddpm":
        card["sampling"] = f"DDIMScheduler, eta 0, {sample_steps} steps by default; weights are the EMA (0.995)"
    out = Path(out)
    gs = torch.Generator().manual_seed(seed + 1)
    kw = {"steps": sample_steps} if arch == "ddpm" else {}
    if quality:
        samples = model.sample(quality, generator=gs, **kw)
        card["quality"] = {
            "digit_classifier_score": digit_score(samples),
            "samples": f"{quality} samples, seed {seed + 1}" + (f", {sample_steps} DDIM steps" if kw else ""),
        }
        if arch == "vae-gen":
            with torch.no_grad():
                rec = model.reconstruct(x_all[:512])
            card["quality"]["reconstruction_mse_first512"] = round(float(F.mse_loss(rec, x_all[:512])), 6)
        write_png(out / "samples.png", grid(samples[:64]))
    from imagewizard.models.weights import save_model

    path = save_model(out / "model.safetensors", model.state_dict(), arch, cfg, card)
    if log:
        q = card.get("quality", {}).get("digit_classifier_score")
        qtxt = f"; digit score: {q['confident']:.0%} confident, entropy {q['entropy_bits']:.2f} bits" if q else ""
        log(f"saved {path} after {done} steps in {seconds:.0f} s{qtxt}")
    return {"weights": str(path), "card": card, "steps": done, "seconds": seconds, "history": history}


def _mean(rows: list[dict[str, float]]) -> dict[str, float]:
    if not rows:
        return {}
    return {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}
