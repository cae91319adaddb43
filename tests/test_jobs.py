"""The one job runner behind batch and bench: same records from every backend, lost workers reported."""

import os

import pytest

from imagewizard.core.errors import ParameterError
from imagewizard.run.jobs import run_jobs


def test_serial_and_process_backends_give_the_same_records():
    jobs = list(range(-5, 6))
    serial, pooled = [], []
    run_jobs(abs, jobs, serial.append)
    run_jobs(abs, jobs, pooled.append, backend="process", workers=2)
    assert serial == [abs(j) for j in jobs]
    assert sorted(pooled) == sorted(serial)  # finishing order may differ, the records may not


def test_a_worker_that_dies_is_reported_through_lost_and_the_run_ends():
    got = []
    # os._exit kills the worker process itself: what an out-of-memory kill looks like to the pool
    run_jobs(
        os._exit,
        [3, 4],
        got.append,
        backend="process",
        workers=1,
        lost=lambda job, reason: {"job": job, "reason": reason},
    )
    assert sorted(r["job"] for r in got) == [3, 4]
    assert all("died" in r["reason"] for r in got)


def test_without_lost_a_dead_worker_stops_the_run():
    from concurrent.futures.process import BrokenProcessPool

    with pytest.raises(BrokenProcessPool):
        run_jobs(os._exit, [1], lambda r: None, backend="process", workers=1)


def test_bad_backend_is_a_clear_error():
    with pytest.raises(ParameterError, match="backend must be one of"):
        run_jobs(abs, [1], print, backend="threads")
