"""Run fuzz cases in worker processes under a timeout and check every promise of issue 15.

Checked for every case:

- **crash**: the worker (or the console command) died from a signal;
- **hang**: no answer within the timeout;
- **traceback / leak**: a traceback or an exception class name on stdout or stderr, an escaping
  exception or ``SystemExit``, an exit code other than 0, 1, 2;
- **multi-line error**: a failing command must print exactly one ``error:`` line (``warning:``
  lines aside) and nothing else on stderr;
- **harmed input**: any file in the case folder before the run differs after it;
- **litter**: a temporary file of the atomic writer left behind;
- **missing output**: a command that says it succeeded without writing its output;
- API cases: anything but a result (float32, input's height and width, finite, in [0, 1]) or an
  ``ImageWizardError``.
"""

from __future__ import annotations

import hashlib
import json
import os
import queue
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from .corpus import Case, make_case

ROOT = Path(__file__).resolve().parents[1]
LEAK = re.compile(r"Traceback \(most recent|\b[A-Z][A-Za-z]*(Error|Exception|Warning)\b|File \"[^\"]+\.py\"")
#: Fuzz cases stay small: a mutated header may claim millions of pixels, and the point is to see it refused.
FUZZ_ENV = {
    "IMAGEWIZARD_MAX_PIXELS": "2000000",
    "MPLBACKEND": "Agg",
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "PYTHONHASHSEED": "0",
}


def _digest(folder: Path) -> dict[str, str]:
    out = {}
    for root, dirs, names in os.walk(folder):
        for n in names:
            p = os.path.join(root, n)
            if os.path.islink(p) or not os.path.isfile(p):
                continue
            with open(p, "rb") as fh:
                out[os.path.relpath(p, folder)] = hashlib.sha256(fh.read()).hexdigest()
    return out


class Worker:
    """One long-lived ``python -m fuzz.worker`` process; restarted after a crash or a hang."""

    def __init__(self, env: dict[str, str]):
        self.env = env
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "fuzz.worker"],
            cwd=ROOT,
            env=self.env,
            text=True,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        first = self._readline(300)
        if not first or not json.loads(first).get("ready"):
            raise RuntimeError("the fuzz worker did not start")

    def _readline(self, timeout: float) -> str | None:
        assert self.proc and self.proc.stdout
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not ready:
            return None
        return self.proc.stdout.readline()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
        if self.proc:
            self.proc.wait()
        self.proc = None

    def run(self, request: dict, timeout: float) -> dict:
        if self.proc is None or self.proc.poll() is not None:
            self.start()
        assert self.proc and self.proc.stdin
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        line = self._readline(timeout)
        if line is None:
            self.stop()
            return {"status": "hang"}
        if not line:
            code = self.proc.wait()
            self.proc = None
            sig = -code if code < 0 else None
            return {"status": "crash", "signal": signal.Signals(sig).name if sig else None, "code": code}
        return json.loads(line)


def run_subprocess(argv: list[str], cwd: Path, env: dict[str, str], timeout: float) -> dict:
    """The console command in its own process: catches what the in-process worker cannot (exit paths)."""
    code = "import sys; from imagewizard.cli.commands import main; sys.exit(main())"
    t0 = time.perf_counter()
    try:
        p = subprocess.run(
            [sys.executable, "-c", code, *argv],
            cwd=cwd,
            env=env,
            capture_output=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        return {"status": "hang"}
    if p.returncode < 0:
        return {"status": "crash", "signal": signal.Signals(-p.returncode).name, "code": p.returncode}
    return {
        "rc": p.returncode,
        "stdout": p.stdout.decode("utf-8", "replace"),
        "stderr": p.stderr.decode("utf-8", "replace"),
        "seconds": round(time.perf_counter() - t0, 3),
    }


def check_cli(case: Case, res: dict, before: dict[str, str], folder: Path) -> list[str]:
    """Every broken promise of one CLI case, as short reasons (empty: it held)."""
    problems = []
    if res.get("status") in ("hang", "crash"):
        return [res["status"] + (f" ({res.get('signal')})" if res.get("signal") else "")]
    rc = res.get("rc")
    if rc not in (0, 1, 2):
        problems.append(f"exit {rc!r}")
    for stream in ("stdout", "stderr"):
        m = LEAK.search(res.get(stream, ""))
        if m:
            problems.append(f"leak on {stream}: {m.group(0)!r}")
    lines = [ln for ln in res.get("stderr", "").strip().splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("error: ")]
    # a batch names each image it could not process on a 'failed:' line, then ends with one error line
    allowed = ("error: ", "warning: ") + (("failed: ",) if case.argv[:1] == ["batch"] else ())
    others = [ln for ln in lines if not ln.startswith(allowed)]
    if rc not in (0, None):
        if len(errors) != 1 or others:
            problems.append(f"{len(errors)} error lines and {len(others)} other lines on stderr")
    elif errors:
        problems.append("exit 0 with an error line")
    after = _digest(folder)
    harmed = [p for p, h in before.items() if after.get(p) != h and p not in _consented(case, folder)]
    if harmed:
        problems.append("harmed input: " + ", ".join(harmed[:3]))
    litter = [p for p in after if ".aw_" in p or p.endswith(".tmp")]
    if litter:
        problems.append("temporary file left: " + litter[0])
    if rc == 0 and case.expect_output and not (folder / case.expect_output).is_file():
        problems.append(f"exit 0 but no {case.expect_output}")
    return problems


def _consented(case: Case, folder: Path) -> set[str]:
    """The one replacement a user may ask for: ``--overwrite`` with the output naming the main input."""
    argv = case.argv
    if "--overwrite" not in argv or "-o" not in argv or len(argv) < 2:
        return set()
    out = os.path.realpath(folder / argv[argv.index("-o") + 1])
    main_input = os.path.realpath(folder / argv[1])
    return {os.path.relpath(main_input, folder)} if out == main_input else set()


def check_api(res: dict) -> list[str]:
    if res.get("status") in ("hang", "crash"):
        return [res["status"] + (f" ({res.get('signal')})" if res.get("signal") else "")]
    if res.get("outcome") == "exception":
        return [f"{res['exc']}: {res['message'][:200]}"]
    if res.get("outcome") == "bad-result":
        return [res["message"]]
    problems = []
    if res.get("outcome") == "refused":
        msg = res.get("message", "")
        if "\n" in msg or LEAK.search(msg):
            problems.append(f"refusal not plain: {msg[:200]!r}")
    return problems


@dataclass
class Totals:
    seed: int
    cases: int = 0
    families: Counter = field(default_factory=Counter)
    outcomes: Counter = field(default_factory=Counter)
    failures: list[dict] = field(default_factory=list)
    seconds: float = 0.0
    subprocess_cases: int = 0
    slowest: tuple[float, str] = (0.0, "")

    def as_dict(self) -> dict:
        kinds = Counter(f["problems"][0].split(" ")[0].rstrip(":") for f in self.failures)
        return {
            "seed": self.seed,
            "cases": self.cases,
            "subprocess_cases": self.subprocess_cases,
            "families": dict(sorted(self.families.items())),
            "outcomes": dict(sorted(self.outcomes.items())),
            "failures": len(self.failures),
            "failure_kinds": dict(kinds),
            "seconds": round(self.seconds, 1),
            "slowest_case": {"seconds": self.slowest[0], "case": self.slowest[1][:200]},
            "failed_cases": self.failures,
        }


def run(
    seed: int,
    indices: list[int],
    *,
    jobs: int = 2,
    timeout: float = 30.0,
    keep: Path | None = None,
    selftest: dict[int, str] | None = None,
    progress=None,
) -> Totals:
    """Run the cases ``indices`` of run ``seed``; failing case folders are copied under ``keep``."""
    env = {**os.environ, **FUZZ_ENV, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    if selftest:
        env["IMAGEWIZARD_FUZZ_SELFTEST"] = "1"
    totals = Totals(seed)
    todo: queue.Queue[int] = queue.Queue()
    for i in indices:
        todo.put(i)
    lock = threading.Lock()
    t0 = time.perf_counter()
    scratch = Path(tempfile.mkdtemp(prefix="iw-fuzz-"))

    def one(worker: Worker, index: int) -> None:
        folder = scratch / f"case{index}"
        folder.mkdir()
        try:
            case = make_case(seed, index, folder)
        except Exception as exc:  # noqa: BLE001 - a bug of the fuzzer itself must not stop the run
            with lock:
                totals.cases += 1
                totals.failures.append(
                    {
                        "case": f"#{index} (not built)",
                        "index": index,
                        "problems": [f"generator: {type(exc).__name__}: {exc}"],
                        "stderr": "",
                    }
                )
            return
        action = (selftest or {}).get(index)
        if action:
            (folder / "victim.png").write_bytes(b"a file the command reads")
        before = _digest(folder)
        if case.kind == "api" and not action:
            res = worker.run({"kind": "api", "api": case.api}, timeout)
            problems = check_api(res)
            outcome = res.get("outcome", res.get("status"))
        else:
            if action:
                case.kind, case.argv = "cli", ["selftest", "victim.png"]
                res = worker.run({"kind": "cli", "selftest": action, "argv": case.argv, "cwd": str(folder)}, timeout)
            elif case.subprocess:
                res = run_subprocess(case.argv, folder, env, max(timeout, 120))
            else:
                res = worker.run({"kind": "cli", "argv": case.argv, "cwd": str(folder)}, timeout)
            problems = check_cli(case, res, before, folder)
            outcome = res.get("status") or ("ok" if res.get("rc") == 0 else "refused")
        with lock:
            totals.cases += 1
            totals.subprocess_cases += case.subprocess
            totals.families[case.family] += 1
            totals.outcomes[outcome] += 1
            if res.get("seconds", 0) > totals.slowest[0]:
                totals.slowest = (res["seconds"], case.describe())
            if problems:
                totals.failures.append(
                    {
                        "case": case.describe(),
                        "index": index,
                        "problems": problems,
                        "stderr": res.get("stderr", res.get("message", ""))[-600:],
                    }
                )
                if keep:
                    shutil.copytree(
                        folder, keep / f"case{index}", symlinks=True, dirs_exist_ok=True, ignore_dangling_symlinks=True
                    )
            if progress:
                progress(totals, case, problems)
        shutil.rmtree(folder, ignore_errors=True)

    def loop() -> None:
        worker = Worker(env)
        try:
            while True:
                try:
                    index = todo.get_nowait()
                except queue.Empty:
                    return
                one(worker, index)
        finally:
            worker.stop()

    threads = [threading.Thread(target=loop, daemon=True) for _ in range(max(1, jobs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    shutil.rmtree(scratch, ignore_errors=True)
    totals.seconds = time.perf_counter() - t0
    totals.failures.sort(key=lambda f: f["index"])
    return totals


def main(argv: list[str] | None = None) -> int:
    import argparse

    ap = argparse.ArgumentParser(prog="python -m fuzz", description=__doc__.split("\n")[0])
    ap.add_argument("--cases", type=int, default=5000, help="number of cases (default 5000)")
    ap.add_argument("--seed", type=int, default=1, help="run seed: the same seed builds the same cases")
    ap.add_argument("--start", type=int, default=0, help="first case index")
    ap.add_argument("--only", type=int, nargs="*", help="run just these case indices (reproduce a failure)")
    ap.add_argument("--jobs", type=int, default=2, help="worker processes (default 2)")
    ap.add_argument("--timeout", type=float, default=30.0, help="seconds per case before it counts as a hang")
    ap.add_argument("--report", type=Path, default=None, help="write the totals and failures as JSON here")
    ap.add_argument("--keep", type=Path, default=None, help="copy each failing case's folder under this folder")
    args = ap.parse_args(argv)
    indices = args.only if args.only else list(range(args.start, args.start + args.cases))
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
    last = [0.0]

    def progress(totals: Totals, case: Case, problems: list[str]) -> None:
        if problems:
            print(f"FAIL {case.describe()}: {'; '.join(problems)}", flush=True)
        now = time.perf_counter()
        if now - last[0] > 15 or totals.cases == len(indices):
            last[0] = now
            print(f"  {totals.cases}/{len(indices)} cases, {len(totals.failures)} failures", flush=True)

    totals = run(args.seed, indices, jobs=args.jobs, timeout=args.timeout, keep=args.keep, progress=progress)
    summary = totals.as_dict()
    if args.report:
        args.report.write_text(json.dumps(summary, indent=1) + "\n")
    brief = {k: v for k, v in summary.items() if k != "failed_cases"}
    print(json.dumps(brief, indent=1))
    return 1 if totals.failures else 0
