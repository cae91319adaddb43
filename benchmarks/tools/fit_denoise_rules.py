"""Fit the noise-level rules of the classical denoisers on BSDS500 *training* images.

For each noise level sigma (0..255 scale) and each rule family (a method
plus fixed settings), the script searches the family's key parameters for
the best mean PSNR on crops of training images with Gaussian noise added
(float, unclipped, true sigma given), fits a power law ``a * sigma**b`` per
parameter (or ``c + a * sigma**b`` where that fits clearly better), writes the coefficients to
``src/imagewizard/tasks/denoise/rules_fitted.py`` (with ``--write``) and reports
how much PSNR the rules lose against the per-sigma optimum, evaluated
through the registered methods with automatic parameters.

Search: a family has one continuous parameter (searched on a geometric
grid around a guess, extended until the best value is interior, then
refined by a parabola in log-parameter) and optionally one discrete
parameter (a small grid). The discrete rule is fitted first from the
per-sigma best values; the continuous parameter is then searched again at
the (rounded) discrete value that rule gives, and its rule fitted to those
optima.

Usage (from the repository root; about an hour of one core of a busy machine from scratch)::

    nice -n 10 .venv/bin/python benchmarks/tools/fit_denoise_rules.py --write

Only ``images/train`` is read; never val/test, Set12, BSD68 or CBSD68.
"""

from __future__ import annotations

import argparse
import importlib
import json
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "src"))

DEFAULT_DATA = ROOT.parent / "shared" / "data" / "bsds500" / "images" / "train"
RULES_FILE = ROOT / "src" / "imagewizard" / "tasks" / "denoise" / "rules_fitted.py"
SIGMAS = (5, 10, 15, 25, 35, 50, 75)
#: Crop sets: name -> (crop side, gray file positions, colour file positions) in the sorted training list.
#: 'small' for the slow methods (NLM, MRF), 'large' (8x the pixels) for the fast ones.
IMAGE_SETS = {
    "small": (128, (0, 40, 80, 120), (20, 100, 160)),
    "large": (256, (0, 25, 50, 75, 100, 125, 150, 175), (10, 60, 110, 160)),
}


@dataclass
class Family:
    """One rule family: a method with fixed settings and the parameters to fit."""

    key: str
    method: str
    fixed: dict
    cont: str  # continuous parameter
    cont_rule: str
    guess: Callable[[float], float]  # first guess of the continuous parameter at sigma
    ratio: float = 2**0.5  # geometric grid step
    disc: str | None = None  # discrete parameter
    disc_rule: str | None = None
    disc_grid: Callable[[float], list] | None = None
    disc_kind: str = "float"  # 'odd' (odd integer), 'int' or 'float': how the method rounds the rule
    colors: tuple = ("gray", "color")
    images: str = "small"  # key of IMAGE_SETS
    extra_rules: dict = field(default_factory=dict)  # rule name -> (cont or disc) it duplicates


def _families() -> list[Family]:
    fams = [
        Family(
            "bilateral",
            "bilateral",
            {},
            "sigma_range",
            "bilateral.sigma_range",
            lambda s: 1.5 * s,
            disc="sigma_px",
            disc_rule="bilateral.sigma_px",
            disc_grid=lambda s: [1.0, 1.5, 2.0, 3.0, 4.5],
            images="large",
        ),
        Family(
            "nlm-skimage",
            "nlm",
            {"impl": "skimage"},
            "h",
            "nlm.h_skimage",
            lambda s: 0.6 * s,
            disc="patch_size",
            disc_rule="nlm.patch_size_skimage",
            disc_grid=lambda s: [3, 5, 7, 9],
            disc_kind="odd",
        ),
        Family(
            "nlm-opencv",
            "nlm",
            {"impl": "opencv"},
            "h",
            "nlm.h_opencv",
            lambda s: 0.8 * s,
            disc="patch_size",
            disc_rule="nlm.patch_size_opencv",
            disc_grid=lambda s: [3, 5, 7, 9],
            disc_kind="odd",
        ),
        Family(
            "tv-chambolle",
            "tv",
            {"solver": "chambolle"},
            "weight",
            "tv.weight_chambolle",
            lambda s: 0.0028 * s,
            images="large",
        ),
        Family(
            "tv-bregman",
            "tv",
            {"solver": "bregman"},
            "weight",
            "tv.weight_bregman",
            lambda s: 0.0028 * s,
            images="large",
        ),
    ]
    for shrink, mode, g, ratio in (
        ("bayes", "soft", 1.0, 1.06),
        ("bayes", "hard", 1.0, 1.06),
        ("visu", "soft", 0.3, 1.19),
        ("visu", "hard", 0.6, 1.19),
    ):
        fams.append(
            Family(
                f"wavelet-{shrink}-{mode}",
                "wavelet",
                {"shrink": shrink, "mode": mode},
                "threshold_scale",
                f"wavelet.threshold_scale_{shrink}_{mode}",
                (lambda g: lambda s: g)(g),
                ratio=ratio,
                images="large",
            )
        )
    for cond in ("exp", "rational"):
        fams.append(
            Family(
                f"anisotropic-{cond}",
                "anisotropic",
                {"conductance": cond},
                "kappa",
                f"anisotropic.kappa_{cond}",
                lambda s: 1.0 * s,
                disc="iterations",
                disc_rule=f"anisotropic.iterations_{cond}",
                disc_grid=lambda s: [2, 4, 8, 16, 32, 64],
                disc_kind="int",
                images="large",
            )
        )
    fams.append(
        Family(
            "mrf-quadratic",
            "mrf-map",
            {"prior": "quadratic"},
            "alpha",
            "mrf-map.alpha_quadratic",
            lambda s: (25.0 / s) ** 2,
            ratio=2.0,
            colors=("gray",),
        )
    )
    fams.append(
        Family(
            "mrf-huber",
            "mrf-map",
            {"prior": "huber"},
            "alpha",
            "mrf-map.alpha_huber",
            lambda s: 0.5 * 25.0 / s,
            ratio=2.0,
            disc="delta",
            disc_rule="mrf-map.delta_huber",
            disc_grid=lambda s: [0.05 * s, 0.1 * s, 0.2 * s, 0.4 * s],
            colors=("gray",),
        )
    )
    return fams


# ---------------------------------------------------------------- data


def load_crops(data: Path, ids, color: bool, crop: int) -> list[np.ndarray]:
    files = sorted(p for p in data.iterdir() if p.suffix.lower() in (".jpg", ".png"))
    out = []
    for i in ids:
        rgb = np.asarray(Image.open(files[i]).convert("RGB"), np.float64) / 255.0
        img = rgb if color else np.round(rgb @ np.array([0.299, 0.587, 0.114]) * 255.0) / 255.0
        h, w = img.shape[:2]
        y, x = (h - crop) // 2, (w - crop) // 2
        out.append(img[y : y + crop, x : x + crop].astype(np.float32))
    return out


def add_noise(img: np.ndarray, sigma: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (img + rng.standard_normal(img.shape) * (sigma / 255.0)).astype(np.float32)


def psnr(out: np.ndarray, clean: np.ndarray) -> float:
    mse = float(np.mean((np.clip(out, 0, 1).astype(np.float64) - clean) ** 2))
    return 10.0 * math.log10(1.0 / max(mse, 1e-20))


# ---------------------------------------------------------------- search


class Evaluator:
    """Mean PSNR of a method with given parameters over a crop set, cached on disk."""

    def __init__(self, sets: dict, cache_file: Path):
        from imagewizard.core import registry

        self.registry = registry
        self.sets = sets  # (set name, 'gray'/'color') -> (clean list, {sigma: noisy list})
        self.cache_file = cache_file
        self.cache = json.loads(cache_file.read_text()) if cache_file.exists() else {}
        self.calls = 0

    def save(self) -> None:
        self.cache_file.write_text(json.dumps(self.cache))

    def __call__(
        self, method: str, color: str, sigma: float, params: dict, *, images: str = "small", use_cache: bool = True
    ) -> float:
        key = (
            f"{method}|{color}|{sigma}|"
            + json.dumps(params, sort_keys=True)
            + ("" if images == "small" else f"|{images}")
        )
        if use_cache and key in self.cache:
            return self.cache[key]
        m = self.registry.get("denoise", method)
        for name, value in params.items():
            spec = m.param(name)
            if (spec.low is not None and value < spec.low) or (spec.high is not None and value > spec.high):
                return -math.inf  # outside the declared range: the search stops there
        clean, noisy = self.sets[images, color]
        vals = []
        for c, n in zip(clean, noisy[sigma]):
            kw = m.bind(params)
            kw["sigma"] = float(sigma)
            vals.append(psnr(m.func(n, **kw), c))
        self.calls += 1
        value = float(np.mean(vals))
        if use_cache:
            self.cache[key] = value
        return value


def search_continuous(f: Callable[[float], float], guess: float, ratio: float, max_extend: int = 8):
    """Maximise f over a geometric grid around ``guess``; refine by a parabola in log-parameter."""
    vals: dict[int, float] = {}

    def at(k: int) -> float:
        if k not in vals:
            vals[k] = f(guess * ratio**k)
        return vals[k]

    for k in (-2, -1, 0, 1, 2):
        at(k)
    for _ in range(max_extend):
        kb = max(vals, key=vals.get)
        if kb == min(vals):
            at(kb - 1)
        elif kb == max(vals):
            at(kb + 1)
        else:
            break
    kb = max(vals, key=vals.get)
    best_v, best_p = guess * ratio**kb, vals[kb]
    if kb - 1 in vals and kb + 1 in vals:
        y0, y1, y2 = vals[kb - 1], vals[kb], vals[kb + 1]
        denom = y0 - 2 * y1 + y2
        if math.isfinite(y0) and math.isfinite(y2) and denom < 0:
            off = float(np.clip(0.5 * (y0 - y2) / denom, -0.5, 0.5))
            v = guess * ratio ** (kb + off)
            p = f(v)
            if p > best_p:
                best_v, best_p = v, p
    return best_v, best_p


def fit_power(sigmas, values) -> dict:
    """Least squares of log(value) = log(a) + b log(sigma)."""
    x = np.log(np.asarray(sigmas, float))
    y = np.log(np.asarray(values, float))
    b, loga = np.polyfit(x, y, 1)
    return {"form": "power", "a": float(math.exp(loga)), "b": float(b)}


def fit_offset_power(sigmas, values) -> dict:
    """c + a * sigma**b: b on a grid, (c, a) by least squares of the relative error."""
    s = np.asarray(sigmas, float)
    v = np.asarray(values, float)
    best = None
    for b in np.linspace(-2.0, 2.0, 161):
        if abs(b) < 1e-9:
            continue
        design = np.stack([np.ones_like(s), s**b], axis=1) / v[:, None]
        (c, a), *_ = np.linalg.lstsq(design, np.ones_like(v), rcond=None)
        err = float(np.sum((design @ [c, a] - 1.0) ** 2))
        if best is None or err < best[0]:
            best = (err, {"form": "offset-power", "a": float(a), "b": float(b), "c": float(c)})
    return best[1]


def evaluate_rule(coef: dict, s: float) -> float:
    s = max(s, 1.0)
    if coef["form"] == "offset-power":
        return coef["c"] + coef["a"] * s ** coef["b"]
    return coef["a"] * s ** coef["b"]


def rel_rms(coef: dict, sigmas, values) -> float:
    return float(np.sqrt(np.mean([(evaluate_rule(coef, s) / v - 1.0) ** 2 for s, v in zip(sigmas, values)])))


def fit_rule(sigmas, values, allow_offset: bool) -> dict:
    """Power law, or an offset power law where it fits clearly better (relative RMS below 70%)."""
    coef = fit_power(sigmas, values)
    if allow_offset:
        alt = fit_offset_power(sigmas, values)
        if rel_rms(alt, sigmas, values) < 0.7 * rel_rms(coef, sigmas, values) and all(
            evaluate_rule(alt, s) > 0 for s in np.geomspace(1, 255, 50)
        ):
            coef = alt
    return coef


def round_like_method(value: float, kind: str):
    if kind == "odd":
        return 2 * int(round((value - 1) / 2)) + 1
    if kind == "int":
        return int(round(value))
    return float(value)


# ---------------------------------------------------------------- main


def fit_family(fam: Family, color: str, sigmas, ev: Evaluator, log) -> dict:
    """Search and fit one family on one crop set; returns the rules and the per-sigma table."""
    table = {}
    for s in sigmas:
        grid = fam.disc_grid(s) if fam.disc else [None]
        rows = []
        for d in grid:
            params = dict(fam.fixed)
            if fam.disc:
                params[fam.disc] = d

            def f(v, params=params, s=s):
                return ev(fam.method, color, s, {**params, fam.cont: v}, images=fam.images)

            v, p = search_continuous(f, fam.guess(s), fam.ratio)
            rows.append({"disc": d, "cont": v, "psnr": p})
        best = max(rows, key=lambda r: r["psnr"])
        table[s] = {"rows": rows, "best": best}
        log(
            f"  {fam.key:22s} {color:5s} sigma {s:3d}: best {fam.cont}={best['cont']:.4g}"
            + (f" {fam.disc}={best['disc']:.4g}" if fam.disc else "")
            + f"  {best['psnr']:.3f} dB"
        )
        ev.save()
    rules = {}
    if fam.disc:
        disc_opt = [table[s]["best"]["disc"] for s in sigmas]
        dcoef = fit_power(sigmas, disc_opt)
        grid_all = [g for s in sigmas for g in fam.disc_grid(s)]
        rules[fam.disc_rule] = (dcoef, disc_opt)
        # Second stage: the continuous optimum at the discrete value the method will actually use.
        cont_opt = []
        for s in sigmas:
            d = min(max(evaluate_rule(dcoef, s), min(grid_all)), max(grid_all))
            d = round_like_method(d, fam.disc_kind)
            params = {**fam.fixed, fam.disc: d}

            def f(v, params=params, s=s):
                return ev(fam.method, color, s, {**params, fam.cont: v}, images=fam.images)

            row = next((r for r in table[s]["rows"] if r["disc"] == d), None)
            v = row["cont"] if row else search_continuous(f, fam.guess(s), fam.ratio)[0]
            cont_opt.append(v)
        ev.save()
    else:
        cont_opt = [table[s]["best"]["cont"] for s in sigmas]
    rules[fam.cont_rule] = (fit_rule(sigmas, cont_opt, allow_offset=True), cont_opt)
    return {"table": table, "rules": rules}


def write_rules(fitted: dict, sigmas, command: str) -> None:
    lines = [
        '"""Fitted noise-level rules of the classical denoisers.',
        "",
        "Written by benchmarks/tools/fit_denoise_rules.py; do not edit by hand. Each value is",
        "clamp(a * max(sigma, 1)**b [+ c], lo, hi) with sigma on the 0..255 scale (see rules.py).",
        f"Fitted on BSDS500 training crops at sigma {', '.join(map(str, sigmas))}; last run:",
        f"    {command}",
        "(with --families, the other rules are kept from the previous version of this file).",
        '"""',
        "",
        "FITTED = {",
    ]
    for name in sorted(fitted):
        lines.append(f"    {name!r}: {{")
        for color in ("gray", "color"):
            if color in fitted[name]:
                c = fitted[name][color]
                terms = ", ".join(
                    f"{k!r}: {c[k]!r}" if k == "form" else f"{k!r}: {c[k]:.6g}"
                    for k in ("form", "a", "b", "c", "lo", "hi")
                    if k in c
                )
                lines.append(f"        {color!r}: {{{terms}}},")
        lines.append("    },")
    lines.append("}")
    RULES_FILE.write_text("\n".join(lines) + "\n")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help="BSDS500 images/train folder")
    ap.add_argument("--sigmas", type=float, nargs="+", default=list(SIGMAS))
    ap.add_argument("--families", nargs="+", default=None, help="subset of family keys")
    ap.add_argument("--work", type=Path, default=Path("/tmp/iw-fit-denoise"), help="cache and report folder")
    ap.add_argument("--write", action="store_true", help=f"write {RULES_FILE.relative_to(ROOT)}")
    args = ap.parse_args(argv)
    if "train" not in args.data.parts:
        ap.error("fit only on training images (a path with a 'train' folder)")
    sigmas = [int(s) if float(s).is_integer() else s for s in args.sigmas]
    args.work.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    report_lines: list[str] = []

    def log(msg: str) -> None:
        print(msg, flush=True)
        report_lines.append(msg)

    sets = {}
    for set_name, (crop, gray_ids, color_ids) in IMAGE_SETS.items():
        for color, ids in (("gray", gray_ids), ("color", color_ids)):
            clean = load_crops(args.data, ids, color == "color", crop)
            noisy = {s: [add_noise(c, s, seed=1000 * i + int(s)) for i, c in enumerate(clean)] for s in sigmas}
            sets[set_name, color] = (clean, noisy)
    ev = Evaluator(sets, args.work / "cache.json")
    fams = [f for f in _families() if args.families is None or f.key in args.families]

    results = {}
    fitted: dict[str, dict] = {}
    for fam in fams:
        for color in fam.colors:
            t = time.time()
            res = fit_family(fam, color, sigmas, ev, log)
            results[f"{fam.key}/{color}"] = res
            for name, (coef, opt) in res["rules"].items():
                if name == fam.disc_rule:  # never extrapolate a discrete parameter beyond its grid
                    grid = [g for s in sigmas for g in fam.disc_grid(s)]
                    lo, hi = min(grid), max(grid)
                else:
                    lo, hi = 0.5 * min(opt), 2.0 * max(opt)
                fitted.setdefault(name, {})[color] = {
                    **coef,
                    "lo": lo,
                    "hi": hi,
                    "opt": opt,
                    "rel_rms": rel_rms(coef, sigmas, opt),
                }
            log(f"  -> {fam.key}/{color} done in {time.time() - t:.0f} s")

    # Keep rules of families not refitted this run.
    old = importlib.import_module("imagewizard.tasks.denoise.rules_fitted").FITTED
    command = "nice -n 10 .venv/bin/python benchmarks/tools/fit_denoise_rules.py --write" + (
        " --families " + " ".join(args.families) if args.families else ""
    )
    merged = {
        k: {c: {kk: vv for kk, vv in v.items() if kk not in ("opt", "rel_rms")} for c, v in d.items()}
        for k, d in fitted.items()
    }
    for k, d in old.items():
        if k not in merged:
            merged[k] = d
    if args.write:
        write_rules(merged, sigmas, command)
        log(f"wrote {RULES_FILE}")

    # Fit quality: PSNR with the rules (through the registered methods, automatic parameters) vs best.
    import imagewizard.tasks.denoise.rules as rules_mod
    import imagewizard.tasks.denoise.rules_fitted as fitted_mod

    if args.write:
        importlib.reload(fitted_mod)
        importlib.reload(rules_mod)
        for mod in ("filters", "nlm", "tv", "wavelet", "diffusion", "mrf"):
            importlib.import_module(f"imagewizard.tasks.denoise.{mod}").rule = rules_mod.rule
    log("")
    log("| family | set | " + " | ".join(f"s{s}" for s in sigmas) + " | mean loss | max loss |")
    log("|---|---|" + "---|" * (len(sigmas) + 2))
    quality = {}
    for fam in fams:
        for color in fam.colors:
            res = results[f"{fam.key}/{color}"]
            cells, losses = [], []
            for s in sigmas:
                best = res["table"][s]["best"]["psnr"]
                if args.write:
                    p = ev(fam.method, color, s, dict(fam.fixed), images=fam.images, use_cache=False)
                else:
                    p = float("nan")
                losses.append(best - p)
                cells.append(f"{p:.2f} ({best - p:+.2f})")
            quality[f"{fam.key}/{color}"] = losses
            log(f"| {fam.key} | {color} | " + " | ".join(cells) + f" | {np.mean(losses):.3f} | {np.max(losses):.3f} |")
    log("")
    log("| rule | set | rule | rel. RMS | optimum per sigma (" + ", ".join(map(str, sigmas)) + ") | rule values |")
    log("|---|---|---|---|---|---|")
    for name in sorted(fitted):
        for color, c in fitted[name].items():
            rv = [min(max(evaluate_rule(c, s), c["lo"]), c["hi"]) for s in sigmas]
            form = (f"{c['c']:.4g} + " if "c" in c else "") + f"{c['a']:.4g} s^{c['b']:.3f}"
            log(
                f"| {name} | {color} | {form} | {c['rel_rms']:.3f} | "
                + ", ".join(f"{v:.3g}" for v in c["opt"])
                + " | "
                + ", ".join(f"{v:.3g}" for v in rv)
                + " |"
            )
    log(f"\n{ev.calls} method evaluations, {time.time() - t0:.0f} s in all")
    (args.work / "report.md").write_text("\n".join(report_lines) + "\n")
    ev.save()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
