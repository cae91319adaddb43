"""The fuzz worker: imports ImageWizard once, then runs cases read as JSON lines from stdin.

Each CLI case runs the real entry point, ``imagewizard.cli.commands.main(argv)``, in the case's folder with
file descriptors 1 and 2 redirected to files, so that whatever any library prints (C code
included) is caught. Each API case builds its array from a small spec and calls
``imagewizard.apply``. One JSON line per case goes back on the original stdout. The runner
enforces the timeout and notices a crash (this process dying).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
import warnings

import numpy as np

SELFTEST_ENV = "IMAGEWIZARD_FUZZ_SELFTEST"


def _array(spec: dict) -> np.ndarray:
    rng = np.random.default_rng(spec["seed"])
    shape = tuple(spec["shape"])
    fill = spec["fill"]
    base = {
        "random": lambda: rng.random(shape),
        "zeros": lambda: np.zeros(shape),
        "ones": lambda: np.ones(shape),
        "nan": lambda: np.where(rng.random(shape) < 0.2, np.nan, rng.random(shape)),
        "inf": lambda: np.where(rng.random(shape) < 0.2, np.inf, rng.random(shape)),
        "negative": lambda: rng.random(shape) - 0.7,
        "huge": lambda: rng.random(shape) * 1e30,
    }[fill]()
    dtype = spec["dtype"]
    if dtype in ("uint8", "uint16", "int32"):
        with np.errstate(invalid="ignore", over="ignore"):
            scale = {"uint8": 255, "uint16": 65535, "int32": 255}[dtype]
            return np.nan_to_num(base * scale, nan=0, posinf=0, neginf=0).clip(-1e9, 1e9).astype(dtype)
    if dtype == "bool":
        return np.nan_to_num(base) > 0.5
    if dtype == "object":
        return base.astype(object)
    with np.errstate(over="ignore"):
        return base.astype(dtype)


def _mask(kind: str | None, shape: tuple, seed: int):
    if kind in (None, "none"):
        return None
    hw = shape[:2] if len(shape) >= 2 else shape
    rng = np.random.default_rng(seed)
    return {
        "random": lambda: rng.random(hw) < 0.2,
        "empty": lambda: np.zeros(hw, bool),
        "full": lambda: np.ones(hw, bool),
        "wrong-shape": lambda: np.ones((3, 5), bool),
    }[kind]()


def run_api(spec: dict) -> dict:
    import imagewizard as iw
    from imagewizard.core.errors import ImageWizardError

    img = _array(spec)
    sigma = float("nan") if spec.get("sigma") == "nan" else spec.get("sigma")
    kw = {}
    if spec.get("kernel"):
        kw["kernel"] = spec["kernel"]
    if spec.get("task") == "inpaint":
        kw["mask"] = _mask(spec.get("mask"), img.shape, spec["seed"])
    if spec.get("method") == "match-histogram":
        kw["reference"] = np.random.default_rng(1).random((16, 16, 3)).astype(np.float32)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = iw.apply(spec["task"], img, spec["method"], sigma=sigma, **kw, **spec.get("params", {}))
    except ImageWizardError as exc:
        return {"outcome": "refused", "message": str(exc), "exc": type(exc).__name__}
    except Exception as exc:  # noqa: BLE001 - the point: anything else is a finding
        return {"outcome": "exception", "message": str(exc)[:300], "exc": type(exc).__name__}
    problems = []
    if not isinstance(out, np.ndarray):
        problems.append(f"returned {type(out).__name__}")
    else:
        if out.dtype != np.float32:
            problems.append(f"dtype {out.dtype}")
        expect = img.shape[:2]
        if out.shape[:2] != expect:
            problems.append(f"shape {out.shape} for input {img.shape}")
        if out.size and not np.isfinite(out).all():
            problems.append("non-finite values")
        elif out.size and (out.min() < 0 or out.max() > 1):
            problems.append(f"values outside [0, 1]: {out.min()}..{out.max()}")
    return {"outcome": "ok" if not problems else "bad-result", "message": "; ".join(problems)}


def run_cli(argv: list[str], cwd: str) -> dict:
    from imagewizard.cli.commands import main

    here = os.getcwd()
    out_f = tempfile.TemporaryFile()
    err_f = tempfile.TemporaryFile()
    saved = os.dup(1), os.dup(2)
    sys.stdout.flush()
    sys.stderr.flush()
    os.dup2(out_f.fileno(), 1)
    os.dup2(err_f.fileno(), 2)
    rc: object
    try:
        os.chdir(cwd)
        try:
            rc = main(list(argv))
        except SystemExit as exc:  # main() returns its code; a SystemExit escaping it is a finding
            rc = f"SystemExit({exc.code})"
        except BaseException as exc:  # noqa: BLE001
            import traceback

            traceback.print_exc()
            rc = f"raised {type(exc).__name__}"
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        os.close(saved[0])
        os.close(saved[1])
        os.chdir(here)
    texts = []
    for f in (out_f, err_f):
        f.seek(0)
        texts.append(f.read(200_000).decode("utf-8", "replace"))
        f.close()
    return {"rc": rc, "stdout": texts[0], "stderr": texts[1]}


def _selftest(action: str) -> dict:
    """Faults the runner must catch (only with IMAGEWIZARD_FUZZ_SELFTEST=1): proves the checks can fail."""
    if action == "hang":
        time.sleep(3600)
    if action == "crash":
        os.kill(os.getpid(), 11)
    return {
        "rc": 1,
        "stdout": "",
        "stderr": "error: one\nerror: two\n"
        if action == "multiline"
        else "Traceback (most recent call last):\nValueError: x\n",
    }


def serve() -> None:
    os.environ.setdefault("MPLBACKEND", "Agg")
    import imagewizard.cli.commands  # noqa: F401 - pay the import once, before the first timed case

    reply = os.fdopen(os.dup(1), "w", buffering=1)
    reply.write(json.dumps({"ready": True}) + "\n")
    for line in sys.stdin:
        req = json.loads(line)
        t0 = time.perf_counter()
        if req.get("selftest") and os.environ.get(SELFTEST_ENV) == "1":
            if req["selftest"] == "harm":
                with open(os.path.join(req["cwd"], req["argv"][1]), "ab") as fh:
                    fh.write(b"x")
                res = {"rc": 0, "stdout": "", "stderr": ""}
            else:
                res = _selftest(req["selftest"])
        elif req["kind"] == "api":
            res = run_api(req["api"])
        else:
            res = run_cli(req["argv"], req["cwd"])
        res["seconds"] = round(time.perf_counter() - t0, 3)
        reply.write(json.dumps(res) + "\n")


if __name__ == "__main__":
    serve()
