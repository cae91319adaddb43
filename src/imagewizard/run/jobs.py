"""One job runner for everything that runs a function over many inputs: ``imagewizard batch``
and ``imagewizard bench`` alike.

A job is one picklable argument; ``fn(job)`` (a module-level function) returns its record, and the
caller's ``done(record)`` sees each record in the calling process as soon as it is finished, so a
log or a result store is written as work goes and an interrupted run resumes. Three backends:

``serial``
    In this process, in order.
``process``
    A pool of ``workers`` spawned processes (spawn, not fork: a forked copy of a process that holds
    torch/OpenMP threads can deadlock), each capped to its share of the cores, at most two jobs per
    worker in flight so that memory stays bounded on long lists.
``dask``
    The workers of a Dask cluster (see :mod:`imagewizard.run.cluster`), one thread each.

A worker lost with its job (killed, out of memory) is reported through ``lost(job, reason)``,
which returns the job's record or raises; the other jobs go on (a process pool cannot tell which
of the jobs in flight killed it, so each of those is reported lost, and a new pool takes the rest).
"""

from __future__ import annotations

import os
import sys
import threading
import time
from contextlib import contextmanager
from typing import Any, Callable, Iterator, Sequence

from imagewizard.core.errors import ParameterError, plain_reason

#: Environment variables that cap the thread pools of BLAS/OpenMP libraries in a worker.
THREAD_ENV = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)
BACKENDS = ("serial", "process", "dask")

_THREADS: int | None = None
_TORCH_SET = False


def usable_cores() -> int:
    """Cores this process may run on (its CPU affinity, else the machine's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def worker_threads() -> int | None:
    """The thread cap this worker process was given (None in the main process)."""
    return _THREADS


def _exit_with_parent(parent: int) -> None:
    # A pool worker outlives a parent that was killed (SIGKILL skips the pool's shutdown): leave too.
    while True:
        time.sleep(1.0)
        if os.getppid() != parent:
            os._exit(1)


def init_worker(threads: int | None, watch_parent: bool = True) -> None:
    """Worker initializer: cap OpenCV's threads (and PyTorch's, see :func:`limit_torch_threads`) to
    ``threads``, this worker's share of the cores; leave when the parent dies."""
    global _THREADS
    if watch_parent:
        threading.Thread(target=_exit_with_parent, args=(os.getppid(),), daemon=True).start()
    _THREADS = threads
    if threads is None:
        return
    for var in THREAD_ENV:
        os.environ[var] = str(threads)
    import cv2

    cv2.setNumThreads(threads)
    limit_torch_threads()


def limit_torch_threads() -> None:
    """Apply the worker's thread cap to PyTorch once it is imported (importing it here would cost
    every worker a second even when no job needs it); call before a job's work."""
    global _TORCH_SET
    if _THREADS is None or _TORCH_SET or "torch" not in sys.modules:
        return
    import torch

    torch.set_num_threads(_THREADS)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:  # only allowed before the first parallel work
        pass
    _TORCH_SET = True


def _call(fn: Callable[[Any], dict], job: Any) -> dict:
    limit_torch_threads()
    return fn(job)


def _call_on_dask_worker(fn: Callable[[Any], dict], job: Any) -> dict:
    init_worker(1, watch_parent=False)  # cheap and idempotent; covers workers that join the cluster later
    return _call(fn, job)


@contextmanager
def _worker_env(threads: int) -> Iterator[None]:
    """Environment the spawned workers inherit: thread caps (read by BLAS when it loads, before any
    initializer runs) and glibc returning big blocks to the system (keeps memory figures honest)."""
    saved = {k: os.environ.get(k) for k in (*THREAD_ENV, "MALLOC_MMAP_THRESHOLD_")}
    try:
        for k in THREAD_ENV:
            os.environ[k] = str(threads)
        os.environ.setdefault("MALLOC_MMAP_THRESHOLD_", str(128 * 1024))
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def run_jobs(
    fn: Callable[[Any], dict],
    jobs: Sequence[Any],
    done: Callable[[dict], None],
    *,
    backend: str = "serial",
    workers: int = 1,
    client: Any = None,
    lost: Callable[[Any, str], dict] | None = None,
    key: Callable[[Any], str] | None = None,
) -> None:
    """Run ``fn(job)`` for every job and hand each record to ``done`` as it finishes.

    Parameters
    ----------
    fn : callable
        A module-level function (it travels to other processes by name).
    jobs : sequence
        Picklable arguments, one per call.
    done : callable
        Called in this process with each record, in the order they finish.
    backend : {'serial', 'process', 'dask'}
        Where the calls run (see the module docstring).
    workers : int
        Processes for ``'process'``.
    client : distributed.Client
        The cluster for ``'dask'``.
    lost : callable, optional
        ``lost(job, reason)`` for a job whose worker died: returns its record, or raises to stop the
        run. Without it the run stops with the pool's error.
    key : callable, optional
        A readable name for a job in the Dask dashboard.

    Examples
    --------
    >>> out = []
    >>> run_jobs(abs, [-1, 2, -3], out.append)
    >>> out
    [1, 2, 3]
    """
    if backend not in BACKENDS:
        raise ParameterError(f"backend must be one of {', '.join(BACKENDS)}; got {backend!r}")
    if backend == "serial" or not jobs:
        for job in jobs:
            done(_call(fn, job))
    elif backend == "process":
        _run_pool(fn, list(jobs), done, workers, lost)
    else:
        if client is None:
            raise ParameterError("backend 'dask' needs a client (imagewizard.run.cluster.connect)")
        _run_dask(fn, list(jobs), done, client, lost, key)


def _run_pool(fn, jobs: list, done, workers: int, lost) -> None:
    import multiprocessing
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
    from concurrent.futures.process import BrokenProcessPool

    if workers < 1:
        raise ParameterError(f"workers must be >= 1; got {workers}")
    n = min(workers, len(jobs))
    threads = max(1, usable_cores() // workers)

    def new_pool():
        with _worker_env(threads):
            return ProcessPoolExecutor(
                max_workers=n,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=init_worker,
                initargs=(threads,),
            )

    pool = new_pool()
    queue = list(reversed(jobs))
    pending: dict = {}
    try:
        while queue or pending:
            while queue and len(pending) < 2 * n:
                job = queue.pop()
                pending[pool.submit(_call, fn, job)] = job
            finished, _ = wait(list(pending), return_when=FIRST_COMPLETED)
            broken = False
            for fut in finished:
                job = pending.pop(fut)
                try:
                    rec = fut.result()
                except BrokenProcessPool:
                    if lost is None:
                        raise
                    broken = True
                    rec = lost(job, "the worker process died (out of memory or a crash)")
                done(rec)
            if broken:
                # the pool is gone with the worker: the jobs still pending on it are run again on a new one
                queue.extend(reversed(list(pending.values())))
                pending.clear()
                pool.shutdown(wait=False, cancel_futures=True)
                pool = new_pool()
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True)


def _run_dask(fn, jobs: list, done, client, lost, key) -> None:
    from distributed import as_completed

    futures = {
        client.submit(_call_on_dask_worker, fn, job, pure=False, key=f"imagewizard-{i}-{key(job) if key else i}"): job
        for i, job in enumerate(jobs)
    }
    try:
        for fut in as_completed(list(futures)):
            job = futures[fut]
            if fut.status == "error":
                reason = f"the worker failed ({plain_reason(fut.exception())})"
                if lost is None:
                    raise fut.exception()
                done(lost(job, reason))
            else:
                done(fut.result())
            fut.release()
    except BaseException:
        client.cancel(list(futures))
        raise
