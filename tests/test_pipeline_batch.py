"""Pipelines (`imagewizard run`) and batch processing (`imagewizard batch`), end to end on tiny files."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from PIL import Image

import imagewizard as iw
from imagewizard.run.batch import LOG_NAME, read_log, run_batch
from imagewizard.cli.commands import main
from imagewizard.core.errors import ParameterError
from imagewizard.run.pipeline import Pipeline, single_step

PIPE = {
    "steps": [
        {"method": "median", "params": {"size": 3}},
        {"task": "denoise", "method": "wavelet", "sigma": 10},
        {"method": "gamma", "params": {"gamma": 0.8}},
    ]
}


def _noisy(h=48, w=64, seed=0):
    from imagewizard.samples import sample

    clean = sample("astronaut")[100 : 100 + h, 150 : 150 + w]
    rng = np.random.default_rng(seed)
    return clean, np.clip(clean + rng.normal(0, 0.08, clean.shape), 0, 1).astype(np.float32)


@pytest.fixture()
def folder(tmp_path):
    """A small tree: RGB PNG, RGBA PNG, 16-bit gray PNG, a JPEG with EXIF orientation, a corrupt file."""
    d = tmp_path / "in"
    (d / "sub").mkdir(parents=True)
    _, n = _noisy()
    u8 = (n * 255).round().astype(np.uint8)
    Image.fromarray(u8).save(d / "rgb.png")
    Image.fromarray(
        np.dstack([u8, np.linspace(0, 255, u8.shape[1], dtype=np.uint8)[None].repeat(u8.shape[0], 0)])
    ).save(d / "rgba.png")
    Image.fromarray((n[..., 1] * 65535).round().astype(np.uint16)).save(d / "sub" / "gray16.png")
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees on display
    Image.fromarray(u8).save(d / "sub" / "turned.jpg", exif=exif.tobytes(), quality=95)
    (d / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    return d


def test_pipeline_equals_the_steps_run_by_hand(tmp_path):
    _, img = _noisy()
    p = Pipeline.from_dict(PIPE)
    out, records = p.run(img)
    expected = iw.denoise(img, method="median", size=3)
    expected = iw.denoise(expected, method="wavelet", sigma=10)
    expected = iw.enhance(expected, method="gamma", gamma=0.8)
    np.testing.assert_array_equal(out, expected)
    assert [r["method"] for r in records] == ["median", "wavelet", "gamma"]
    assert records[1]["sigma"] == 10 and records[0]["params"] == {"size": 3}
    # YAML and JSON files round-trip to the same pipeline
    for name in ("p.yaml", "p.json"):
        assert Pipeline.load(p.save(tmp_path / name)) == p


@pytest.mark.parametrize(
    "spec, message",
    [
        ({"steps": [{"method": "nlm", "prams": {}}]}, "step 1: unknown field 'prams'"),
        (
            {"steps": [{"method": "median"}, {"method": "nlm", "params": {"h": -1}}]},
            r"step 2 \(denoise nlm\): parameter",
        ),
        ({"steps": [{"method": "no-such-method"}]}, "step 1: unknown method 'no-such-method'"),
        ({"steps": [{"method": "median", "sigma": 25}]}, "does not use a noise level"),
        ({"steps": [{"method": "telea"}]}, "field 'mask' is required"),
        ({"steps": [{"method": "nlm", "sigma": "loud"}]}, "field 'sigma' must be a number"),
        ({"steps": []}, "'steps' must be a non-empty list"),
    ],
)
def test_invalid_pipelines_name_the_step_and_field(spec, message):
    with pytest.raises(ParameterError, match=message):
        Pipeline.from_dict(spec)


def test_invalid_files(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("steps: [\n")
    with pytest.raises(ParameterError, match="bad.yaml: not valid YAML"):
        Pipeline.load(bad)
    with pytest.raises(ParameterError, match="pipeline file .*missing.json: file not found"):
        Pipeline.load(tmp_path / "missing.json")


def test_mask_template_is_resolved_beside_the_input(tmp_path):
    clean, _ = _noisy()
    mask = np.zeros(clean.shape[:2], bool)
    mask[20:24, :] = True
    damaged = clean.copy()
    damaged[mask] = 0
    iw.write(tmp_path / "photo.png", damaged)
    iw.write(tmp_path / "photo-mask.png", mask.astype(np.float32))
    p = Pipeline.from_dict({"steps": [{"method": "telea", "mask": "{stem}-mask.png"}]})
    img, _ = iw.read(tmp_path / "photo.png")
    out, _ = p.run(img, source=tmp_path / "photo.png")
    assert iw.metrics.psnr(clean, out) > iw.metrics.psnr(clean, img) + 5
    with pytest.raises(ParameterError, match="mask file not found"):
        p.run(img, source=tmp_path / "other.png")


def test_cli_run(tmp_path, capsys):
    _, img = _noisy()
    iw.write(tmp_path / "in.png", img)
    Pipeline.from_dict(PIPE).save(tmp_path / "p.yaml")
    assert main(["run", str(tmp_path / "p.yaml"), str(tmp_path / "in.png"), "-o", str(tmp_path / "out.png")]) == 0
    assert "2. denoise wavelet, sigma 10.00" in capsys.readouterr().out
    assert (tmp_path / "out.png").is_file()
    (tmp_path / "bad.yaml").write_text("steps:\n  - {method: nlm, params: {h: -1}}\n")
    assert main(["run", str(tmp_path / "bad.yaml"), str(tmp_path / "in.png"), "-o", str(tmp_path / "o2.png")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "step 1 (denoise nlm)" in err
    assert not (tmp_path / "o2.png").exists()


def test_batch_mirrors_tree_keeps_formats_and_resumes(folder, tmp_path):
    out = tmp_path / "out"
    p = Pipeline.from_dict(PIPE)
    summary = run_batch(folder, out, p)
    assert (summary["ok"], summary["error"], summary["skipped"]) == (4, 1, 0)
    for rel in ("rgb.png", "rgba.png", "sub/gray16.png", "sub/turned.jpg"):
        src_img, src_meta = iw.read(folder / rel)
        got, meta = iw.read(out / rel)
        assert got.shape == src_img.shape and meta.bit_depth == src_meta.bit_depth and meta.format == src_meta.format
    assert iw.read(out / "sub" / "gray16.png")[1].bit_depth == 16
    # alpha is carried through untouched; colour is what the pipeline gives
    src, src_meta = iw.read(folder / "rgba.png")  # colour; the alpha plane is in the meta record
    got, meta = iw.read(out / "rgba.png")
    assert meta.has_alpha
    np.testing.assert_array_equal(meta.alpha, src_meta.alpha)
    expected, _ = p.run(src)
    assert np.abs(got - expected).max() <= 0.5 / 255 + 1e-6
    # the JPEG was turned upright on reading (EXIF orientation 6 swaps height and width)
    assert iw.read(out / "sub" / "turned.jpg")[0].shape[:2] == (64, 48)
    log = read_log(out)
    assert sorted(r["input"] for r in log if r["status"] == "ok") == [
        "rgb.png",
        "rgba.png",
        "sub/gray16.png",
        "sub/turned.jpg",
    ]
    (bad,) = [r for r in log if r["status"] == "error"]
    assert bad["input"] == "broken.png" and "broken.png" in bad["error"] and not (out / "broken.png").exists()
    # a second run redoes nothing that finished: only the broken file is retried
    mtimes = {f: f.stat().st_mtime_ns for f in out.rglob("*") if f.is_file() and f.name != LOG_NAME}
    again = run_batch(folder, out, p)
    assert (again["ok"], again["error"], again["skipped"]) == (0, 1, 4)
    assert mtimes == {f: f.stat().st_mtime_ns for f in out.rglob("*") if f.is_file() and f.name != LOG_NAME}
    assert len(read_log(out)) == len(log) + 1


def test_two_workers_give_the_same_files_as_one(folder, tmp_path):
    p = single_step("wavelet", sigma="auto")
    run_batch(folder, tmp_path / "one", p, workers=1)
    summary = run_batch(folder, tmp_path / "two", p, workers=2)
    assert summary["ok"] == 4 and summary["workers"] == 2
    for f in (tmp_path / "one").rglob("*.*"):
        if f.name != LOG_NAME:
            assert f.read_bytes() == (tmp_path / "two" / f.relative_to(tmp_path / "one")).read_bytes(), f


def test_cli_batch_exit_codes_and_summary(folder, tmp_path, capsys):
    out = tmp_path / "out"
    rc = main(["batch", str(folder), str(out), "--method", "median", "size=3", "--pattern", "*.png", "--json"])
    summary = json.loads(capsys.readouterr().out)
    assert rc == 1 and summary["ok"] == 3 and summary["error"] == 1  # the broken file fails the run
    assert main(["batch", str(folder), str(out), "--method", "median", "--pipeline", "x.yaml"]) == 1
    assert "exactly one of --pipeline and --method" in capsys.readouterr().err
    assert main(["batch", str(folder), str(folder), "--method", "median"]) == 1
    assert "must differ from the input folder" in capsys.readouterr().err


@pytest.mark.slow
def test_a_killed_batch_leaves_no_partial_output_and_resumes(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    _, img = _noisy(256, 256)
    n = 16
    for i in range(n):
        iw.write(src / f"img{i:02d}.png", np.roll(img, 7 * i, axis=1))
    out = tmp_path / "out"
    cmd = [
        sys.executable,
        "-c",
        "import sys; from imagewizard.cli.commands import main; sys.exit(main(sys.argv[1:]))",
        "batch",
        str(src),
        str(out),
        "--method",
        "wavelet",
        "shifts=8",
        "--json",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while time.time() < deadline and len(read_log(out)) < 2:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    finished = {r["input"] for r in read_log(out) if r["status"] == "ok"}
    assert 2 <= len(finished) < n
    written = sorted(f.name for f in out.iterdir() if f.name != LOG_NAME)
    assert set(written) >= finished
    for name in written:  # whatever exists is a complete image (temporary files are hidden and unlisted)
        if not name.startswith("."):
            assert iw.read(out / name)[0].shape == img.shape
    summary = run_batch(src, out, single_step("median"))  # resume: only the missing ones run
    assert summary["skipped"] == len([n for n in written if not n.startswith(".")]) and summary["error"] == 0
    assert summary["ok"] + summary["skipped"] == n


@pytest.mark.slow
def test_a_dask_local_cluster_gives_the_same_files_and_log_as_a_local_run(folder, tmp_path, capsys):
    distributed = pytest.importorskip("distributed")
    from imagewizard.run.cluster import connect, parse_cluster

    p = single_step("wavelet", sigma="auto")
    run_batch(folder, tmp_path / "local", p, workers=1)
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
    ) as cluster:
        assert cluster.scheduler_address.startswith("tcp://127.0.0.1:")
        summary = run_batch(folder, tmp_path / "dask", p, cluster=cluster.scheduler_address)
        assert summary["ok"] == 4 and summary["error"] == 1 and summary["workers"] == 2
        again = run_batch(folder, tmp_path / "dask", p, cluster=cluster.scheduler_address)
        assert again["ok"] == 0 and again["skipped"] == 4  # resume: nothing redone, the corrupt file retried
    for f in (tmp_path / "local").rglob("*.*"):
        if f.name != LOG_NAME:
            assert f.read_bytes() == (tmp_path / "dask" / f.relative_to(tmp_path / "local")).read_bytes(), f
    log = read_log(tmp_path / "dask")
    assert sorted(r["input"] for r in log if r["status"] == "error") == ["broken.png", "broken.png"]
    assert parse_cluster("local:3") == ("local", 3)
    with pytest.raises(ParameterError, match="tcp://host:8786"):
        parse_cluster("8786")
    capsys.readouterr()
    assert (
        main(
            ["batch", str(folder), str(tmp_path / "x"), "--method", "median", "--workers", "2", "--cluster", "local:2"]
        )
        == 1
    )
    assert "not both" in capsys.readouterr().err
    assert main(["batch", str(folder), str(tmp_path / "x"), "--method", "median", "--cluster", "8786"]) == 1
    assert "tcp://host:8786" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
    with connect("local:1") as client:  # the local:N form starts (and stops) its own cluster on 127.0.0.1
        assert client.scheduler.address.startswith("tcp://127.0.0.1:")


@pytest.mark.slow
def test_large_images_run_local_methods_in_tiles_with_the_same_result():
    _, img = _noisy(200, 150)
    for spec in (
        {"method": "median", "params": {"size": 5}},
        {"method": "nlm", "sigma": "auto"},
        {"method": "tv", "sigma": "auto"},
        {"method": "wavelet", "sigma": "auto"},
    ):
        p = Pipeline.from_dict({"steps": [spec]})
        whole, rec_whole = p.run(img)
        tiled, rec_tiled = p.run(img, tile_above=10_000, tile=64)
        assert "tiles" in rec_tiled[0] and "tiles" not in rec_whole[0]
        assert rec_tiled[0]["sigma"] == rec_whole[0]["sigma"]  # estimated once, on the whole image
        diff = np.abs(tiled - whole)
        if spec["method"] == "wavelet":
            # subband thresholds are estimated per tile, and the whole-image transform wraps around at
            # the image border: close, not identical
            assert diff[16:-16, 16:-16].mean() < 0.006
        else:
            assert diff.max() < 1e-5, spec["method"]
    # a global method (percentile stretch) is never tiled
    _, rec = Pipeline.from_dict({"steps": [{"method": "stretch"}]}).run(img, tile_above=10_000, tile=64)
    assert "tiles" not in rec[0]


def test_batch_with_neither_pipeline_nor_method_runs_the_wizard_per_image(tmp_path):
    """Issue 16: the main job over a folder; each image's log line holds its own plan and reasons."""
    import json

    from PIL import Image

    from imagewizard import apply
    from imagewizard.cli.commands import main
    from imagewizard.io import read

    rng = np.random.default_rng(3)
    (tmp_path / "in").mkdir()
    clean = np.clip(0.5 + 0.3 * np.sin(np.mgrid[0:64, 0:64][1] / 5.0), 0, 1)
    noisy = np.clip(clean + rng.normal(0, 25 / 255, clean.shape), 0, 1)
    Image.fromarray((noisy * 255).round().astype(np.uint8)).save(tmp_path / "in" / "noisy.png")
    Image.fromarray((clean * 0.3 * 255 + 60).astype(np.uint8)).save(tmp_path / "in" / "dull.png")
    assert main(["batch", str(tmp_path / "in"), str(tmp_path / "out")]) == 0
    log = {
        r["input"]: r for r in map(json.loads, (tmp_path / "out" / "imagewizard-batch.jsonl").read_text().splitlines())
    }
    assert log["noisy.png"]["plan"] and log["noisy.png"]["plan"][0]["task"] == "denoise" and log["noisy.png"]["reasons"]
    assert log["dull.png"]["plan"] != log["noisy.png"]["plan"]  # a plan per image, not one for all
    for name in ("noisy.png", "dull.png"):  # the same result as the wizard method on that image
        img, _ = read(tmp_path / "in" / name)
        out, _ = read(tmp_path / "out" / name)
        want = np.round(apply("enhance", img, "wizard") * 255) / 255
        np.testing.assert_allclose(out, want, atol=1 / 255 + 1e-6)
    assert main(
        [
            "batch",
            str(tmp_path / "in"),
            str(tmp_path / "o2"),
            "--method",
            "median",
            "--pipeline",
            str(tmp_path / "x.yaml"),
        ]
    ) in (1, 2)
