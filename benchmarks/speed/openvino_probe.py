#!/usr/bin/env python
"""Probe: OpenVINO against ONNX Runtime on the flagship's exported graph (issue 17; not shipped).

Runs the package's ONNX graph of `unet-color` on a 1024x1024 input with ONNX Runtime (the shipped
CPU backend) and with OpenVINO (a static 1024x1024 shape, LATENCY and THROUGHPUT hints, and a dynamic
shape as tiles of varying size would need), beside `cv2.fastNlMeansDenoisingColored`, two rounds
interleaved; also OpenVINO's import and compile time and its first call. Needs ``pip install
openvino`` (not a dependency). Usage (from the repository root)::

    .venv/bin/python benchmarks/speed/openvino_probe.py [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()

    import cv2
    import onnxruntime as ort

    from imagewizard.models import onnx_backend, zoo

    graph = Path(tempfile.mkdtemp(prefix="iw-ov-")) / "unet.onnx"
    graph.write_bytes(onnx_backend.export(zoo.require("unet-color")))
    x = np.random.default_rng(2).random((1, 3, 1024, 1024), dtype=np.float32)
    s = np.array([25 / 255], np.float32)
    feed = {"x": x, "sigma": s}

    def mps(fn, seconds=5.0):
        fn()
        t0, k = time.perf_counter(), 0
        while time.perf_counter() - t0 < seconds:
            fn()
            k += 1
        return round(x.shape[2] * x.shape[3] / 1e6 / ((time.perf_counter() - t0) / k), 3)

    so = ort.SessionOptions()
    so.intra_op_num_threads = args.threads
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    sess = ort.InferenceSession(str(graph), so, providers=["CPUExecutionProvider"])
    ref = sess.run(None, feed)[0]

    t0 = time.perf_counter()
    import openvino as ov

    t_import = time.perf_counter() - t0
    core = ov.Core()
    opts = {"INFERENCE_NUM_THREADS": args.threads}
    t0 = time.perf_counter()
    dynamic = core.compile_model(core.read_model(str(graph)), "CPU", {"PERFORMANCE_HINT": "LATENCY", **opts})
    t_compile = time.perf_counter() - t0
    dyn_req = dynamic.create_infer_request()
    t0 = time.perf_counter()
    dyn_req.infer(feed)
    t_first = time.perf_counter() - t0
    requests = {"openvino dynamic shape": dyn_req}
    for hint in ("LATENCY", "THROUGHPUT"):
        m = core.read_model(str(graph))
        m.reshape({"x": list(x.shape), "sigma": [1]})
        req = core.compile_model(m, "CPU", {"PERFORMANCE_HINT": hint, **opts}).create_infer_request()
        diff = float(np.abs(req.infer(feed)[0] - ref).max())
        requests[f"openvino static {hint}"] = req
        print(json.dumps({"variant": f"openvino static {hint}", "max_diff_vs_ort": diff}), flush=True)
    u8 = (x[0].transpose(1, 2, 0) * 255).astype(np.uint8)
    for r in range(2):
        row = {"round": r, "onnxruntime": mps(lambda: sess.run(None, feed))}
        for label, req in requests.items():
            row[label] = mps(lambda: req.infer(feed))
        row["cv2 nlm colored"] = mps(lambda: cv2.fastNlMeansDenoisingColored(u8, None, 10, 10, 7, 21))
        print(json.dumps({"mp_per_s": row}), flush=True)
    print(
        json.dumps(
            {
                "openvino_import_s": round(t_import, 2),
                "compile_s": round(t_compile, 2),
                "first_1mp_call_s": round(t_first, 2),
                "cpu": core.get_property("CPU", "FULL_DEVICE_NAME"),
            }
        )
    )


if __name__ == "__main__":
    main()
