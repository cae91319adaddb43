"""``imagewizard bench``: the command (mounted by :mod:`imagewizard.cli.commands`)."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import List, Optional

import typer

BENCH_EPILOG = """
Examples:

    imagewizard bench --data tiny --degrade gaussian:25 --methods all

    imagewizard bench --data bsd68 --degrade gaussian:15 --degrade gaussian:25 --degrade gaussian:50 --methods all --published --workers 2 --out bench-bsd68

    imagewizard bench --data photos/ --degrade blur=motion:15,30+gaussian:2 --methods wiener,richardson-lucy

    imagewizard bench --data cbsd68 --degrade gaussian:25 --methods unet,unet:ensemble=8,nlm:impl=opencv

    imagewizard bench --data tiny --degrade mask=text --task inpaint --save-images

    imagewizard bench --task segment --data bsds500-test --methods felzenszwalb,meanshift,learned --workers 2

    imagewizard bench --data set12 --degrade gaussian:25 --degrade salt-pepper:0.1 --degrade contrast=0.5 --degrade jpeg=20 --task any --blind --protocol uint8

(--task any compares methods of every task that need nothing but the image, the wizard among them,
on a mixed set of degradations.)

Outputs in --out: results.jsonl (one record per image x degradation x method; an interrupted run resumes
from it), summary.csv, summary.md, report.html (self-contained), run.json; with --save-images, images/
(clean and degraded inputs exact; restored 16-bit PNG, whose `imagewizard metrics` agree with results.jsonl within
0.01 dB, typically 1e-4 dB; exact with --save-format npy).
"""


def bench_command(
    data: str = typer.Option(
        ...,
        "--data",
        "-d",
        help="image folder (searched recursively; a BSDS500 folder means "
        "its test images), or a set: tiny (built in), set12, bsd68, cbsd68, bsds500 "
        "(from $IMAGEWIZARD_DATA/testsets or ./data/testsets)",
    ),
    degrade: Optional[List[str]] = typer.Option(
        None,
        "--degrade",
        "-D",
        help="degradation spec, repeatable: gaussian:25, "
        "salt-pepper:0.1, blur=motion:15,30+gaussian:2, mask=text, jpeg=30",
    ),
    methods: str = typer.Option(
        "all",
        "--methods",
        "-m",
        help="comma-separated method names, or all "
        "(every installed method of the task); name:key=value[:key=value] runs a "
        "method with fixed parameters as its own row, e.g. unet:ensemble=8",
    ),
    task: Optional[str] = typer.Option(
        None,
        "--task",
        "-t",
        help="denoise, deblur, inpaint, enhance, upscale, segment (BSDS500 human segmentations, no --degrade), "
        "or any (methods of every task; for mixed degradations) (default: from the "
        "degradation: mask -> inpaint, blur -> deblur, else denoise)",
    ),
    protocol: str = typer.Option(
        "float",
        "--protocol",
        help="float: noise added in float, not clipped (published tables); uint8: clipped and rounded like a real file",
    ),
    seed: int = typer.Option(0, "--seed", min=0, help="random seed (each image's noise derives from it)"),
    out: Path = typer.Option(Path("bench-output"), "--out", "-o", help="output folder"),
    workers: int = typer.Option(1, "--workers", "-j", min=0, help="worker processes (0: run in this process)"),
    limit: Optional[int] = typer.Option(None, "--limit", min=1, help="only the first N images (sorted by name)"),
    gray: bool = typer.Option(False, "--gray", help="convert colour images to gray (luma)"),
    blind: bool = typer.Option(
        False, "--blind", help="methods estimate the noise level instead of getting the true sigma"
    ),
    published: bool = typer.Option(
        False,
        "--published",
        help="show published PSNR of known methods for this set "
        "and sigma (Set12/BSD68/CBSD68, Gaussian noise), with sources",
    ),
    save_images: bool = typer.Option(False, "--save-images", help="also write the clean, degraded and restored images"),
    save_format: str = typer.Option(
        "png", "--save-format", help="restored images: png (16-bit) or npy (exact float32)"
    ),
    exclude: Optional[str] = typer.Option(
        None, "--exclude", help="comma-separated method names or tags to leave out of 'all' (e.g. slow,learned)"
    ),
    crops: int = typer.Option(3, "--crops", min=0, help="images shown as side-by-side crops in report.html"),
    fresh: bool = typer.Option(False, "--fresh", help="discard earlier results in --out instead of resuming"),
) -> None:
    """Benchmark restoration methods on an image set: PSNR, SSIM, time and memory, with an HTML report."""
    from rich.console import Console

    if task == "segment":  # regions against human segmentations: no degradation, its own protocol
        return _segment_bench(data, methods, out, workers, limit, crops, fresh, degrade)
    if not degrade:
        from imagewizard.core.errors import ParameterError

        raise ParameterError("--degrade is needed (e.g. -D gaussian:25), except with --task segment")
    from imagewizard.bench.runner import BenchConfig, run_bench
    from imagewizard.bench.summary import CONSOLE_HEAD, console_cells, ranked

    console = Console(highlight=False, soft_wrap=True)
    cfg = BenchConfig(
        data=data,
        degradations=list(degrade),
        methods=methods,
        task=task,
        protocol=protocol,
        seed=seed,
        out=out,
        workers=workers,
        limit=limit,
        gray=gray,
        blind=blind,
        published=published,
        save_images=save_images,
        save_format=save_format,
        exclude=exclude or (),
        crops=crops,
        fresh=fresh,
    )
    cfg.command = command_line(cfg)
    res = run_bench(cfg, console=console)
    from rich.table import Table

    for d in res.plan.degradations:
        table = Table(
            title=f"{d.spec} ({res.plan.config.protocol} protocol, {len(res.plan.dataset.images)} images)",
            header_style="bold",
        )
        for i, h in enumerate(CONSOLE_HEAD):
            table.add_column(h, justify="left" if i < 2 else "right", no_wrap=i == 0)
        for r in ranked([r for r in res.rows if r["degradation"] == d.spec]):
            table.add_row(*console_cells(r))
        for r in res.rows:
            if r["degradation"] == d.spec and r.get("errors"):
                console.print(f"{r['method']} failed on {r['errors']} image(s): {r['error_text']}")
        console.print(table)
    for note in res.plan.notes:
        console.print(f"note: {note}")
    console.print(
        f"wrote {res.files['results']}, {res.files['summary_csv'].name}, {res.files['summary_md'].name}, "
        f"{res.files['report'].name} in {res.out}" + (f" (reused {res.reused} records)" if res.reused else "")
    )


def _segment_bench(data, methods, out, workers, limit, crops, fresh, degrade) -> None:
    from rich.console import Console

    from imagewizard.bench.segment import DEFAULT_METHODS, SegConfig, run_segment_bench
    from imagewizard.core.errors import ParameterError

    if degrade:
        raise ParameterError("--task segment scores the photos as they are; drop --degrade")
    names = DEFAULT_METHODS if methods == "all" else tuple(m.strip() for m in methods.split(",") if m.strip())
    cmd = f"imagewizard bench --task segment --data {data} --methods {','.join(names)}"
    cmd += (f" --workers {workers}" if workers > 1 else "") + (f" --limit {limit}" if limit else "")
    outp = Path("bench-segment") if out == Path("bench-output") else out
    cfg = SegConfig(
        data=data, methods=names, out=outp, limit=limit, workers=workers, overlays=crops * 2, fresh=fresh, command=cmd
    )
    res = run_segment_bench(cfg)
    con = Console(highlight=False, soft_wrap=True)
    con.print(f"{res['name']}: {res['pairs']} images")
    for s in res["summaries"]:
        line = (
            f"{s['method']:>14}: covering {s['covering_ods']:.3f} / {s['covering_ois']:.3f}, PRI {s['pri_ods']:.3f} / "
            f"{s['pri_ois']:.3f}, VI {s['vi_ods']:.2f} / {s['vi_ois']:.2f}"
        )
        if "boundary_ods_f" in s:
            line += f", boundary F {s['boundary_ods_f']:.3f} / {s['boundary_ois_f']:.3f}"
        if "edge_ods_f" in s:
            line += f" (boundary map {s['edge_ods_f']:.3f} / {s['edge_ois_f']:.3f})"
        con.print(line + f"  (ODS / OIS; {s['seconds_per_image']:.2f} s per image)")
    for e in res["errors"][:3]:
        con.print(f"failed: {e['image']} {e['method']}: {e['error']}")
    con.print("wrote " + ", ".join(str(p) for p in res["files"].values()))


def command_line(cfg) -> str:
    """The canonical command that reproduces ``cfg`` (for the reports)."""
    args = ["--data", str(cfg.data)]
    for d in cfg.degradations:
        args += ["--degrade", d]
    methods = cfg.methods if isinstance(cfg.methods, str) else ",".join(cfg.methods)
    args += ["--methods", methods]
    if cfg.task:
        args += ["--task", cfg.task]
    args += ["--protocol", cfg.protocol, "--seed", str(cfg.seed), "--out", str(cfg.out), "--workers", str(cfg.workers)]
    if cfg.limit:
        args += ["--limit", str(cfg.limit)]
    if cfg.exclude:
        args += ["--exclude", cfg.exclude if isinstance(cfg.exclude, str) else ",".join(cfg.exclude)]
    for flag in ("gray", "blind", "published", "save_images"):
        if getattr(cfg, flag):
            args.append("--" + flag.replace("_", "-"))
    if cfg.save_images and cfg.save_format != "png":
        args += ["--save-format", cfg.save_format]
    return "imagewizard bench " + shlex.join(args)


def register(app: typer.Typer) -> None:
    """Add ``imagewizard bench`` (every sub-command module has this one hook)."""
    app.command("bench", epilog=BENCH_EPILOG)(bench_command)
