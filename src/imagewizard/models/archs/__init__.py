"""Network architectures, one file each. ``build(name, **config)`` makes one.

Every denoiser takes ``(x, sigma)``: images (N, C, H, W) in [0, 1] and the
noise level (N,) on the 0..1 scale; networks without a noise-level input
ignore ``sigma``.
"""

from __future__ import annotations

from typing import Any, Callable

from imagewizard.core.errors import ParameterError


def _unet(**cfg):
    from imagewizard.models.archs.unet import UNetDenoiser

    return UNetDenoiser(**cfg)


def _unet_blind(**cfg):
    from imagewizard.models.archs.unet_blind import BlindUNet

    return BlindUNet(**cfg)


def _dncnn(**cfg):
    from imagewizard.models.archs.dncnn import DnCNN

    return DnCNN(**cfg)


def _rednet(**cfg):
    from imagewizard.models.archs.rednet import REDNet

    return REDNet(**cfg)


def _dae(**cfg):
    from imagewizard.models.archs.autoencoders import DenoisingAutoencoder

    return DenoisingAutoencoder(**cfg)


def _conv_ae(**cfg):
    from imagewizard.models.archs.autoencoders import ConvAutoencoder

    return ConvAutoencoder(**cfg)


def _vae(**cfg):
    from imagewizard.models.archs.vae import RestorationVAE

    return RestorationVAE(**cfg)


def _srnet(**cfg):
    from imagewizard.models.archs.srnet import SRNet

    return SRNet(**cfg)


def _edgenet(**cfg):
    from imagewizard.models.archs.edgenet import EdgeNet

    return EdgeNet(**cfg)


def _patchgan(**cfg):
    from imagewizard.models.archs.patchgan import PatchGAN

    return PatchGAN(**cfg)


def _diffusion_unet(**cfg):
    from imagewizard.models.diffusion import EpsUNet

    return EpsUNet(**cfg)


def _dcgan(**cfg):
    from imagewizard.models.archs.dcgan import Generator

    return Generator(**cfg)


def _digits_vae(**cfg):
    from imagewizard.models.archs.digits_vae import ConvVAE

    return ConvVAE(**cfg)


def _ddpm(**cfg):
    from imagewizard.models.archs.ddpm import Diffusion

    return Diffusion(**cfg)


#: name -> (builder, default config, one-line summary): restorers, a discriminator and the generators
ARCHS: dict[str, tuple[Callable[..., Any], dict[str, Any], str]] = {
    "edgenet": (
        _edgenet,
        {"widths": (24, 48, 96, 128), "convs": (2, 2, 3, 3)},
        "compact HED-style boundary network (four stages, deep supervision, fused side outputs)",
    ),
    "srnet": (
        _srnet,
        {"scales": (2, 3, 4), "channels": 3, "features": 32, "blocks": 6},
        "compact super-resolution network (EDSR-baseline shape, one body for x2/x3/x4)",
    ),
    "unet": (
        _unet,
        {"in_channels": 3, "channels": (64, 128, 256, 384), "blocks": 1, "shuffle": 2},
        "multi-scale residual U-Net with a noise-level map (flagship)",
    ),
    "unet-blind": (
        _unet_blind,
        {
            "in_channels": 3,
            "channels": (64, 128, 256, 384),
            "blocks": 1,
            "shuffle": 2,
            "est_features": 32,
            "est_depth": 5,
        },
        "the U-Net behind a per-pixel noise-map estimator (CBDNet-style): blind, for real photos",
    ),
    "dncnn": (
        _dncnn,
        {"in_channels": 1, "features": 64, "depth": 17},
        "DnCNN: conv+BN+ReLU stack with residual learning (blind over its training range)",
    ),
    "rednet": (
        _rednet,
        {"in_channels": 3, "features": 64, "depth": 20, "skip_step": 2},
        "RED-Net: symmetric conv/deconv encoder-decoder with skip connections",
    ),
    "conv-ae": (
        _conv_ae,
        {"in_channels": 3, "features": 64},
        "small convolutional autoencoder: Conv-Conv(stride 2)-Upsample-Conv",
    ),
    "dae": (
        _dae,
        {"in_channels": 1, "size": 28, "hidden": (256, 128, 64)},
        "fully connected denoising autoencoder 784-256-128-64 (28x28 gray patches)",
    ),
    "vae": (
        _vae,
        {"in_channels": 1, "channels": (64, 128), "latent": 16, "blocks": 2, "beta": 1e-4},
        "convolutional VAE: Gaussian latent at 1/4 resolution, no skips; loss + beta * KL",
    ),
    "diffusion-unet": (
        _diffusion_unet,
        {
            "in_channels": 1,
            "channels": (64, 128, 256, 384),
            "blocks": 1,
            "shuffle": 2,
            "num_train_timesteps": 1000,
            "beta_start": 1e-4,
            "beta_end": 0.02,
            "beta_schedule": "linear",
        },
        "DDPM noise predictor eps(x_t, t): the flagship U-Net, x0-preconditioned (diffusion)",
    ),
    "patchgan": (
        _patchgan,
        {"in_channels": 2, "features": 64, "layers": 3},
        "PatchGAN discriminator (pix2pix): real/fake score per 70x70 patch",
    ),
    # generation models (`imagewizard generate`); for the GAN only the generator is saved
    "dcgan": (
        _dcgan,
        {"in_channels": 1, "size": 32, "nz": 64, "features": 32},
        "DCGAN generator: transposed convs + BN + ReLU, tanh output",
    ),
    "vae-gen": (
        _digits_vae,
        {"in_channels": 1, "size": 32, "latent": 16, "features": 32, "beta": 1.0},
        "convolutional VAE with a 16-dim latent; samples decode z ~ N(0, I)",
    ),
    "ddpm": (
        _ddpm,
        {
            "in_channels": 1,
            "size": 32,
            "channels": (32, 64, 64),
            "fold": 2,
            "timesteps": 1000,
            "beta_schedule": "squaredcos_cap_v2",
        },
        "DDPM-trained step-conditioned U-Net, sampled with DDIM",
    ),
}

#: the architectures that generate images from noise rather than restore them
GENERATORS = ("dcgan", "vae-gen", "ddpm")


def family(name: str) -> str:
    """``'generation'`` for the generators, ``'restoration'`` for the rest (denoisers and the discriminator)."""
    return "generation" if name in GENERATORS else "restoration"


def build(name: str, **config: Any):
    """Build architecture ``name`` with ``config`` overriding its defaults."""
    try:
        builder, defaults, _ = ARCHS[name]
    except KeyError:
        raise ParameterError(f"unknown architecture '{name}' (known: {', '.join(ARCHS)})") from None
    cfg = {**defaults, **config}
    unknown = set(cfg) - set(defaults)
    if unknown:
        raise ParameterError(f"architecture '{name}' has no option(s) {', '.join(sorted(unknown))}")
    try:
        return builder(**cfg), cfg
    except (TypeError, ValueError) as exc:
        raise ParameterError(f"{name}: bad configuration ({exc})") from None
