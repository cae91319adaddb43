#!/usr/bin/env python
"""Which int8 quantisation of the flagship keeps its quality? (issue 17; ONNX Runtime, static QDQ)

Exports `unet-color` (through the package's own ONNX export), then for each variant quantises it
(per-channel int8 weights, calibrated on 18 noisy 128x128 crops of the bundled astronaut, chelsea
and coffee at sigma 5-75) and reports the mean PSNR on 256x256 crops of the same three photos at
sigma 15 / 25 / 50 (float protocol) and MP/s on a 512x512 input, on ``--threads`` threads:

* ``fp32``: the float graph (the reference);
* ``A``: every op quantised except the first and last convolutions;
* ``A-convonly``: only Conv/ConvTranspose quantised (the residual additions stay float);
* ``B-convonly``: as A-convonly, and the full-resolution (first-scale) blocks stay float too;
* ``A-pct`` / ``A-ent``: A-convonly with percentile / entropy calibration;
* ``A-s8``: A-convonly with signed int8 activations.

Needs onnxruntime and onnx (package dependencies). Usage (from the repository root)::

    .venv/bin/python benchmarks/speed/int8_variants.py [--threads 1] [--variants fp32,A,...]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import tempfile
import time
from pathlib import Path

import numpy as np

VARIANTS = ("fp32", "A", "A-convonly", "B-convonly", "A-pct", "A-ent", "A-s8")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--variants", default=",".join(VARIANTS))
    args = ap.parse_args()

    import onnx
    import onnxruntime as ort
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    from imagewizard.models import onnx_backend, zoo
    from imagewizard.samples import sample

    tmp = Path(tempfile.mkdtemp(prefix="iw-int8-"))
    f32, pre = tmp / "unet.onnx", tmp / "unet-pre.onnx"
    f32.write_bytes(onnx_backend.export(zoo.require("unet-color")))
    quant_pre_process(str(f32), str(pre), skip_symbolic_shape=True)
    convs = [n.name for n in onnx.load(str(pre)).graph.node if n.op_type in ("Conv", "ConvTranspose")]
    last_decoder = f"decoders.{sum(1 for n in convs if n.startswith('/ups.')) - 1}"
    first_scale = [n for n in convs if "encoders.0" in n or last_decoder in n]  # the full-resolution blocks
    ends = [convs[0], convs[-1]]
    only_convs = {"op_types_to_quantize": ["Conv", "ConvTranspose"]}
    configs = {
        "A": dict(nodes_to_exclude=ends),
        "A-convonly": dict(nodes_to_exclude=ends, **only_convs),
        "B-convonly": dict(nodes_to_exclude=ends + first_scale, **only_convs),
        "A-pct": dict(nodes_to_exclude=ends, calibrate_method=CalibrationMethod.Percentile, **only_convs),
        "A-ent": dict(nodes_to_exclude=ends, calibrate_method=CalibrationMethod.Entropy, **only_convs),
        "A-s8": dict(nodes_to_exclude=ends, activation_type=QuantType.QInt8, **only_convs),
    }

    class Calibration(CalibrationDataReader):
        def __init__(self):
            rng, items = np.random.default_rng(0), []
            for name in ("astronaut", "chelsea", "coffee"):
                im = sample(name)
                for _ in range(6):
                    y, x = rng.integers(0, im.shape[0] - 128), rng.integers(0, im.shape[1] - 128)
                    s = float(rng.choice([5, 15, 25, 50, 75])) / 255
                    n = (im[y : y + 128, x : x + 128] + rng.normal(0, s, (128, 128, 3))).astype(np.float32)
                    items.append({"x": n.transpose(2, 0, 1)[None].copy(), "sigma": np.array([s], np.float32)})
            self.items = iter(items)

        def get_next(self):
            return next(self.items, None)

    so = ort.SessionOptions()
    so.intra_op_num_threads = args.threads
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")

    def evaluate(path: Path) -> dict:
        sess = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
        row = {}
        for sig in (15, 25, 50):
            vals = []
            for name in ("astronaut", "coffee", "chelsea"):
                im = sample(name)[:256, :256]
                n = (im + np.random.default_rng(1).normal(0, sig / 255, im.shape)).astype(np.float32)
                feed = {"x": n.transpose(2, 0, 1)[None].copy(), "sigma": np.array([sig / 255], np.float32)}
                y = sess.run(None, feed)[0][0].transpose(1, 2, 0)
                vals.append(10 * np.log10(1 / np.mean((np.clip(y, 0, 1) - im) ** 2)))
            row[f"psnr_s{sig}"] = round(float(np.mean(vals)), 3)
        x = np.random.default_rng(2).random((1, 3, 512, 512), dtype=np.float32)
        feed = {"x": x, "sigma": np.array([25 / 255], np.float32)}
        sess.run(None, feed)
        t0, k = time.perf_counter(), 0
        while time.perf_counter() - t0 < 3:
            sess.run(None, feed)
            k += 1
        row["mp_per_s"] = round(512 * 512 / 1e6 / ((time.perf_counter() - t0) / k), 3)
        return row

    for variant in args.variants.split(","):
        path = f32
        if variant != "fp32":
            path = tmp / f"q-{variant}.onnx"
            cfg = dict(configs[variant])
            act = cfg.pop("activation_type", QuantType.QUInt8)
            with contextlib.chdir(tmp):  # the quantiser drops temporary files into the working folder
                quantize_static(
                    str(pre),
                    str(path),
                    Calibration(),
                    quant_format=QuantFormat.QDQ,
                    activation_type=act,
                    weight_type=QuantType.QInt8,
                    per_channel=True,
                    **cfg,
                )
        print(json.dumps({"variant": variant, **evaluate(path)}), flush=True)


if __name__ == "__main__":
    main()
