"""What is installed: ``imagewizard tasks``, ``methods`` and ``models``."""

from __future__ import annotations

import json
from typing import Optional

import typer

from imagewizard.cli.app import _console, _params_text, app


@app.command(epilog="Example: `imagewizard tasks --json`")
def tasks(as_json: bool = typer.Option(False, "--json", help="print the declarations as JSON")) -> None:
    """List the tasks: what each takes besides the image, what it returns, how it is scored."""
    from imagewizard.core import registry
    from imagewizard.core.task import all_tasks

    rows = []
    for t in all_tasks():
        d = t.as_dict()
        d["methods"] = [m.name for m in registry.methods(t.name)]
        rows.append(d)
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    console = _console()
    for d in rows:
        inputs = ", ".join(i["cli"] for i in d["inputs"]) or "none"
        console.print(f"[bold]{d['name']}[/bold]: {d['summary']}", highlight=False)
        console.print(
            f"  takes: the image{' and ' + inputs if d['inputs'] else ''}"
            f"{'; a noise level (--sigma, 0..255)' if d['sigma'] else ''}; returns: {d['output']}; "
            f"scored by {', '.join(d['metrics'])}",
            highlight=False,
        )
        console.print(
            f"  methods ({len(d['methods'])}, default {d['default_method']}): {', '.join(d['methods'])}",
            highlight=False,
        )


@app.command()
def methods(
    task: Optional[str] = typer.Option(None, "--task", "-t", help="only this task"),
    as_json: bool = typer.Option(False, "--json", help="print JSON"),
) -> None:
    """List the registered methods with their parameters."""
    from imagewizard.core import registry
    from imagewizard.core.errors import ParameterError

    if task is not None and task not in registry.tasks():
        raise ParameterError(f"unknown task '{task}' (known: {', '.join(registry.tasks())})")
    ms = registry.methods(task)
    if as_json:
        typer.echo(json.dumps([m.describe() for m in ms], indent=2))
        return
    from rich.markup import escape
    from rich.table import Table

    table = Table(show_lines=False, header_style="bold")
    for col in ("task", "method", "what it does", "sigma", "needs", "parameters (default [range])"):
        table.add_column(escape(col), overflow="fold")
    for m in ms:
        summary = m.summary + (f" ({m.note})" if m.note else "")
        if not m.available():
            missing = m.missing_modules()
            summary += (
                f" [not installed: pip install 'imagewizard[{m.extra}]']"
                if missing and m.extra
                else f" [{m.unavailable_flag()}]"
            )
        cells = (m.task, m.name, summary, m.sigma, ",".join(sorted(m.needs)) or "-", _params_text(m.params) or "-")
        table.add_row(*(escape(c) for c in cells))  # brackets are text here, not Rich markup
    _console().print(table)


@app.command()
def models(
    as_json: bool = typer.Option(False, "--json", help="print the full model cards as JSON"),
    archs: bool = typer.Option(
        False,
        "--archs",
        help="list the architectures `imagewizard train denoiser --arch` can build, with their default settings",
    ),
) -> None:
    """List the trained models in the zoo (package weights and $IMAGEWIZARD_WEIGHTS) with their cards."""
    from imagewizard.models import zoo

    if archs:
        from imagewizard.models.archs import ARCHS

        for name, (_build, cfg, summary) in ARCHS.items():  # restorers first, then the generators
            settings = " ".join(f"{k}={','.join(map(str, v)) if isinstance(v, tuple) else v}" for k, v in cfg.items())
            _console().print(f"{name:8s} {summary}\n         defaults: {settings}", highlight=False, markup=False)
        return

    cards = zoo.cards(family="restoration")
    if as_json:
        cards = zoo.cards()
        typer.echo(json.dumps(cards, indent=2, default=str))
        return
    console = _console()
    if not cards:
        where = ", ".join(str(d) for d in zoo.weight_dirs())
        console.print(
            f"no trained models found (looked in {where}); train one with `imagewizard train denoiser`", highlight=False
        )
        return
    from rich.markup import escape
    from rich.table import Table

    table = Table(header_style="bold")
    # names are what users type: never shortened, even on a narrow terminal
    table.add_column("name", no_wrap=True, min_width=max(len(c["name"]) for c in cards))
    for col in ("method", "arch", "channels", "sigma", "MB", "steps", "train hours", "val PSNR s15/25/50 (dB)"):
        table.add_column(col)
    for c in cards:
        sig, val = c.get("sigma_range"), c.get("validation") or {}
        psnrs = "/".join(f"{val[k]:.2f}" for k in ("psnr_s15", "psnr_s25", "psnr_s50") if k in val) or "?"
        cells = (
            c["name"],
            c.get("method", c.get("arch", "?")),
            c.get("arch", "?"),
            c.get("channels", "?"),
            f"{sig[0]:g}-{sig[1]:g}" if sig else "?",
            f"{c['bytes'] / 1e6:.1f}",
            c.get("steps", "?"),
            c.get("wall_time_hours", "?"),
            psnrs,
        )
        table.add_row(*(escape(str(x)) for x in cells))
    console.print(table)
    _print_generators(console)


def _print_generators(console) -> None:
    """The generation models (`imagewizard generate`) with their cards' headline numbers."""
    from rich.markup import escape
    from rich.table import Table

    from imagewizard.models.generators import SHIPPED, shipped_path

    table = Table(header_style="bold", title="generation models (imagewizard generate)")
    table.add_column("name", no_wrap=True, min_width=max(len(n) for n in SHIPPED.values()))
    for col in ("arch", "data", "MB", "steps", "train minutes", "digit-classifier score"):
        table.add_column(col)
    for arch, name in SHIPPED.items():
        path = shipped_path(arch)
        if not path.is_file():
            continue
        card_path = path.with_suffix(".json")
        c = json.loads(card_path.read_text()) if card_path.is_file() else {}
        score = (c.get("quality") or {}).get("digit_classifier_score") or {}
        cells = (
            name,
            arch,
            (c.get("data") or {}).get("name", "?"),
            f"{path.stat().st_size / 1e6:.1f}",
            c.get("steps", "?"),
            f"{c['wall_seconds'] / 60:.1f}" if "wall_seconds" in c else "?",
            f"{score['confident']:.1%} confident" if "confident" in score else "?",
        )
        table.add_row(*(escape(str(x)) for x in cells))
    if table.row_count:
        console.print(table)
