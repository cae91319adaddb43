"""Denoising diffusion for restoration: DDPM training, DDIM sampling from the noisy image.

The forward process (Ho et al. 2020), in diffusers' [-1, 1] image scale:
``x_t = sqrt(abar_t) x0 + sqrt(1 - abar_t) eps``. An image in [0, 1] with
Gaussian noise sigma is ``2 y - 1 = x0 + 2 sigma eps``, which is ``x_t /
sqrt(abar_t)`` at the step where ``sqrt((1 - abar_t) / abar_t) = 2 sigma``.
So restoration starts the reverse process at that step (topping the noise up
to the step's exact level) instead of at pure noise; ``steps=1`` returns the
network's one-shot estimate of x0, more DDIM steps a sharper posterior
sample. Schedulers come from ``diffusers`` (DDPMScheduler to train,
DDIMScheduler to sample).

Our noise-prediction network (``diffusion-unet``) is the flagship U-Net
conditioned on the step through its noise level, with the preconditioning
of Karras et al. (2022): the U-Net sees ``x_t / sqrt(abar_t)`` mapped back to
[0, 1] with its noise level, predicts x0, and that is converted to the noise
``eps`` the DDPM loss compares. A diffusers ``UNet2DModel`` (e.g.
``google/ddpm-celeba-hq``) plugs in the same way through
:class:`~imagewizard.models.diffusers_unet.DiffusersEps`.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

#: The schedule of DDPM (and of google/ddpm-celeba-hq): 1000 linear betas 1e-4..0.02.
DEFAULT_SCHEDULE = {"num_train_timesteps": 1000, "beta_start": 1e-4, "beta_end": 0.02, "beta_schedule": "linear"}


def ddpm_scheduler(config: dict | None = None):
    from diffusers import DDPMScheduler

    # from_config ignores the bookkeeping keys (_class_name, ...) of a saved scheduler_config.json.
    return DDPMScheduler.from_config({**DEFAULT_SCHEDULE, **(config or {})})


def noise_ratio(alphas_cumprod: torch.Tensor) -> torch.Tensor:
    """``sqrt((1 - abar) / abar)`` per step: the noise std relative to the signal, on the [-1, 1] scale."""
    a = alphas_cumprod.double()
    return torch.sqrt((1 - a) / a)


def step_for_sigma(alphas_cumprod: torch.Tensor, sigma: float, candidates=None) -> int:
    """First step whose noise level reaches ``sigma`` (0..1 image scale), among ``candidates`` (default: all).

    ``sigma`` on [0, 1] images is ``2 sigma`` on diffusers' [-1, 1] scale.
    """
    ratio = noise_ratio(alphas_cumprod)
    steps = list(range(len(ratio))) if candidates is None else sorted(int(t) for t in candidates)
    for t in steps:
        if ratio[t] >= 2 * sigma:
            return t
    return steps[-1]


class EpsUNet(nn.Module):
    """Noise predictor ``eps(x_t, t)`` built on the noise-level-conditioned U-Net (x0-preconditioned)."""

    def __init__(
        self,
        in_channels: int = 1,
        channels: tuple[int, ...] = (64, 128, 256, 384),
        blocks: int = 1,
        shuffle: int = 2,
        num_train_timesteps: int = 1000,
        beta_start: float = 1e-4,
        beta_end: float = 0.02,
        beta_schedule: str = "linear",
    ):
        super().__init__()
        from imagewizard.models.archs.unet import UNetDenoiser

        self.denoiser = UNetDenoiser(in_channels, channels, blocks, shuffle)
        self.in_channels = in_channels
        self.multiple, self.receptive_margin = self.denoiser.multiple, self.denoiser.receptive_margin
        self.scheduler_config = {
            "num_train_timesteps": num_train_timesteps,
            "beta_start": beta_start,
            "beta_end": beta_end,
            "beta_schedule": beta_schedule,
        }
        abar = ddpm_scheduler(self.scheduler_config).alphas_cumprod.float()
        self.register_buffer("alphas_cumprod", abar, persistent=False)

    def predict_x0(self, x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        a = self.alphas_cumprod[t].view(-1, 1, 1, 1).to(x_t.dtype)
        y = (x_t / a.sqrt() + 1) / 2  # back to a [0, 1] image with Gaussian noise...
        sigma = ((1 - a) / a).sqrt().view(-1) / 2  # ...of this level
        return 2 * self.denoiser(y, sigma) - 1

    def forward(self, x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        a = self.alphas_cumprod[t].view(-1, 1, 1, 1).to(x_t.dtype)
        return (x_t - a.sqrt() * self.predict_x0(x_t, t)) / (1 - a).sqrt()


class DiffusionRestorer(nn.Module):
    """Denoiser ``(x, sigma)`` on [0, 1] images from a noise predictor ``eps(x_t, t)`` (the zoo's interface).

    Parameters
    ----------
    eps_model : nn.Module
        ``forward(x_t, t)`` predicts the noise; ``scheduler_config`` (dict or None) names its schedule.
    steps : int
        Reverse steps from the step matching sigma down to 0: 1 gives the one-shot x0 estimate.
    eta : float
        DDIM stochasticity: 0 deterministic, 1 DDPM-like ancestral sampling.
    seed : int
        Seed of the noise top-up and of the sampling noise (results are reproducible).
    """

    def __init__(self, eps_model: nn.Module, *, steps: int = 1, eta: float = 0.0, seed: int = 0):
        super().__init__()
        self.eps_model = eps_model
        self.steps, self.eta, self.seed = int(steps), float(eta), int(seed)
        self.in_channels = getattr(eps_model, "in_channels", 1)
        self.multiple = int(getattr(eps_model, "multiple", 8))
        self.receptive_margin = int(getattr(eps_model, "receptive_margin", 64))
        self.scheduler_config = {**DEFAULT_SCHEDULE, **(getattr(eps_model, "scheduler_config", None) or {})}
        abar = ddpm_scheduler(self.scheduler_config).alphas_cumprod.float()
        self.register_buffer("alphas_cumprod", abar, persistent=False)

    def forward(self, x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        from diffusers import DDIMScheduler

        h, w = x.shape[-2:]
        m = self.multiple
        ph, pw = (-h) % m, (-w) % m
        xp = F.pad(x, (0, pw, 0, ph), mode="replicate") if ph or pw else x
        s = float(sigma.reshape(-1)[0])
        # The noise level enters the seed so that the three opponent channels of a colour image (each a
        # gray image with its own sigma) draw independent noise, while results stay reproducible.
        gen = torch.Generator().manual_seed(self.seed * 1_000_003 + int(round(s * 1e6)))
        ratio = noise_ratio(self.alphas_cumprod)
        if self.steps <= 1:
            timesteps = [step_for_sigma(self.alphas_cumprod, s)]
            sched = None
        else:
            sched = DDIMScheduler.from_config(self.scheduler_config, clip_sample=False, set_alpha_to_one=True)
            t_top = step_for_sigma(self.alphas_cumprod, s)
            stride = max(1, math.ceil(t_top / (self.steps - 1))) if t_top else 1
            sched.set_timesteps(max(1, self.scheduler_config["num_train_timesteps"] // stride))
            t0 = step_for_sigma(self.alphas_cumprod, s, sched.timesteps.tolist())
            timesteps = [int(t) for t in sched.timesteps if int(t) <= t0]
        t0 = timesteps[0]
        a0 = self.alphas_cumprod[t0].double()
        # Top the image's noise up to the step's exact level: (2 sigma)^2 + extra^2 = ratio_t0^2.
        extra = math.sqrt(max(float(ratio[t0]) ** 2 - 4 * s * s, 0.0))
        y = 2 * xp - 1
        if extra > 0:
            y = y + extra * torch.randn(y.shape, generator=gen, dtype=y.dtype)
        sample = (a0.sqrt().float() * y).to(x.dtype)
        for i, t in enumerate(timesteps):
            tt = torch.full((sample.shape[0],), t, dtype=torch.long)
            eps = self.eps_model(sample, tt)
            if sched is None or i == len(timesteps) - 1 and t == 0:
                a = self.alphas_cumprod[t]
                sample = (sample - (1 - a).sqrt() * eps) / a.sqrt()  # x0 estimate
                break
            sample = sched.step(eps, t, sample, eta=self.eta, generator=gen).prev_sample
        else:
            # DDIM's last step lands on t = 0, which still holds a trace of noise: take its x0 estimate.
            tt = torch.zeros((sample.shape[0],), dtype=torch.long)
            a = self.alphas_cumprod[0]
            sample = (sample - (1 - a).sqrt() * self.eps_model(sample, tt)) / a.sqrt()
        return ((sample + 1) / 2)[..., :h, :w]


def diffusion_loss(
    model: nn.Module,
    clean: torch.Tensor,
    scheduler,
    rng: np.random.Generator,
    *,
    t_max: int,
    perceptual=None,
    perceptual_weight: float = 0.0,
) -> torch.Tensor:
    """DDPM objective on a batch of clean [0, 1] images: MSE between the added and the predicted noise at a
    random step in [0, t_max], plus ``perceptual_weight`` x a perceptual loss on the implied x0."""
    n = clean.shape[0]
    x0 = 2 * clean - 1
    t = torch.from_numpy(rng.integers(0, t_max + 1, size=n)).long().to(clean.device)
    eps = torch.from_numpy(rng.standard_normal(clean.shape, dtype=np.float32)).to(clean.device)
    x_t = scheduler.add_noise(x0, eps, t)
    pred = model(x_t, t)
    loss = F.mse_loss(pred, eps)
    if perceptual is not None and perceptual_weight > 0:
        a = scheduler.alphas_cumprod.to(x_t.dtype)[t].view(-1, 1, 1, 1)
        x0_hat = (x_t - (1 - a).sqrt() * pred) / a.sqrt()
        loss = loss + perceptual_weight * perceptual(((x0_hat + 1) / 2).clamp(0, 1), clean)
    return loss
