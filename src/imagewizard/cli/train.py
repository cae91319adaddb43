"""``imagewizard train ...``: the training commands (mounted by the main CLI)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, List, Optional

import typer

from imagewizard.models.train import LOSSES

train_app = typer.Typer(
    help="Train learned models on a folder of images.", no_args_is_help=True, rich_markup_mode="markdown"
)


@train_app.callback()
def _train() -> None:
    """Train learned models on a folder of images."""


@train_app.command(
    "denoiser",
    epilog="""
Examples:

    imagewizard train denoiser --arch unet --data data/bsds500/images \\
        --exclude data/testsets/CBSD68 --channels 3 --sigma 0-75 --steps 40000 --out runs/unet-color

    imagewizard train denoiser --resume runs/unet-color --minutes 60

    # for real files and photos beyond BSDS: half the batches clipped and rounded to 8 bits, package
    # photos and dead leaves beside the folder, colour augmentation, validation on held-out photos
    imagewizard train denoiser --arch unet --init unet-color --data data/bsds500/images \\
        --exclude data/testsets/CBSD68 --channels 3 --clip-fraction 0.5 \\
        --mix folder=0.6,photos=0.25,dead-leaves=0.15 --colour-aug 0.3 --val-set photos \\
        --val-protocols float,uint8 --lr 1e-4 --loss mse --steps 6000 --out runs/unet-color-real

    # the blind real-photo denoiser: camera-model, JPEG-compressed and signal-dependent noise
    imagewizard train denoiser --arch unet-blind --init unet-color --noise real \
        --data data/bsds500/images --exclude data/testsets/CBSD68 --channels 3 \
        --mix folder=0.6,photos=0.25,dead-leaves=0.15 --colour-aug 0.3 --val-set photos \
        --lr 1e-4 --loss mse --steps 6000 --out runs/real-color

    imagewizard train denoiser --arch unet --init unet-gray --gan --l1-weight 100 --channels 1 \\
        --data data/bsds500/images --exclude data/testsets/CBSD68 --lr 1e-4 --steps 1200 --out runs/gan-gray
""",
)
def denoiser(
    arch: str = typer.Option("unet", help="architecture (see `imagewizard models --archs`)"),
    arch_config: Optional[List[str]] = typer.Option(
        None,
        "--arch-config",
        help="architecture setting as KEY=VALUE, "
        "repeatable, e.g. --arch-config depth=12 --arch-config "
        "features=48 (defaults: imagewizard models --archs)",
    ),
    data: Optional[Path] = typer.Option(None, help="folder of training images (searched recursively)"),
    exclude: Optional[Path] = typer.Option(None, help="folder of images never to train on (matched by file name)"),
    channels: int = typer.Option(3, help="1 = gray, 3 = colour"),
    sigma: str = typer.Option("0-75", help="Gaussian noise sigma or range on the 0..255 scale, e.g. 25 or 0-75"),
    noise: str = typer.Option(
        "gaussian",
        help="training noise: gaussian (--sigma, the model told it) or real (camera-model, JPEG-compressed and "
        "signal-dependent noise for a blind model such as --arch unet-blind)",
    ),
    patch: int = typer.Option(128, help="patch side in pixels"),
    batch: int = typer.Option(8, help="patches per step"),
    steps: Optional[int] = typer.Option(None, help="schedule length in steps (default 10000)"),
    minutes: Optional[float] = typer.Option(None, help="stop this invocation after this many minutes (resume later)"),
    lr: Optional[float] = typer.Option(None, help="peak learning rate (AdamW; default 4e-4)"),
    schedule: str = typer.Option("cosine", help="cosine or step"),
    loss: str = typer.Option("l1", help=f"{', '.join(LOSSES)} (psnr: MSE weighted per patch towards the mean PSNR)"),
    ema: float = typer.Option(0.999, help="EMA decay of the weights (0 = off)"),
    val_every: Optional[int] = typer.Option(None, help="validate every N steps (default 1000)"),
    seed: int = typer.Option(0, help="random seed (runs are deterministic given it)"),
    threads: Optional[int] = typer.Option(None, help="torch CPU threads (default: all)"),
    device: Optional[str] = typer.Option(None, help="auto (CUDA when torch sees a GPU; the default), cpu or cuda[:N]"),
    init: Optional[str] = typer.Option(
        None,
        help="start from these trained weights (zoo name or .safetensors "
        "of the same architecture), e.g. a GAN generator from unet-gray",
    ),
    gan: bool = typer.Option(
        False,
        "--gan",
        help="train as a conditional GAN (pix2pix): PatchGAN discriminator, "
        "loss = adversarial + --l1-weight x pixel loss",
    ),
    l1_weight: float = typer.Option(100.0, help="weight of the pixel loss against the adversarial loss (--gan)"),
    clip_fraction: float = typer.Option(
        0.0,
        help="share of batches whose noisy input is clipped to [0, 1] and "
        "rounded to 8 bits, as a saved file holds it (the model is told the "
        "true sigma); 0 = float noise only",
    ),
    mix: Optional[str] = typer.Option(
        None,
        help="training sources and weights, e.g. folder=0.6,photos=0.25,"
        "dead-leaves=0.15 (folder: --data; photos: package photos, see "
        "docs/training-data.md; dead-leaves: procedural); default: the folder only",
    ),
    colour_aug: float = typer.Option(
        0.0,
        help="probability of a random colour change (channel order, hue, "
        "saturation, exposure, gamma) on a photograph patch (needs --mix)",
    ),
    val_set: str = typer.Option(
        "folder",
        help="validate on: folder (a held-out split of --data) or photos "
        "(the held-out package photos; the folder is then trained on whole)",
    ),
    val_protocols: str = typer.Option(
        "float", help="validation protocols, comma-separated: float, uint8; the best checkpoint is chosen on their mean"
    ),
    resume: Optional[Path] = typer.Option(None, help="run folder or checkpoint to resume exactly"),
    out: Optional[Path] = typer.Option(None, help="run folder (checkpoints, log, best weights)"),
) -> None:
    """Train a denoiser on random noisy patches; checkpoints resume exactly."""
    from imagewizard.models.data import parse_mix, parse_sigma_range
    from imagewizard.models.train import TrainConfig, command_line, train_denoiser

    if resume is not None:
        overrides = {
            "steps": steps,
            "minutes": minutes,
            "lr": lr,
            "val_every": val_every,
            "threads": threads,
            "device": device,
            "out": str(out) if out else None,
        }
        result = train_denoiser(TrainConfig(), resume=resume, overrides=overrides)
    else:
        if data is None:
            raise typer.BadParameter("--data is required (unless --resume)")
        cfg = TrainConfig(
            arch=arch,
            arch_config=_parse_arch_config(arch_config or []),
            data=str(data),
            exclude=str(exclude) if exclude else None,
            channels=channels,
            sigma=parse_sigma_range(sigma),
            noise=noise,
            patch=patch,
            batch=batch,
            steps=steps or 10000,
            minutes=minutes,
            lr=lr or 4e-4,
            schedule=schedule,
            loss=loss,
            ema=ema,
            val_every=val_every or 1000,
            seed=seed,
            threads=threads or 0,
            device=device or "auto",
            init=init,
            gan=gan,
            l1_weight=l1_weight,
            clip_fraction=clip_fraction,
            mix=parse_mix(mix),
            colour_aug=colour_aug,
            val_set=val_set,
            val_protocols=tuple(p.strip() for p in val_protocols.split(",") if p.strip()),
            out=str(out or f"runs/{arch}"),
            command=command_line(),
        )
        result = train_denoiser(cfg)
    best = result["best"]
    typer.echo(
        f"trained {result['step']}/{result['steps']} steps ({result['hours']:.2f} h); "
        f"best validation PSNR {best['psnr']:.3f} dB at step {best['step']}; run folder {result['out']}"
    )


@train_app.command(
    "diffusion",
    epilog="""
Examples:

    # fine-tune the flagship U-Net as a DDPM noise predictor (restoration part of the schedule)
    imagewizard train diffusion --init unet-gray --channels 1 --data data/bsds500/images \\
        --exclude data/testsets/CBSD68 --steps 600 --out runs/diffusion-gray

    # fine-tune a diffusers-format UNet (a local folder; a hub id such as google/ddpm-celeba-hq when online)
    imagewizard train diffusion --init ./ddpm-celeba-hq --vgg19 vgg19.pth --data photos/ --out runs/ddpm-ft
""",
)
def diffusion(
    init: Optional[str] = typer.Option(
        None,
        help="start from: a zoo U-Net denoiser (e.g. unet-gray), or a "
        "diffusers UNet folder / hub id; none = train our U-Net from scratch",
    ),
    arch_config: Optional[List[str]] = typer.Option(
        None, "--arch-config", help="diffusion-unet setting KEY=VALUE (from scratch only)"
    ),
    data: Optional[Path] = typer.Option(None, help="folder of training images (searched recursively)"),
    exclude: Optional[Path] = typer.Option(None, help="folder of images never to train on (matched by file name)"),
    channels: int = typer.Option(1, help="1 = gray, 3 = colour"),
    sigma: str = typer.Option(
        "0-75", help="noise levels to restore (0..255 scale): training draws steps up to the one matching the top level"
    ),
    full_schedule: bool = typer.Option(
        False,
        "--full-schedule",
        help="train on every step of the schedule "
        "(needed to generate from pure noise; restoration uses only the low steps)",
    ),
    patch: int = typer.Option(128, help="patch side in pixels"),
    batch: int = typer.Option(8, help="patches per step"),
    steps: Optional[int] = typer.Option(None, help="schedule length in steps (default 2000)"),
    minutes: Optional[float] = typer.Option(None, help="stop this invocation after this many minutes (resume later)"),
    lr: float = typer.Option(1e-5, help="peak learning rate (AdamW)"),
    perceptual: float = typer.Option(0.1, help="weight of the perceptual loss on the predicted clean image"),
    vgg19: Optional[str] = typer.Option(
        None,
        help="VGG19 weights (torchvision state-dict layout, .pth or "
        ".safetensors) for the perceptual loss; default $IMAGEWIZARD_VGG19, else "
        "multi-scale SSIM + gradient loss (recorded in the card)",
    ),
    ema: float = typer.Option(0.999, help="EMA decay of the weights (0 = off)"),
    val_every: Optional[int] = typer.Option(None, help="validate every N steps (default 500)"),
    seed: int = typer.Option(0, help="random seed"),
    threads: Optional[int] = typer.Option(None, help="torch CPU threads (default: all)"),
    device: Optional[str] = typer.Option(None, help="auto (CUDA when torch sees a GPU; the default), cpu or cuda[:N]"),
    resume: Optional[Path] = typer.Option(None, help="run folder or checkpoint to resume exactly"),
    out: Optional[Path] = typer.Option(None, help="run folder (checkpoints, log, best weights)"),
) -> None:
    """Train a denoising diffusion model (DDPM noise prediction), validated by its one-step restoration."""
    from imagewizard.models.data import parse_sigma_range
    from imagewizard.models.train import TrainConfig, command_line, train_denoiser

    if resume is not None:
        overrides = {
            "steps": steps,
            "minutes": minutes,
            "val_every": val_every,
            "threads": threads,
            "device": device,
            "out": str(out) if out else None,
        }
        result = train_denoiser(TrainConfig(), resume=resume, overrides=overrides)
    else:
        if data is None:
            raise typer.BadParameter("--data is required (unless --resume)")
        arch = "diffusion-unet"
        if init and _is_diffusers(init):
            arch = "diffusers-unet"
        cfg = TrainConfig(
            arch=arch,
            arch_config=_parse_arch_config(arch_config or []),
            data=str(data),
            exclude=str(exclude) if exclude else None,
            channels=channels,
            sigma=parse_sigma_range(sigma),
            patch=patch,
            batch=batch,
            steps=steps or 2000,
            minutes=minutes,
            lr=lr,
            loss="mse",
            ema=ema,
            val_every=val_every or 500,
            seed=seed,
            threads=threads or 0,
            device=device or "auto",
            init=init,
            objective="diffusion",
            perceptual=perceptual,
            vgg19=vgg19,
            full_schedule=full_schedule,
            out=str(out or "runs/diffusion"),
            command=command_line(),
        )
        result = train_denoiser(cfg)
    best = result["best"]
    typer.echo(
        f"trained {result['step']}/{result['steps']} steps ({result['hours']:.2f} h); best one-step "
        f"validation PSNR {best['psnr']:.3f} dB at step {best['step']}; run folder {result['out']}"
    )


@train_app.command(
    "upscaler",
    epilog="""
Examples:

    # the shipped srnet-color weights: BSDS500 train + test (never val: it is BSD100, a test set)
    imagewizard train upscaler --data data/bsds500/images --splits train,test --steps 15000 --out runs/upscaler

    imagewizard train upscaler --resume runs/upscaler/checkpoint.pt --steps 30000   # go on, longer

    # the perceptual upscaler: the same network fine-tuned with a discriminator and a perceptual loss
    imagewizard train upscaler --data data/bsds500/images --init runs/upscaler/srnet-color.safetensors \\
        --gan 0.005 --lr 5e-5 --steps 3000 --name srnet-perceptual --out runs/upscaler-perceptual

    # for real photos: inputs blurred, noisy and JPEG-compressed in random order (Real-ESRGAN's chain)
    imagewizard train upscaler --data data/bsds500/images --init runs/upscaler/srnet-color.safetensors \\
        --degrade real --lr 1e-4 --steps 3000 --name srnet-real --out runs/upscaler-real
""",
)
def upscaler(
    data: Optional[Path] = typer.Option(None, help="folder holding the SPLITS sub-folders of training photos"),
    splits: str = typer.Option("train,test", help="sub-folders to train on; the last one's last VAL_IMAGES validate"),
    val_images: int = typer.Option(10, min=1, help="held-out validation images"),
    scales: str = typer.Option("2,3,4", help="upscaling factors, one network body for all"),
    features: int = typer.Option(32, min=4, help="feature maps of the network"),
    blocks: int = typer.Option(6, min=1, help="residual blocks"),
    steps: int = typer.Option(15000, min=1, help="optimizer steps in all (cosine schedule)"),
    batch: int = typer.Option(16, min=1, help="patches per step"),
    patch: int = typer.Option(96, min=24, help="high-resolution patch side (a multiple of every scale)"),
    lr: float = typer.Option(2e-4, help="peak learning rate (Adam)"),
    val_every: int = typer.Option(1000, min=1, help="validate (and keep the best weights) every N steps"),
    threads: int = typer.Option(1, min=1, help="CPU threads (one per training job on a 2-core machine)"),
    seed: int = typer.Option(0, help="random seed"),
    resume: Optional[Path] = typer.Option(None, help="checkpoint.pt of an earlier run to go on from"),
    out: Path = typer.Option(Path("runs/upscaler"), help="run folder: checkpoint, weights, card, log"),
    name: str = typer.Option("srnet-color", help="weights name (srnet-perceptual for the perceptual upscaler)"),
    init: Optional[Path] = typer.Option(None, help="start from these srnet weights (a perceptual fine-tune)"),
    gan: float = typer.Option(0.0, min=0.0, help="adversarial loss weight (ESRGAN: 0.005); 0 = plain L1 training"),
    perceptual_weight: float = typer.Option(1.0, min=0.0, help="perceptual loss weight (with --gan)"),
    l1_weight: float = typer.Option(0.01, min=0.0, help="L1 loss weight (with --gan)"),
    vgg19: Optional[Path] = typer.Option(None, help="torchvision-layout VGG19 weights for the perceptual loss"),
    degrade: str = typer.Option("bicubic", help="bicubic (the papers' inputs) or real (blur, noise, JPEG chained)"),
) -> None:
    """Train the learned upscaler (srnet) on bicubic-shrunk photos, the papers' protocol."""
    from imagewizard.core.errors import ParameterError
    from imagewizard.models.train_sr import SRConfig, train_upscaler

    if data is None and resume is None:
        raise ParameterError("give --data (a folder of photos) or --resume (a checkpoint)")
    try:
        scale_list = tuple(int(x) for x in scales.split(",") if x.strip())
    except ValueError:
        raise ParameterError(f"--scales: integers separated by commas, got {scales!r}") from None
    if (
        not scale_list
        or any(s not in (2, 3, 4) for s in scale_list)
        or patch % max(scale_list)
        or patch % 3
        and 3 in scale_list
    ):
        raise ParameterError("--scales are 2, 3 and/or 4, and --patch a multiple of each")
    cfg = SRConfig(
        data=str(data or ""),
        splits=tuple(x.strip() for x in splits.split(",") if x.strip()),
        val_images=val_images,
        scales=scale_list,
        features=features,
        blocks=blocks,
        patch=patch,
        batch=batch,
        steps=steps,
        lr=lr,
        val_every=val_every,
        checkpoint_every=max(1, min(500, val_every)),
        seed=seed,
        threads=threads,
        out=str(out),
        name=name,
        init=str(init or ""),
        gan=gan,
        perceptual=perceptual_weight,
        l1=l1_weight,
        vgg19=str(vgg19 or ""),
        degrade=degrade,
    )
    if degrade not in ("bicubic", "real"):
        raise ParameterError(f"--degrade is bicubic or real, got {degrade!r}")
    path = train_upscaler(cfg, resume=str(resume) if resume else None, log=typer.echo)
    typer.echo(f"best weights: {path}")


def _is_diffusers(init: str) -> bool:
    """A diffusers UNet (folder with config.json, pipeline folder with unet/, or a hub id) rather than zoo weights."""
    p = Path(init)
    if p.is_dir():
        return (p / "config.json").is_file() or (p / "unet" / "config.json").is_file()
    from imagewizard.models import zoo

    return not (p.suffix == ".safetensors" or zoo.find(init) is not None)


def _parse_arch_config(items: List[str]) -> dict[str, Any]:
    """``['depth=12', 'channels=32,64,128']`` -> ``{'depth': 12, 'channels': (32, 64, 128)}``."""
    from imagewizard.core.errors import ParameterError

    def value(text: str) -> Any:
        parts = [p.strip() for p in text.split(",")]
        conv = []
        for p in parts:
            try:
                conv.append(int(p))
            except ValueError:
                try:
                    conv.append(float(p))
                except ValueError:
                    conv.append(p)
        return tuple(conv) if len(conv) > 1 else conv[0]

    out: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or not key.strip() or not text.strip():
            raise ParameterError(f"--arch-config {item!r}: expected KEY=VALUE, e.g. depth=12")
        out[key.strip().replace("-", "_")] = value(text)
    return out


if __name__ == "__main__":  # python -m imagewizard.cli.train denoiser ...
    train_app()


def register(app: typer.Typer) -> None:
    """Add ``imagewizard train ...`` (every sub-command module has this one hook)."""
    app.add_typer(train_app, name="train")
