"""``imagewizard generate`` and ``imagewizard train generator``.

:func:`generate` and :func:`train_generator_cmd` are plain functions;
:func:`mount` adds them as Typer commands to the main app and its ``train``
sub-app. Errors are :class:`~imagewizard.core.errors.ParameterError` with one-line
messages, which the main CLI prints without a traceback.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Optional

import typer

from imagewizard.core.errors import ParameterError

MAX_SAMPLES = 1024


def generate(
    model: str, n: int, out: Path, seed: int = 0, steps: int | None = None, weights: str | None = None
) -> None:
    """Sample ``n`` images and write them as one grid PNG.

    Parameters
    ----------
    model : str
        ``diffusion``, ``vae`` or ``gan`` (``ddpm``/``dcgan`` also accepted).
    n : int
        Number of samples, 1..1024; the grid has ceil(sqrt(n)) columns.
    out : Path
        PNG to write (atomically: temp file in the same folder, then rename).
    seed : int
        Seed of the latent/noise draws; same seed, same images.
    steps : int, optional
        DDIM sampling steps for diffusion (default 50); ignored by the others.
    weights : str, optional
        A ``.safetensors`` file from ``imagewizard train generator``; default:
        the shipped model trained on the digits.
    """
    import torch

    from imagewizard.models.generators import SHIPPED, grid, load_generator, resolve, shipped_path, write_png

    arch = resolve(model)
    if not 1 <= int(n) <= MAX_SAMPLES:
        raise ParameterError(f"-n must be between 1 and {MAX_SAMPLES}, got {n}")
    if steps is not None and not 1 <= int(steps) <= 1000:
        raise ParameterError(f"--steps must be between 1 and 1000, got {steps}")
    path = Path(weights) if weights else shipped_path(arch)
    if not weights and not path.is_file():
        raise ParameterError(f"shipped weights {SHIPPED[arch]} are not installed ({path} missing)")
    net, card = load_generator(path)
    if card.get("arch") and resolve(card["arch"]) != arch:
        raise ParameterError(f"{path}: holds a {card['arch']} model, not {model}")
    t0 = time.time()
    with torch.inference_mode():
        images = net.sample(int(n), generator=torch.Generator().manual_seed(int(seed)), steps=int(steps or 50))
    mosaic = grid(images)
    write_png(out, mosaic)
    extra = f", {int(steps or 50)} DDIM steps" if arch == "ddpm" else ""
    typer.echo(
        f"wrote {out}: {n} samples from {path.stem} ({arch}{extra}, seed {seed}), "
        f"{mosaic.shape[1]}x{mosaic.shape[0]} grid in {time.time() - t0:.1f} s"
    )


def train_generator_cmd(
    model: str,
    data: Path | None = None,
    steps: int | None = None,
    batch: int | None = None,
    lr: float | None = None,
    seed: int = 0,
    out: Path | None = None,
    minutes: float | None = None,
) -> dict:
    """Train a generative model (see :func:`imagewizard.models.train_generative.train_generator`).

    Parameters
    ----------
    model : str
        ``diffusion``, ``vae`` or ``gan``/``dcgan``.
    data : Path, optional
        MNIST IDX images file; default: scikit-learn's 8x8 digits upscaled to 32x32.
    steps, batch, lr : optional
        Defaults per model (``imagewizard.models.train_generative.DEFAULTS``).
    seed : int
        Same seed, same weights.
    out : Path, optional
        Output folder (default ``runs/gen-<arch>``): model.safetensors, model.json, samples.png.
    minutes : float, optional
        Stop early after this much wall time (the model is still saved).

    Returns
    -------
    dict
        What :func:`~imagewizard.models.train_generative.train_generator` returns, without the loss history.
    """
    from imagewizard.models.train_generative import train_generator
    from imagewizard.models.generators import resolve

    arch = resolve(model)
    if data is not None and not Path(data).is_file():
        raise ParameterError(f"{data}: MNIST IDX file not found")
    result = train_generator(
        arch,
        data=data,
        steps=steps,
        batch=batch,
        lr=lr,
        seed=seed,
        out=out or Path(f"runs/gen-{arch}"),
        minutes=minutes,
        log=typer.echo,
    )
    result.pop("history", None)
    return result


def register(app: typer.Typer) -> None:
    """Add ``imagewizard generate`` and ``imagewizard train generator`` (the one hook of every
    sub-command module)."""
    from imagewizard.cli.train import train_app

    @app.command(
        "generate",
        epilog="""
Examples:

    imagewizard generate --model diffusion -n 16 -o grid.png

    imagewizard generate --model gan -n 64 --seed 3 -o gan.png

    imagewizard generate --model diffusion --steps 20 --weights runs/gen-ddpm/model.safetensors -o fast.png
""",
    )
    def _generate(
        model: str = typer.Option("diffusion", "--model", "-m", help="diffusion, vae or gan"),
        n: int = typer.Option(16, "-n", help="number of samples (1..1024)"),
        out: Path = typer.Option(Path("samples.png"), "--out", "-o", help="grid PNG to write"),
        seed: int = typer.Option(0, help="random seed of the samples"),
        steps: int = typer.Option(50, help="DDIM sampling steps (diffusion only)"),
        weights: Optional[str] = typer.Option(
            None, help="a .safetensors file from 'train generator' (default: shipped)"
        ),
    ) -> None:
        """Sample new images from a generative model trained on digits (DDIM diffusion, VAE or DCGAN)."""
        generate(model, n, out, seed, steps, weights)

    @train_app.command(
        "generator",
        epilog="""
Examples:

    imagewizard train generator --model diffusion --steps 2000 --out runs/gen-ddpm

    imagewizard train generator --model gan --data train-images-idx3-ubyte.gz --minutes 30
""",
    )
    def _generator(
        model: str = typer.Option("diffusion", "--model", "-m", help="diffusion, vae or gan (dcgan)"),
        data: Optional[Path] = typer.Option(None, help="MNIST IDX images file (default: sklearn 8x8 digits)"),
        steps: Optional[int] = typer.Option(None, help="optimiser steps (default per model)"),
        batch: Optional[int] = typer.Option(None, help="images per step (default 64)"),
        lr: Optional[float] = typer.Option(None, help="learning rate (default per model; GAN 2e-4)"),
        seed: int = typer.Option(0, help="random seed (runs are deterministic given it)"),
        out: Optional[Path] = typer.Option(None, help="output folder (default runs/gen-<arch>)"),
        minutes: Optional[float] = typer.Option(None, help="stop after this many minutes (still saves)"),
    ) -> None:
        """Train a generative model (DDPM, VAE or DCGAN) on small gray digits."""
        train_generator_cmd(model, data, steps, batch, lr, seed, out, minutes)
