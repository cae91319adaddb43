"""Helpers shared by the generative restorers (VAE sampling)."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn


class PosteriorMean(nn.Module):
    """Average of ``samples`` decodings of latents drawn from the VAE's posterior q(z | x).

    The mean of samples approaches the posterior-mean estimate (lower error than any one sample);
    one sample shows a plausible restoration with the uncertainty left in.
    """

    def __init__(self, vae: nn.Module, *, samples: int = 8, seed: int = 0):
        super().__init__()
        self.vae, self.samples, self.seed = vae, max(int(samples), 1), int(seed)
        for k in ("in_channels", "multiple", "receptive_margin"):
            setattr(self, k, getattr(vae, k))

    def draws(self, x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        """All samples, stacked on a new first axis."""
        state = torch.get_rng_state()
        # sigma in the seed: the opponent channels of a colour image draw independent latents
        torch.manual_seed(self.seed * 1_000_003 + int(round(float(sigma.reshape(-1)[0]) * 1e6)))
        self.vae.sampling = True
        try:
            return torch.stack([self.vae(x, sigma) for _ in range(self.samples)])
        finally:
            self.vae.sampling = False
            torch.set_rng_state(state)

    def forward(self, x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        return self.draws(x, sigma).mean(0)


def vae_samples(
    img: np.ndarray, sigma: float, *, samples: int = 8, seed: int = 0, weights: str = "vae-gray"
) -> np.ndarray:
    """Every posterior sample of the VAE restoration of a gray image: array (samples, H, W).

    Examples
    --------
    >>> import numpy as np
    >>> from imagewizard.models.generative import vae_samples
    >>> noisy = np.random.default_rng(0).random((32, 32), dtype=np.float32)
    >>> vae_samples(noisy, 25, samples=3).shape  # doctest: +SKIP
    (3, 32, 32)
    """
    from imagewizard.models.zoo import load

    model, _ = load(weights)
    if img.ndim != 2:
        raise ValueError("vae_samples takes a gray HxW image")
    sampler = PosteriorMean(model, samples=samples, seed=seed)
    with torch.inference_mode():
        x = torch.from_numpy(np.ascontiguousarray(img, dtype=np.float32))[None, None]
        out = sampler.draws(x, torch.tensor([sigma / 255.0]))
    return out[:, 0, 0].numpy()
