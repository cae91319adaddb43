#!/usr/bin/env python
"""The repository's benchmarks (``make bench``, ``make bench-quick``).

``make bench``        every available denoiser on the shared test sets Set12 and BSD68 (gray) and CBSD68
                      (colour) at Gaussian sigma 15/25/50, float protocol, published numbers beside ours.
                      A set that is not on this machine is skipped with a message (the data lives in
                      $IMAGEWIZARD_DATA/testsets, default ../shared/data here; the package never needs it).
                      This takes hours on a laptop CPU; it resumes where it stopped when run again.
``make bench-quick``  the built-in tiny set at sigma 25 without the methods tagged slow: a minute or two.

Outputs go to benchmarks/results/<set>/ (results.jsonl, summary.csv, summary.md, report.html); the raw
records are kept in git so a run resumes on any machine and every number can be checked.

``--docs`` prints the Markdown tables of docs/benchmarks.md from those outputs (with the exact command and
the machine); ``--update-docs`` rewrites them in place between ``<!-- bench:NAME -->`` and
``<!-- /bench:NAME -->`` markers (adding a section when a marker pair is missing). ``--docs-only`` skips the
runs and only regenerates the tables from existing outputs.

Examples::

    python benchmarks/suites/run_bench.py --quick
    python benchmarks/suites/run_bench.py --sets bsd68 --limit 2 --out /tmp/smoke
    python benchmarks/suites/run_bench.py --docs-only --update-docs
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# The repository's benchmarks read the team's data checkout beside the repository unless told otherwise.
os.environ.setdefault("IMAGEWIZARD_DATA", str(ROOT.parent / "shared" / "data"))
SIGMAS = (15, 25, 50)
SETS = {"set12": "Set12 (12 gray images)", "bsd68": "BSD68 (68 gray images)", "cbsd68": "CBSD68 (68 colour images)"}
SIZES = {"set12": 12, "bsd68": 68, "cbsd68": 68}  # a cell over fewer images is marked as partial
QUICK_SET = "tiny"
DOCS = ROOT / "docs" / "benchmarks.md"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--quick", action="store_true", help="the built-in tiny set only (a minute or two)")
    p.add_argument(
        "--sets", default=",".join(SETS), help="comma-separated sets for the full run (default: %(default)s)"
    )
    p.add_argument("--methods", default="all", help="methods (default: all available denoisers)")
    p.add_argument("--exclude", default=None, help="method names or tags to leave out")
    p.add_argument("--workers", type=int, default=None, help="worker processes (default: one per core)")
    p.add_argument("--limit", type=int, default=None, help="only the first N images of each set (smoke tests)")
    p.add_argument(
        "--out",
        type=Path,
        default=ROOT / "benchmarks" / "results",
        help="output root (default: %(default)s; the raw records there are kept in git)",
    )
    p.add_argument("--docs", action="store_true", help="print the Markdown tables for docs/benchmarks.md")
    p.add_argument(
        "--update-docs",
        nargs="?",
        const=DOCS,
        type=Path,
        default=None,
        metavar="FILE",
        help="rewrite the tables in FILE (default: docs/benchmarks.md)",
    )
    p.add_argument("--docs-only", action="store_true", help="do not run anything; regenerate the tables from outputs")
    return p.parse_args(argv)


def run_set(name: str, args: argparse.Namespace, *, degradations, exclude, published: bool) -> Path | None:
    from rich.console import Console

    from imagewizard.bench import BenchConfig, run_bench
    from imagewizard.cli.bench import command_line
    from imagewizard.bench.datasets import find_named_set
    from imagewizard.bench.machine import usable_cores
    from imagewizard.core.errors import ImageWizardError

    console = Console(highlight=False)
    if name != QUICK_SET and find_named_set(name) is None:
        console.print(
            f"skip {name}: test set not found ($IMAGEWIZARD_DATA/testsets/{SETS.get(name, name)} or "
            f"../shared/data/testsets); nothing to benchmark"
        )
        return None
    cfg = BenchConfig(
        data=name,
        degradations=list(degradations),
        methods=args.methods,
        protocol="float",
        seed=0,
        out=args.out / name,
        workers=args.workers or usable_cores(),
        limit=args.limit,
        published=published,
        exclude=exclude or (),
    )
    cfg.command = command_line(cfg)
    console.rule(f"{name}: {cfg.command}")
    try:
        res = run_bench(cfg, console=console)
    except ImageWizardError as exc:
        console.print(f"error: {exc}")
        return None
    console.print(f"{name}: report {res.files['report']}")
    return res.out


# --------------------------------------------------------------------------- docs tables


def _read_summary(out: Path) -> tuple[list[dict], dict]:
    rows = list(csv.DictReader((out / "summary.csv").open(encoding="utf-8")))
    run = json.loads((out / "run.json").read_text())
    return rows, run


def _f(x: str, spec: str) -> str:
    return format(float(x), spec) if x not in ("", None) else ""


def _short(citation: str) -> str:
    """The short name of a published source from its citation (the data file's 'sources' keys)."""
    from imagewizard.bench.published import load_published

    for key, text in load_published()["sources"].items():
        if citation.startswith(text):
            return key + citation[len(text) :]
    return citation


def docs_block(name: str, out: Path) -> str | None:
    """The Markdown section of one set's results (None when the set has no outputs)."""
    from imagewizard.bench.machine import machine_line

    if not (out / "summary.csv").exists() or not (out / "run.json").exists():
        return None
    rows, run = _read_summary(out)
    degs = list(dict.fromkeys(r["degradation"] for r in rows))
    ours = [r for r in rows if r["kind"] in ("input", "method")]
    methods = list(dict.fromkeys(r["method"] for r in ours))
    cell = {(r["degradation"], r["method"]): r for r in rows}
    n = SIZES.get(name) or max((int(r["n"]) for r in ours if r["n"]), default=0)
    partial = any(int(r["n"] or 0) < n for r in ours)
    head = ["method"] + [f"{d} PSNR / SSIM" for d in degs] + [f"s / image ({degs[len(degs) // 2]})", "MP/s", "peak MB"]
    mid = degs[len(degs) // 2]

    def psnr_of(m: str) -> float:
        r = cell.get((mid, m))
        return float(r["psnr_mean"]) if r and r["psnr_mean"] else -1e9

    order = ["input"] + sorted((m for m in methods if m != "input"), key=lambda m: -psnr_of(m))
    lines = [
        f"### {SETS.get(name, name)}",
        "",
        f"Command: `{run.get('command') or ''}` ({n} images; float protocol: noise added to the 8-bit image in "
        "float, not clipped; PSNR at peak 255; methods given the true sigma).",
        "",
        f"Machine: {machine_line(run['machine'])}.",
        "",
        *(
            [
                "**Run not finished**: a cell marked (k/N) is the mean over the first k images only, "
                "not comparable with full-set numbers; `make bench` resumes it.",
                "",
            ]
            if partial
            else []
        ),
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    for m in order:
        cells = [("(noisy input)" if m == "input" else m)]
        for d in degs:
            r = cell.get((d, m))
            mark = f" ({r['n']}/{n})" if r and int(r["n"] or 0) < n else ""
            cells.append(
                f"{_f(r['psnr_mean'], '.2f')} / {_f(r['ssim_mean'], '.4f')}{mark}" if r and r["psnr_mean"] else ""
            )
        r = cell.get((mid, m)) or {}
        cells += [
            _f(r.get("seconds_mean", ""), ".3g"),
            _f(r.get("mp_per_s_mean", ""), ".3g"),
            _f(r.get("peak_mem_mb_max", ""), ".0f"),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    pub = [r for r in rows if r["kind"] == "published"]
    if pub:
        pmethods = list(dict.fromkeys(r["method"] for r in pub))
        lines += [
            "",
            "Published (full set, float protocol; sources per row):",
            "",
            "| method | " + " | ".join(f"{d} PSNR" for d in degs) + " | source |",
            "|---|" + "---|" * len(degs) + "---|",
        ]
        for m in pmethods:
            prs = {r["degradation"]: r for r in pub if r["method"] == m}
            src = ", ".join(dict.fromkeys(_short(c) for r in prs.values() for c in r["source"].split("; ")))
            lines.append(
                f"| {m} | "
                + " | ".join(_f(prs[d]["psnr_mean"], ".2f") if d in prs else "–" for d in degs)
                + f" | {src} |"
            )
        from imagewizard.bench.published import load_published

        sources = load_published()["sources"]
        used = dict.fromkeys(_short(c).split(" (")[0] for r in pub for c in r["source"].split("; "))
        lines += ["", "Sources: " + "; ".join(f"{k} = {sources[k]}" for k in used if k in sources) + "."]
    return "\n".join(lines)


def update_docs(path: Path, blocks: dict[str, str]) -> None:
    text = (
        path.read_text(encoding="utf-8")
        if path.exists()
        else (
            "# Benchmarks\n\nGenerated by `python benchmarks/suites/run_bench.py --docs-only --update-docs` from the "
            "outputs of `make bench` / `make bench-quick`.\n"
        )
    )
    for name, block in blocks.items():
        start, end = f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"
        new = f"{start}\n{block}\n{end}"
        pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.S)
        if pattern.search(text):
            text = pattern.sub(lambda _m: new, text)
        else:
            text = text.rstrip("\n") + "\n\n" + new + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    print(f"updated {path}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sys.path.insert(0, str(ROOT / "src"))  # run from a checkout without installing
    if args.quick:
        names = [QUICK_SET]
    else:
        names = [s.strip().lower() for s in args.sets.split(",") if s.strip()]
        unknown = [s for s in names if s not in SETS and s != QUICK_SET]
        if unknown:
            print(
                f"error: unknown set(s) {', '.join(unknown)} (known: {', '.join(SETS)}, {QUICK_SET})", file=sys.stderr
            )
            return 2
    if not args.docs_only:
        for name in names:
            if name == QUICK_SET:
                run_set(name, args, degradations=["gaussian:25"], exclude=args.exclude or "slow", published=False)
            else:
                # JPEG deblocking has nothing to do on Gaussian noise (its row would repeat the input's),
                # and the digits-only dae is not a photo denoiser
                exclude = ",".join(x for x in (args.exclude, "jpeg", "digits") if x)
                run_set(name, args, degradations=[f"gaussian:{s}" for s in SIGMAS], exclude=exclude, published=True)
    if args.docs or args.update_docs or args.docs_only:
        blocks = {n: b for n in names if (b := docs_block(n, args.out / n))}
        if not blocks:
            print("no benchmark outputs to make tables from (run without --docs-only first)", file=sys.stderr)
            return 1
        if args.update_docs:
            update_docs(args.update_docs, blocks)
        else:
            print("\n\n".join(blocks.values()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
