"""Jobs and the workers that run them: never the request handler.

A :class:`JobTable` holds every job (queued, running, done, failed, cancelled) with its owner,
progress and record, and deletes finished jobs with their files once their lifetime is over.
Jobs run in a :class:`ProcessPool` (spawned worker processes, each loading its models once and
keeping them) or, with ``serve --cluster``, on a Dask cluster (:class:`DaskPool`).

Each worker process talks to the server over its own pipe, so a worker can be killed (its job
cancelled, or past the run-time limit) and replaced without disturbing the others. Progress comes
back as (stage, done, total) from :mod:`imagewizard.core.progress`.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import re
import shutil
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from multiprocessing.connection import wait
from pathlib import Path
from typing import Any, Callable

FINAL = ("done", "failed", "cancelled")
_STEP = re.compile(r"step (\d+)/(\d+)")
#: Progress messages a worker sends per second at most (a tiled step reports every tile).
_PROGRESS_HZ = 10.0


@dataclass
class Job:
    id: str
    owner: str
    kind: str  # "run" or "analyze"
    spec: dict[str, Any]
    folder: Path
    name: str = ""
    state: str = "queued"
    created: float = field(default_factory=time.time)
    started: float | None = None
    finished: float | None = None
    stage: str = ""
    done: int = 0
    total: int | None = None
    fraction: float = 0.0
    record: dict[str, Any] | None = None
    error: str | None = None
    version: int = 0
    event: threading.Event = field(default_factory=threading.Event, repr=False)
    listed: bool = True

    def progress(self, stage: str, done: int, total: int | None) -> None:
        self.stage, self.done, self.total = stage, done, total
        m = _STEP.search(stage)
        i, n = (int(m.group(1)), int(m.group(2))) if m else (1, 1)
        part = (done / total) if total else 0.0
        self.fraction = max(self.fraction, min(0.99, (i - 1 + part) / max(n, 1)))
        self.version += 1

    def finish(self, state: str, record: dict[str, Any] | None = None, error: str | None = None) -> None:
        if self.state in FINAL:
            return
        self.state, self.record, self.error = state, record, error
        self.finished = time.time()
        if state == "done":
            self.fraction = 1.0
        self.version += 1
        self.event.set()

    def view(self) -> dict[str, Any]:
        """What ``GET /api/jobs/{id}`` returns (no paths, no tokens)."""
        now = time.time()
        elapsed = ((self.finished or now) - self.started) if self.started else 0.0
        eta = None
        if self.state == "running" and self.fraction > 0.02:
            eta = round(max(0.0, elapsed / self.fraction - elapsed), 1)
        out: dict[str, Any] = {
            "id": self.id,
            "kind": self.kind,
            "name": self.name,
            "state": self.state,
            "progress": {
                "fraction": round(self.fraction, 3),
                "stage": self.stage,
                "done": self.done,
                "total": self.total,
                "eta_s": eta,
            },
            "queued_s": round(((self.started or now) - self.created), 2),
            "elapsed_s": round(elapsed, 2),
        }
        if self.error:
            out["error"] = self.error
        if self.record is not None:
            rec = dict(self.record)
            rec.pop("histograms", None)  # large: GET /api/jobs/{id}/histograms
            out["result"] = rec
        return out


class JobTable:
    """Every job by id, with the queue limit and the expiry of finished jobs."""

    def __init__(self, root: Path, lifetime_s: float, max_queued: int):
        self.root, self.lifetime_s, self.max_queued = root, lifetime_s, max_queued
        self.jobs: dict[str, Job] = {}
        self.lock = threading.Lock()

    def new(self, owner: str, kind: str, name: str, listed: bool = True) -> Job:
        job_id = uuid.uuid4().hex[:16]
        folder = self.root / job_id
        folder.mkdir(mode=0o700)
        job = Job(job_id, owner, kind, {}, folder, name=name, listed=listed)
        with self.lock:
            self.jobs[job_id] = job
        return job

    def active(self) -> int:
        with self.lock:
            return sum(1 for j in self.jobs.values() if j.state not in FINAL)

    def get(self, job_id: str, owner: str) -> Job | None:
        with self.lock:
            job = self.jobs.get(job_id)
        # another token's job is not found, the same answer as a job that never existed
        return job if job is not None and job.owner == owner else None

    def owned(self, owner: str) -> list[Job]:
        with self.lock:
            return [j for j in self.jobs.values() if j.owner == owner and j.listed]

    def remove(self, job: Job) -> None:
        with self.lock:
            self.jobs.pop(job.id, None)
        shutil.rmtree(job.folder, ignore_errors=True)

    def expire(self, now: float | None = None) -> int:
        """Delete finished jobs older than the lifetime (and their files); returns how many."""
        now = time.time() if now is None else now
        with self.lock:
            old = [
                j for j in self.jobs.values() if j.state in FINAL and j.finished and now - j.finished > self.lifetime_s
            ]
        for j in old:
            self.remove(j)
        return len(old)


# --- worker processes --------------------------------------------------------------------------


def _worker_main(conn, threads: int | None, env: dict[str, str]) -> None:
    """A worker process: run each (kind, job id, spec) it is sent and send back the record."""
    os.environ.update(env)
    from imagewizard.core.progress import reporting
    from imagewizard.run.jobs import init_worker
    from imagewizard.web.work import do

    init_worker(threads)
    last = [0.0]

    while True:
        try:
            kind, job_id, spec = conn.recv()
        except (EOFError, OSError):
            return

        def report(stage: str, done: int, total: int | None, job_id: str = job_id) -> None:
            now = time.monotonic()
            if total is not None and done < total and now - last[0] < 1.0 / _PROGRESS_HZ:
                return
            last[0] = now
            conn.send(("progress", job_id, (stage, done, total)))

        try:
            with reporting(report):
                record = do(kind, spec)
        except MemoryError:
            record = {"status": "error", "error": "out of memory on this image"}
        except Exception as exc:  # noqa: BLE001 - the server reports it; the worker goes on
            from imagewizard.core.errors import plain_reason

            record = {"status": "error", "error": f"internal error ({plain_reason(exc)})"}
        conn.send(("done", job_id, record))


@dataclass
class _Slot:
    process: Any = None
    conn: Any = None
    job: Job | None = None
    started: float = 0.0


class ProcessPool:
    """``workers`` spawned processes; the server's one dispatcher thread feeds them from a queue."""

    def __init__(self, workers: int, *, max_run_s: float, env: dict[str, str] | None = None):
        from imagewizard.run.jobs import usable_cores

        self.max_run_s = max_run_s
        self.threads = max(1, usable_cores() // max(1, workers))
        self.env = dict(env or {})
        self.ctx = mp.get_context("spawn")  # a fork of a threaded server can deadlock
        self.slots = [_Slot() for _ in range(max(1, workers))]
        self.pending: deque[Job] = deque()
        self.cancels: set[str] = set()
        self.lock = threading.Lock()
        self.wake = threading.Event()
        self.closed = False
        self.on_done: Callable[[Job], None] = lambda job: None
        for s in self.slots:
            self._spawn(s)
        self.thread = threading.Thread(target=self._loop, name="imagewizard-dispatch", daemon=True)
        self.thread.start()

    @property
    def size(self) -> int:
        return len(self.slots)

    def _spawn(self, slot: _Slot) -> None:
        ours, theirs = self.ctx.Pipe()
        p = self.ctx.Process(target=_worker_main, args=(theirs, self.threads, self.env), daemon=True)
        p.start()
        theirs.close()
        slot.process, slot.conn, slot.job = p, ours, None

    def _replace(self, slot: _Slot) -> None:
        try:
            slot.process.kill()
            slot.process.join(5)
        except Exception:  # noqa: BLE001 - already gone
            pass
        try:
            slot.conn.close()
        except OSError:
            pass
        if not self.closed:
            self._spawn(slot)

    def submit(self, job: Job) -> None:
        with self.lock:
            self.pending.append(job)
        self.wake.set()

    def cancel(self, job: Job) -> None:
        with self.lock:
            if job in self.pending:
                self.pending.remove(job)
                job.finish("cancelled", error="cancelled before it started")
                return
            self.cancels.add(job.id)
        self.wake.set()

    def queued_ahead(self) -> int:
        with self.lock:
            return len(self.pending)

    def _dispatch(self) -> None:
        with self.lock:
            for s in self.slots:
                if s.job is None and self.pending:
                    job = self.pending.popleft()
                    try:
                        s.conn.send((job.kind, job.id, job.spec))
                    except (OSError, ValueError):
                        self.pending.appendleft(job)
                        self._replace(s)
                        continue
                    s.job, s.started = job, time.monotonic()
                    job.state, job.started = "running", time.time()
                    job.version += 1

    def _loop(self) -> None:
        while not self.closed:
            self._dispatch()
            busy = {s.conn: s for s in self.slots if s.job is not None}
            if not busy:
                self.wake.wait(0.5)
                self.wake.clear()
                continue
            for conn in wait(list(busy), timeout=0.1):
                s = busy[conn]
                try:
                    what, job_id, payload = conn.recv()
                except (EOFError, OSError):
                    job = s.job
                    self._replace(s)
                    if job is not None:
                        job.finish("failed", error="the worker stopped while running this job (out of memory?)")
                        self.on_done(job)
                    continue
                if s.job is None or job_id != s.job.id:
                    continue
                if what == "progress":
                    s.job.progress(*payload)
                else:
                    job, s.job = s.job, None
                    ok = payload.get("status") == "ok"
                    job.finish("done" if ok else "failed", record=payload, error=None if ok else payload.get("error"))
                    self.on_done(job)
            now = time.monotonic()
            with self.lock:
                cancels, self.cancels = self.cancels, set()
            for s in self.slots:
                job = s.job
                if job is None:
                    continue
                if job.id in cancels:
                    self._replace(s)
                    job.finish("cancelled", error="cancelled while running")
                    self.on_done(job)
                elif now - s.started > self.max_run_s:
                    self._replace(s)
                    job.finish("failed", error=f"stopped: ran past the limit of {self.max_run_s:g} s per job")
                    self.on_done(job)

    def close(self) -> None:
        self.closed = True
        self.wake.set()
        self.thread.join(5)
        for s in self.slots:
            try:
                s.process.kill()
                s.process.join(5)
            except Exception:  # noqa: BLE001
                pass


class DaskPool:
    """The same interface on a Dask cluster (``serve --cluster``): state, no per-tile progress.

    A running Dask task cannot be interrupted: a cancelled or overdue job is reported at once and
    its result discarded when it arrives. The workers must see the server's job folder (the same
    machine with ``local:N``, or a shared file system).
    """

    def __init__(self, client, *, max_run_s: float):
        from imagewizard.run.cluster import n_workers

        self.client, self.max_run_s = client, max_run_s
        self.size = max(1, n_workers(client))
        self.futures: dict[str, Any] = {}
        self.lock = threading.Lock()
        self.closed = False
        self.on_done: Callable[[Job], None] = lambda job: None
        self.thread = threading.Thread(target=self._watch, name="imagewizard-dask-watch", daemon=True)
        self.thread.start()

    def submit(self, job: Job) -> None:
        from imagewizard.web.work import do

        fut = self.client.submit(do, job.kind, job.spec, pure=False, key=f"imagewizard-web-{job.id}")
        with self.lock:
            self.futures[job.id] = (job, fut)
        job.state, job.started = "running", time.time()
        job.version += 1

        def finished(f, job=job) -> None:
            with self.lock:
                self.futures.pop(job.id, None)
            if f.cancelled():
                return
            try:
                record = f.result()
            except Exception as exc:  # noqa: BLE001
                from imagewizard.core.errors import plain_reason

                job.finish("failed", error=f"the cluster could not run it ({plain_reason(exc)})")
            else:
                ok = record.get("status") == "ok"
                job.finish("done" if ok else "failed", record=record, error=None if ok else record.get("error"))
            self.on_done(job)

        fut.add_done_callback(finished)

    def cancel(self, job: Job, *, state: str = "cancelled", error: str = "cancelled") -> None:
        with self.lock:
            entry = self.futures.pop(job.id, None)
        if entry is not None:
            entry[1].cancel()
        job.finish(state, error=error)
        self.on_done(job)

    def queued_ahead(self) -> int:
        return 0

    def _watch(self) -> None:
        while not self.closed:
            time.sleep(0.5)
            now = time.time()
            with self.lock:
                late = [j for j, _ in self.futures.values() if j.started and now - j.started > self.max_run_s]
            for job in late:
                self.cancel(job, state="failed", error=f"stopped: ran past the limit of {self.max_run_s:g} s per job")

    def close(self) -> None:
        self.closed = True
