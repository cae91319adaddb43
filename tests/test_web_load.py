"""A short load test on loopback (the full one, 20 clients for a minute, is
``benchmarks/suites/web_load.py``; its figures are in docs/benchmarks.md): 20 concurrent clients
for a few seconds of small jobs, bad uploads and reads against the real ``imagewizard serve``;
no 5xx, no job lost, memory bounded."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("httpx")
pytest.importorskip("psutil")

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "suites" / "web_load.py"


def test_twenty_clients_no_5xx_no_lost_job_bounded_memory():
    spec = importlib.util.spec_from_file_location("web_load", SCRIPT)
    load = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(load)
    out = load.measure(clients=20, seconds=6, workers=1)
    assert out["server_5xx"] == 0, out["status_counts"]
    assert out["lost_jobs"] == [] and out["unexpected"] == [], out
    assert out["jobs_finished"] == out["jobs_accepted"] > 10
    assert {"413", "415", "422"} <= set(out["status_counts"])  # the bad uploads got their own 4xx
    assert out["peak_memory_mb"] < 1500, out["peak_memory_mb"]
