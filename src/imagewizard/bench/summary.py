"""Aggregates of benchmark records: mean and standard deviation per degradation x method.

Standard deviations are sample standard deviations over images (``ddof=1``,
empty for a single image): the spread of the method's result across the set,
not the uncertainty of the mean.
"""

from __future__ import annotations

import csv
import io
import math
from typing import Any, Iterable, Sequence

import numpy as np

from imagewizard.bench.published import PublishedRow

#: Metrics aggregated with mean and standard deviation.
AGG_FIELDS = ("psnr", "ssim", "mse", "seconds", "mp_per_s", "peak_mem_mb")

CSV_COLUMNS = [
    "dataset",
    "protocol",
    "degradation",
    "method",
    "kind",
    "n",
    "errors",
    "sigma_mode",
    "psnr_mean",
    "psnr_std",
    "ssim_mean",
    "ssim_std",
    "mse_mean",
    "mse_std",
    "seconds_mean",
    "seconds_std",
    "mp_per_s_mean",
    "mp_per_s_std",
    "peak_mem_mb_mean",
    "peak_mem_mb_std",
    "peak_mem_mb_max",
    "source",
]


def _stats(values: list[float]) -> tuple[float | None, float | None]:
    vals = [v for v in values if v is not None and math.isfinite(v)]
    if not vals:
        return None, None
    arr = np.asarray(vals, dtype=np.float64)
    return float(arr.mean()), (float(arr.std(ddof=1)) if arr.size > 1 else None)


def summarize(records: Iterable[dict[str, Any]], order: Sequence[tuple[str, str]]) -> list[dict[str, Any]]:
    """One row per ``(degradation, method)`` in ``order``, from the records with that key.

    Rows have ``n`` (records scored), ``errors`` (records that failed), the
    mean and standard deviation of every field in :data:`AGG_FIELDS`, the
    largest ``peak_mem_mb``, and ``sigma_mode`` (how methods got the noise level).
    """
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in records:
        groups.setdefault((r["degradation"], r["method"]), []).append(r)
    rows = []
    for deg, method in order:
        recs = groups.get((deg, method), [])
        ok = [r for r in recs if not r.get("error")]
        row: dict[str, Any] = {
            "degradation": deg,
            "method": method,
            "kind": "input" if method == "input" else "method",
            "n": len(ok),
            "errors": len(recs) - len(ok),
        }
        modes = sorted({r.get("sigma_mode") for r in recs if r.get("sigma_mode")})
        row["sigma_mode"] = "/".join(modes)
        for f in AGG_FIELDS:
            row[f + "_mean"], row[f + "_std"] = _stats([r.get(f) for r in ok])
        mem = [r["peak_mem_mb"] for r in ok if r.get("peak_mem_mb") is not None]
        row["peak_mem_mb_max"] = max(mem) if mem else None
        errs = sorted({r["error"] for r in recs if r.get("error")})
        row["error_text"] = errs[0] if errs else ""
        row["source"] = ""
        rows.append(row)
    return rows


def published_as_rows(degradation: str, rows: Sequence[PublishedRow]) -> list[dict[str, Any]]:
    out = []
    for p in rows:
        row = {c: None for c in CSV_COLUMNS}
        row.update(
            {
                "dataset": p.dataset,
                "protocol": "float",
                "degradation": degradation,
                "method": p.method,
                "kind": "published",
                "n": None,
                "errors": None,
                "sigma_mode": "true",
                "psnr_mean": p.psnr,
                "ssim_mean": p.ssim,
                "source": p.source + (f" ({p.note})" if p.note else ""),
            }
        )
        out.append(row)
    return out


def csv_text(rows: Sequence[dict[str, Any]]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=CSV_COLUMNS, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow(
            {k: ("" if r.get(k) is None else (repr(r[k]) if isinstance(r[k], float) else r[k])) for k in CSV_COLUMNS}
        )
    return buf.getvalue()


def fmt(value: Any, spec: str, empty: str = "") -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return empty
    return format(value, spec)


def pm(mean: Any, std: Any, spec: str) -> str:
    if mean is None:
        return ""
    return fmt(mean, spec) + (f" ± {fmt(std, spec)}" if std is not None else "")


def ranked(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The input row first, then methods by mean PSNR (best first), failures last."""
    base = [r for r in rows if r["kind"] == "input"]
    rest = [r for r in rows if r["kind"] != "input"]
    rest.sort(key=lambda r: -(r["psnr_mean"] if r["psnr_mean"] is not None else -1e9))
    return base + rest


TABLE_HEAD = ["method", "sigma", "PSNR (dB)", "SSIM", "MSE", "s / image", "MP/s", "peak MB", "n"]


def table_cells(r: dict[str, Any]) -> list[str]:
    """The cells of one summary row, in :data:`TABLE_HEAD` order."""
    if r["kind"] == "input":
        name = "(degraded input)"
    else:
        name = r["method"] + (f" [{r['errors']} failed: {r['error_text']}]" if r.get("errors") else "")
    return [
        name,
        r.get("sigma_mode") or "",
        pm(r["psnr_mean"], r["psnr_std"], ".2f"),
        pm(r["ssim_mean"], r["ssim_std"], ".4f"),
        fmt(r["mse_mean"], ".2e"),
        fmt(r["seconds_mean"], ".3g"),
        fmt(r["mp_per_s_mean"], ".3g"),
        fmt(r["peak_mem_mb_max"], ".3g"),
        str(r["n"]),
    ]


CONSOLE_HEAD = ["method", "sigma", "PSNR", "SSIM", "s/img", "MP/s", "peak MB", "n"]


def console_cells(r: dict[str, Any]) -> list[str]:
    """A narrower row for terminals: means only."""
    name = "(input)" if r["kind"] == "input" else r["method"] + (f" [{r['errors']} failed]" if r.get("errors") else "")
    return [
        name,
        r.get("sigma_mode") or "",
        fmt(r["psnr_mean"], ".2f"),
        fmt(r["ssim_mean"], ".4f"),
        fmt(r["seconds_mean"], ".3g"),
        fmt(r["mp_per_s_mean"], ".3g"),
        fmt(r["peak_mem_mb_max"], ".3g"),
        str(r["n"]),
    ]


def markdown_table(head: Sequence[str], body: Iterable[Sequence[str]]) -> str:
    def esc(c: str) -> str:
        return str(c).replace("|", "\\|")

    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    lines += ["| " + " | ".join(esc(c) for c in row) + " |" for row in body]
    return "\n".join(lines)
