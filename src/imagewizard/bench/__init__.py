"""Benchmarking restoration methods on image sets.

``imagewizard bench`` (:mod:`.cli`) and :func:`run_bench` degrade every
image of a set in a seeded way, restore it with each method, and record
PSNR, SSIM, MSE, time, throughput and peak memory per image
(``results.jsonl``, resumable), with summaries (``summary.csv``,
``summary.md``) and a self-contained ``report.html``. Published numbers of
well-known methods can be shown beside ours (:mod:`.published`).

Checking the numbers: with ``--save-images`` the clean image (8-bit PNG, or
``.npy`` when it is not on 8-bit levels), the degraded input (``.npy`` for the
float protocol, 8-bit PNG for uint8) and the restored images are written under
``images/``, and each record names its files. ``imagewizard metrics CLEAN IMG``
on them reproduces the record exactly for inputs and ``--save-format npy``
outputs; 16-bit PNG outputs are rounded to 1/65535, which moves PSNR by at most
0.01 dB up to 40 dB (typically about 1e-4 dB) and SSIM by about 1e-5.

Example::

    from imagewizard.bench import BenchConfig, run_bench
    res = run_bench(BenchConfig(data="tiny", degradations=["gaussian:25"], methods="box,median",
                                out="bench-output"))
    print(res.files["report"])
"""

from __future__ import annotations

from typing import Any

__all__ = ["BenchConfig", "run_bench", "plan_bench", "BenchResult"]


def __getattr__(name: str) -> Any:
    # Lazy, so that `imagewizard --help` (which imports .cli) stays fast.
    if name in __all__:
        from imagewizard.bench import runner

        return getattr(runner, name)
    raise AttributeError(f"module 'imagewizard.bench' has no attribute {name!r}")
