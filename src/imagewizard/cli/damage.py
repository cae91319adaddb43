"""``imagewizard degrade``: controlled, seeded damage."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from imagewizard.cli.app import _OUT, _OVERWRITE, _check_output, _console, _read, _write, app


@app.command(
    epilog="""
Examples:

    imagewizard degrade clean.png -o noisy.png --noise gaussian:25 --seed 0

    imagewizard degrade clean.png -o shaky.png --blur motion:15,30 --noise gaussian:2

    imagewizard degrade clean.png -o noisy.npy --noise gaussian:25 --float   # unclipped (benchmark protocol)

    imagewizard degrade clean.png -o damaged.png --mask text   # also writes damaged-mask.png
"""
)
def degrade(
    input: Path = typer.Argument(..., help="clean input image"),
    output: Path = _OUT,
    noise: Optional[List[str]] = typer.Option(
        None, "--noise", "-n", help="noise spec, repeatable: gaussian:25, salt-pepper:0.1,0.5, speckle:0.2, poisson:30"
    ),
    blur: Optional[str] = typer.Option(
        None, "--blur", "-b", help="blur kernel spec or file: gaussian:2, motion:15,30, disk:4, box:5"
    ),
    mask: Optional[str] = typer.Option(None, "--mask", help="damage: pixels:0.5, lines:8,5, box:0.25, text[:WORDS]"),
    jpeg: Optional[int] = typer.Option(None, "--jpeg", help="JPEG quality 1..100"),
    downscale: Optional[int] = typer.Option(None, "--downscale", help="bicubic downscale factor 2, 3 or 4"),
    contrast: Optional[float] = typer.Option(
        None, "--contrast", help="contrast factor in (0, 1]: tones pulled toward mid-grey (haze, flat scan)"
    ),
    seed: int = typer.Option(0, "--seed", help="random seed"),
    as_float: bool = typer.Option(
        False,
        "--float",
        help="keep the result unclipped in float (write .npy or .tif); "
        "default: clipped and quantized to 8-bit levels like a real file",
    ),
    overwrite: bool = _OVERWRITE,
) -> None:
    """Damage an image in a controlled, seeded way (to test restoration)."""
    from imagewizard.physics.degrade import degrade as run_degrade
    from imagewizard.core.errors import ParameterError
    from imagewizard.physics.kernels import save_kernel

    if as_float and output.suffix.lower() not in (".npy", ".tif", ".tiff"):
        raise ParameterError(f"{output}: --float keeps values outside [0, 1]; write to .npy or .tif")
    if not (noise or blur or mask or jpeg or downscale or contrast):
        raise ParameterError(
            "nothing to do: give at least one of --noise, --blur, --mask, --jpeg, --downscale, --contrast"
        )
    if downscale is not None and downscale not in (2, 3, 4):
        raise ParameterError(f"--downscale must be 2, 3 or 4, got {downscale}")
    if jpeg is not None and not 1 <= jpeg <= 100:
        raise ParameterError(f"--jpeg must be a quality from 1 to 100, got {jpeg}")
    from imagewizard.io.files import check_output

    _check_output(output, input, overwrite)
    mask_path = output.with_name(output.stem + "-mask.png")
    kernel_path = output.with_name(output.stem + "-kernel.npy")
    if mask:  # derived names: checked now, so that no work is wasted and no input is touched
        check_output(mask_path, what="mask")
    if blur:
        check_output(kernel_path, what="kernel file")
    img, meta = _read(input)
    res = run_degrade(
        img,
        noise=noise or (),
        blur=blur,
        mask=mask,
        jpeg=jpeg,
        downscale=downscale,
        contrast=contrast,
        seed=seed,
        protocol="float" if as_float else "uint8",
    )
    like = meta if res.image.shape[:2] == img.shape[:2] else None
    path = _write(
        output,
        res.image,
        like,
        overwrite,
        **({"bit_depth": 32} if as_float and output.suffix.lower() != ".npy" else {}),
    )
    console = _console()
    console.print(
        f"degraded {input}: " + "; ".join(res.steps) + f" (seed {seed}, {'float' if as_float else 'uint8'} protocol)"
    )
    console.print(f"  wrote {path}")
    if res.mask is not None:
        mpath = _write(mask_path, res.mask.astype("float32"), None, False)
        console.print(f"  wrote {mpath} (white = missing pixels)")
    if res.kernel is not None:
        kpath = save_kernel(kernel_path, res.kernel)
        console.print(f"  wrote {kpath} (the exact blur kernel)")
    if meta is not None and like is None:
        console.print("  note: size changed, so metadata was not copied")
