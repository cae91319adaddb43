"""Load test of ``imagewizard serve`` on loopback: concurrent clients for a bounded time.

Starts the real server (``imagewizard serve``) as a child process, then ``--clients`` clients
each loop for ``--seconds``: small jobs (upload, follow to the end, download and check the
result), bad uploads (corrupt, truncated, wrong type, too many pixels: each must get its 4xx) and
reads of the declarations. It stops by itself, waits (bounded) for the jobs still running, and
prints requests per second, latency percentiles, the peak memory of the server and its workers,
and the failures: any 5xx, any job lost (accepted but never finished, or its result missing).
Exit status 1 when there was a 5xx, a lost job or an unexpected status.

    python benchmarks/suites/web_load.py --clients 20 --seconds 60 --workers 2
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import random
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np


def _png(arr: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue()


def _payloads(max_pixels: int) -> dict[str, tuple[bytes, int]]:
    rng = np.random.default_rng(0)
    good = _png((rng.random((64, 64, 3)) * 255).astype(np.uint8))
    side = int(max_pixels**0.5) + 16
    return {
        "corrupt": (b"\x89PNG\r\n\x1a\n" + bytes(64), 422),
        "truncated": (good[: len(good) // 2], 422),
        "not-an-image": (b"hello, this is text" * 10, 415),
        "gif": (b"GIF89a" + bytes(40), 415),
        "too-many-pixels": (_png(np.zeros((side, side), np.uint8)), 413),
        "good": (good, 202),
    }


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Memory:
    """Peak resident memory of a process and its children, sampled every 0.2 s."""

    def __init__(self, pid: int):
        import psutil

        self.proc, self.peak, self.stop = psutil.Process(pid), 0, threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        import psutil

        while not self.stop.wait(0.2):
            try:
                procs = [self.proc, *self.proc.children(recursive=True)]
                rss = sum(p.memory_info().rss for p in procs if p.is_running())
            except psutil.Error:
                continue
            self.peak = max(self.peak, rss)


def _pct(values: list[float], q: float) -> float | None:
    return round(float(np.percentile(values, q)) * 1000, 1) if values else None


async def _client(i: int, url: str, until: float, payloads, stats, rng: random.Random) -> None:
    import httpx

    async with httpx.AsyncClient(base_url=url, timeout=120) as c:
        while time.monotonic() < until:
            try:
                await _one(c, payloads, stats, rng)
            except httpx.HTTPError as exc:  # a dropped connection counts against the server
                stats.unexpected.append(f"transport: {type(exc).__name__} {exc}")


async def _one(c, payloads, stats, rng: random.Random) -> None:
    if True:
        if True:
            roll = rng.random()
            t0 = time.monotonic()
            if roll < 0.5:  # a small job, followed to its end
                r = await c.post(
                    "/api/jobs",
                    files={"image": ("p.png", payloads["good"][0], "image/png")},
                    data={"method": "median", "params": '{"size": 3}'},
                )
                stats.request("submit", r.status_code, time.monotonic() - t0)
                if r.status_code == 429:
                    await asyncio.sleep(min(2.0, float(r.headers.get("retry-after", 1))))
                    return
                if r.status_code != 202:
                    stats.unexpected.append(f"submit {r.status_code}: {r.text[:120]}")
                    return
                job = r.json()["id"]
                stats.accepted += 1
                deadline = time.monotonic() + 120
                while True:
                    t1 = time.monotonic()
                    g = await c.get(f"/api/jobs/{job}")
                    stats.request("status", g.status_code, time.monotonic() - t1)
                    view = g.json() if g.status_code == 200 else {"state": "missing"}
                    if view["state"] in ("done", "failed", "cancelled", "missing") or time.monotonic() > deadline:
                        break
                    await asyncio.sleep(0.2)
                if view["state"] != "done":
                    stats.lost.append(f"job {job}: {view.get('state')} {view.get('error', '')}")
                    return
                t1 = time.monotonic()
                res = await c.get(f"/api/jobs/{job}/result")
                stats.request("result", res.status_code, time.monotonic() - t1)
                if res.status_code != 200 or not res.content.startswith(b"\x89PNG"):
                    stats.lost.append(f"job {job}: result {res.status_code}")
                else:
                    stats.finished += 1
                    stats.job_seconds.append(time.monotonic() - t0)
                    await c.delete(f"/api/jobs/{job}")
            elif roll < 0.75:  # a bad upload: it must get its own 4xx
                kind = rng.choice([k for k in payloads if k != "good"])
                data, want = payloads[kind]
                r = await c.post("/api/jobs", files={"image": ("p.png", data, "image/png")})
                stats.request("bad-upload", r.status_code, time.monotonic() - t0)
                if r.status_code != want and r.status_code != 429:
                    stats.unexpected.append(f"{kind}: {r.status_code} (wanted {want}) {r.text[:120]}")
            else:
                path = rng.choice(["/api/health", "/api/methods", "/api/tasks"])
                r = await c.get(path)
                stats.request("read", r.status_code, time.monotonic() - t0)
                if r.status_code != 200:
                    stats.unexpected.append(f"{path}: {r.status_code}")


class Stats:
    def __init__(self):
        self.latency: dict[str, list[float]] = {}
        self.status: dict[int, int] = {}
        self.unexpected: list[str] = []
        self.lost: list[str] = []
        self.accepted = self.finished = 0
        self.job_seconds: list[float] = []

    def request(self, kind: str, status: int, seconds: float) -> None:
        self.latency.setdefault(kind, []).append(seconds)
        self.status[status] = self.status.get(status, 0) + 1


def run_load(url: str, *, clients: int, seconds: float, max_pixels: int, seed: int = 0) -> Stats:
    stats = Stats()
    payloads = _payloads(max_pixels)
    until = time.monotonic() + seconds

    async def main():
        await asyncio.gather(
            *(_client(i, url, until, payloads, stats, random.Random(seed * 1000 + i)) for i in range(clients))
        )

    asyncio.run(main())
    return stats


def start_server(workers: int, max_pixels: int, max_queued: int) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    exe = Path(sys.executable).with_name("imagewizard")
    cmd = [
        str(exe),
        "serve",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--max-pixels",
        str(max_pixels),
        "--max-queued",
        str(max_queued),
        "--max-upload-mb",
        "8",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    import httpx

    t0 = time.monotonic()
    while True:
        try:
            if httpx.get(url + "/api/health", timeout=2).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() - t0 > 60:
            proc.kill()
            raise RuntimeError(f"the server did not start: {proc.stdout.read()[-400:]}")
        time.sleep(0.2)


def measure(
    clients: int = 20, seconds: float = 60, workers: int = 2, max_pixels: int = 250_000, max_queued: int = 32
) -> dict:
    proc, url = start_server(workers, max_pixels, max_queued)
    mem = Memory(proc.pid)
    mem.thread.start()
    try:
        t0 = time.monotonic()
        stats = run_load(url, clients=clients, seconds=seconds, max_pixels=max_pixels)
        wall = time.monotonic() - t0
    finally:
        mem.stop.set()
        proc.terminate()
        try:
            server_output = proc.communicate(timeout=20)[0]
        except subprocess.TimeoutExpired:
            proc.kill()
            server_output = ""
    n = sum(stats.status.values())
    fivexx = sum(v for k, v in stats.status.items() if k >= 500)
    return {
        "clients": clients,
        "seconds": round(wall, 1),
        "workers": workers,
        "requests": n,
        "requests_per_s": round(n / wall, 1),
        "status_counts": {str(k): v for k, v in sorted(stats.status.items())},
        "latency_ms": {
            kind: {"p50": _pct(v, 50), "p95": _pct(v, 95), "p99": _pct(v, 99), "n": len(v)}
            for kind, v in sorted(stats.latency.items())
        },
        "jobs_accepted": stats.accepted,
        "jobs_finished": stats.finished,
        "jobs_per_s": round(stats.finished / wall, 2),
        "job_seconds_p50": round(float(np.median(stats.job_seconds)), 3) if stats.job_seconds else None,
        "server_5xx": fivexx,
        "lost_jobs": stats.lost[:20],
        "unexpected": stats.unexpected[:20],
        "peak_memory_mb": round(mem.peak / 2**20, 1),
        "cpu_count": os.cpu_count(),
        "server_output_tail": server_output[-600:],
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--json", type=Path, help="also write the figures here")
    a = ap.parse_args(argv)
    out = measure(a.clients, a.seconds, a.workers)
    text = json.dumps(out, indent=2)
    print(text)
    if a.json:
        a.json.write_text(text + "\n")
    bad = out["server_5xx"] or out["lost_jobs"] or out["unexpected"]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
