#!/usr/bin/env python
"""Probe for issue 17's speed bar: the flagship `unet-color` in PyTorch eager, in ONNX Runtime
(float32, same weights) and ONNX Runtime int8 (static QDQ quantisation, per-channel weights),
side by side in one run on this machine's cores, with the PSNR each gives.

Not part of the package: it needs ``pip install onnxruntime onnx`` in the venv. Calibration uses
noisy crops of the bundled samples (astronaut, chelsea, coffee; no test set); scoring uses 320x320
crops of astronaut and coffee at sigma 15 and 50 (float protocol).

Usage (from the repository root)::

    .venv/bin/python benchmarks/speed/onnx_probe.py [--threads 2] [--out /tmp/onnx-probe]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import time
from pathlib import Path

import numpy as np


def _psnr(a, b) -> float:
    return float(10 * np.log10(1.0 / np.mean((np.clip(a, 0, 1) - b) ** 2)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", type=Path, default=Path("/tmp/onnx-probe"))
    ap.add_argument("--seconds", type=float, default=3.0, help="timing window per variant")
    args = ap.parse_args()

    import onnx
    import onnxruntime as ort
    import torch
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    from imagewizard.models import zoo
    from imagewizard.samples import sample

    torch.set_num_threads(args.threads)
    args.out = args.out.resolve()
    args.out.mkdir(parents=True, exist_ok=True)
    model, _ = zoo.load("unet-color")
    model.eval()
    f32, pre, q8 = args.out / "unet.onnx", args.out / "unet-pre.onnx", args.out / "unet-int8.onnx"
    x0 = torch.rand(1, 3, 256, 256)
    s0 = torch.full((1,), 25 / 255.0)
    # sides are multiples of 8 below, so the traced graph's no-padding branch is the right one
    torch.onnx.export(
        model,
        (x0, s0),
        str(f32),
        input_names=["x", "sigma"],
        output_names=["y"],
        dynamic_axes={"x": {0: "n", 2: "h", 3: "w"}, "y": {0: "n", 2: "h", 3: "w"}, "sigma": {0: "n"}},
        dynamo=False,
        opset_version=17,
    )
    rng = np.random.default_rng(0)

    class Calibration(CalibrationDataReader):
        def __init__(self):
            items = []
            for name in ("astronaut", "chelsea", "coffee"):
                im = sample(name)
                for _ in range(4):
                    y, x = rng.integers(0, im.shape[0] - 128), rng.integers(0, im.shape[1] - 128)
                    s = float(rng.choice([15, 25, 50])) / 255
                    n = (im[y : y + 128, x : x + 128] + rng.normal(0, s, (128, 128, 3))).astype(np.float32)
                    items.append({"x": n.transpose(2, 0, 1)[None].copy(), "sigma": np.array([s], np.float32)})
            self.items = iter(items)

        def get_next(self):
            return next(self.items, None)

    quant_pre_process(str(f32), str(pre), skip_symbolic_shape=True)
    convs = [n.name for n in onnx.load(str(pre)).graph.node if n.op_type in ("Conv", "ConvTranspose")]
    # the quantiser drops temporary files into the working directory: keep them in --out
    with contextlib.chdir(args.out):
        quantize_static(
            str(pre),
            str(q8),
            Calibration(),
            quant_format=QuantFormat.QDQ,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            per_channel=True,
            nodes_to_exclude=[convs[0], convs[-1]],
        )

    so = ort.SessionOptions()
    so.intra_op_num_threads = args.threads
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")  # idle pools must not steal the cores

    def run_torch(x, s):
        with torch.inference_mode():
            return model(torch.from_numpy(x), torch.from_numpy(s)).numpy()

    def ort_runner(path):
        session = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
        return lambda x, s: session.run(None, {"x": x, "sigma": s})[0]

    # made one at a time, in turn, so that no variant is timed beside another's threads
    runners = {
        "torch-eager": lambda: run_torch,
        "onnxruntime-fp32": lambda: ort_runner(f32),
        "onnxruntime-int8": lambda: ort_runner(q8),
    }
    rows = []
    for label, make in runners.items():
        fn = make()
        row = {"variant": label}
        for sig in (15, 50):
            for name in ("astronaut", "coffee"):
                im = sample(name)[:320, :320]
                n = (im + np.random.default_rng(1).normal(0, sig / 255, im.shape)).astype(np.float32)
                y = fn(n.transpose(2, 0, 1)[None].copy(), np.array([sig / 255], np.float32))[0].transpose(1, 2, 0)
                row[f"psnr_{name}_s{sig}"] = round(_psnr(y, im), 2)
        x = np.random.default_rng(2).random((1, 3, 1024, 1024), dtype=np.float32)
        s = np.array([25 / 255], np.float32)
        fn(x[:, :, :256, :256], s)
        t0, k = time.perf_counter(), 0
        while time.perf_counter() - t0 < args.seconds:
            fn(x, s)
            k += 1
        row["mp_per_s_1mp"] = round(1024 * 1024 / 1e6 / ((time.perf_counter() - t0) / k), 2)
        rows.append(row)
        print(json.dumps(row))
    (args.out / "onnx-probe.json").write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
