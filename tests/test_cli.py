"""The command line, end to end: real files in, real files out, one-line errors."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from imagewizard.cli.commands import main


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    import skimage.data

    d = tmp_path_factory.mktemp("cli")
    Image.fromarray(skimage.data.camera()[128:384, 128:384]).save(d / "cam.png")
    Image.fromarray(skimage.data.astronaut()[:192, 160:352]).save(d / "astro.png")
    (d / "notes.txt").write_text("not an image")
    good = (d / "cam.png").read_bytes()
    (d / "truncated.png").write_bytes(good[: len(good) // 2])
    return d


def run(capsys, *args) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out = capsys.readouterr()
    return code, out.out, out.err


def digest(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def test_degrade_then_metrics_round_trip(files, tmp_path, capsys):
    noisy = tmp_path / "noisy.png"
    code, out, _ = run(capsys, "degrade", files / "cam.png", "-o", noisy, "--noise", "gaussian:25", "--seed", "0")
    assert code == 0 and "wrote" in out
    code, out, _ = run(capsys, "metrics", files / "cam.png", noisy, "--json")
    scores = json.loads(out)
    assert code == 0 and set(scores) >= {"psnr", "ssim", "mse"}
    assert 20.1 <= scores["psnr"] <= 20.8  # 20.17 dB before clipping; clipping raises it a little
    # The float protocol keeps the noise unclipped: exactly the textbook value within sampling error.
    raw = tmp_path / "noisy.npy"
    assert run(capsys, "degrade", files / "cam.png", "-o", raw, "--noise", "gaussian:25", "--float")[0] == 0
    assert np.load(raw).min() < 0
    _, out, _ = run(capsys, "metrics", files / "cam.png", raw, "--json")
    assert json.loads(out)["psnr"] == pytest.approx(20 * np.log10(255 / 25), abs=0.08)


def test_degrade_writes_mask_and_kernel(files, tmp_path, capsys):
    out_img = tmp_path / "hurt.png"
    code, out, _ = run(capsys, "degrade", files / "astro.png", "-o", out_img, "--blur", "motion:9,45", "--mask", "text")
    assert code == 0
    mask = np.asarray(Image.open(tmp_path / "hurt-mask.png"))
    kernel = np.load(tmp_path / "hurt-kernel.npy")
    assert 0.02 < (mask > 0).mean() < 0.5
    assert kernel.sum() == pytest.approx(1.0)
    code, out, _ = run(
        capsys,
        "inpaint",
        out_img,
        "--mask",
        tmp_path / "hurt-mask.png",
        "-o",
        tmp_path / "fixed.png",
        "--method",
        "telea",
        "--ref",
        files / "astro.png",
        "--json",
    )
    if code == 0:  # inpainting methods land with the classical suite
        rec = json.loads(out)
        assert rec["after"]["psnr"] > rec["before"]["psnr"]


def test_denoise_reports_and_improves(files, tmp_path, capsys):
    noisy = tmp_path / "sp.png"
    run(capsys, "degrade", files / "cam.png", "-o", noisy, "--noise", "salt-pepper:0.1")
    code, out, _ = run(
        capsys,
        "denoise",
        noisy,
        "-o",
        tmp_path / "clean.png",
        "--method",
        "median",
        "size=3",
        "--ref",
        files / "cam.png",
        "--json",
    )
    rec = json.loads(out)
    assert code == 0 and rec["params"] == {"size": 3}
    assert rec["after"]["psnr"] > rec["before"]["psnr"] + 10
    assert (tmp_path / "clean.png").is_file()


@pytest.mark.parametrize(
    "args, message",
    [
        (["denoise", "{d}/missing.png", "-o", "{t}/o.png", "-m", "median"], "missing.png"),
        (["denoise", "{d}/notes.txt", "-o", "{t}/o.png", "-m", "median"], "notes.txt"),
        (["denoise", "{d}/truncated.png", "-o", "{t}/o.png", "-m", "median"], "truncated.png"),
        (["denoise", "{d}/cam.png", "-o", "{t}/o.png", "-m", "nope"], "unknown denoise method 'nope'"),
        (["denoise", "{d}/cam.png", "-o", "{t}/o.png", "-m", "median", "size=abc"], "median.size"),
        (["denoise", "{d}/cam.png", "-o", "{t}/o.png", "-m", "median", "width=3"], "no parameter 'width'"),
        (["denoise", "{d}/cam.png", "-o", "{t}/o.png", "-m", "median", "--sigma", "10"], "does not use a noise level"),
        (["denoise", "{d}/cam.png", "-o", "{t}/o.xyz", "-m", "median"], "o.xyz"),
        (["degrade", "{d}/cam.png", "-o", "{t}/o.png", "--noise", "gaussian:-5"], "sigma"),
        (["degrade", "{d}/cam.png", "-o", "{t}/o.png", "--noise", "rainbow:3"], "rainbow"),
        (["degrade", "{d}/cam.png", "-o", "{t}/o.png"], "nothing to do"),
        (["degrade", "{d}/cam.png", "-o", "{t}/o.png", "--noise", "gaussian:5", "--float"], ".npy"),
        (["metrics", "{d}/cam.png", "{d}/astro.png"], "shape"),
        (["methods", "--task", "paint"], "unknown task"),
    ],
)
def test_bad_input_gives_one_line_error(files, tmp_path, capsys, args, message):
    before = {p.name: digest(p) for p in files.iterdir()}
    code, out, err = run(capsys, *[a.format(d=files, t=tmp_path) for a in args])
    assert code == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], err
    assert "Traceback" not in err
    assert {p.name: digest(p) for p in files.iterdir()} == before  # nothing harmed
    assert not list(tmp_path.glob("o.*")) and not list(tmp_path.glob(".*"))  # nothing half-written


def test_never_overwrites_the_input_unless_asked(files, tmp_path, capsys):
    src = tmp_path / "in.png"
    src.write_bytes((files / "cam.png").read_bytes())
    before = digest(src)
    code, _, err = run(capsys, "denoise", src, "-o", src, "-m", "median")
    assert code == 1 and "--overwrite" in err and digest(src) == before
    code, _, _ = run(capsys, "denoise", src, "-o", src, "-m", "median", "--overwrite")
    assert code == 0 and digest(src) != before


def test_usage_errors_exit_2_in_one_line(files, capsys):
    code, _, err = run(capsys, "denoise", files / "cam.png")
    assert code == 2 and len(err.strip().splitlines()) == 1 and "--output" in err
    code, _, err = run(capsys, "frobnicate")
    assert code == 2 and err.startswith("error:")


def test_methods_listing(capsys):
    code, out, _ = run(capsys, "methods", "--json")
    ms = json.loads(out)
    assert code == 0
    names = {(m["task"], m["name"]) for m in ms}
    assert {("denoise", "median"), ("denoise", "box"), ("denoise", "gaussian")} <= names
    med = next(m for m in ms if m["name"] == "median")
    assert med["params"][0]["name"] == "size" and "range" in med["params"][0]
    code, out, _ = run(capsys, "methods", "--task", "denoise")
    assert code == 0 and "median" in out


def test_task_help_lists_methods_from_the_registry(capsys):
    code, out, _ = run(capsys, "denoise", "--help")
    assert code == 0 and "median" in out and "size=3" in out


def test_info_histogram_compare(files, tmp_path, capsys):
    code, out, _ = run(capsys, "info", files / "astro.png", "--json")
    rec = json.loads(out)
    assert code == 0 and rec["file"]["width"] == 192 and rec["file"]["height"] == 192
    assert "noise_sigma" in json.dumps(rec["analysis"])
    code, _, _ = run(capsys, "histogram", files / "astro.png", "-o", tmp_path / "h.png")
    assert code == 0 and Image.open(tmp_path / "h.png").size[0] > 100
    noisy = tmp_path / "n.png"
    run(capsys, "degrade", files / "astro.png", "-o", noisy, "--noise", "gaussian:15")
    code, _, _ = run(
        capsys, "compare", files / "astro.png", noisy, "-o", tmp_path / "grid.png", "--ref", files / "astro.png"
    )
    assert code == 0 and Image.open(tmp_path / "grid.png").size[0] > 200


def test_estimate_noise_command(files, tmp_path, capsys):
    noisy = tmp_path / "n.npy"
    run(capsys, "degrade", files / "astro.png", "-o", noisy, "--noise", "gaussian:20", "--float")
    code, out, _ = run(capsys, "estimate-noise", noisy, "--json")
    rec = json.loads(out)
    assert code == 0 and rec["sigma"] == pytest.approx(20, abs=2.5) and rec["type"] == "gaussian"


def test_console_script_exit_codes(files, tmp_path):
    exe = Path(sys.executable).with_name("imagewizard")
    if not exe.exists():
        pytest.skip("console script not installed")
    r = subprocess.run(
        [str(exe), "metrics", str(files / "missing.png"), str(files / "cam.png")], capture_output=True, text=True
    )
    assert r.returncode == 1 and r.stderr.count("\n") == 1 and "missing.png" in r.stderr
    r = subprocess.run([str(exe), "--version"], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.startswith("imagewizard ")


def test_wizard_with_nothing_to_do_copies_the_file_and_quality_is_a_cli_option(capsys, tmp_path):
    from PIL import Image

    from imagewizard.samples import sample

    src = tmp_path / "clean.jpg"
    Image.fromarray((sample("astronaut") * 255).astype(np.uint8)).save(src, quality=92)
    code, out, _ = run(capsys, "enhance", str(src), "-o", str(tmp_path / "same.jpg"))
    assert code == 0 and "nothing to do" in out and "copied byte for byte" in out
    assert (tmp_path / "same.jpg").read_bytes() == src.read_bytes()
    # a quality asked for means an encode, at that quality
    code, out, _ = run(capsys, "enhance", str(src), "-o", str(tmp_path / "q.jpg"), "--quality", "50")
    assert code == 0 and "copied" not in out
    import imagewizard.io as iio

    assert iio.read(tmp_path / "q.jpg")[1].jpeg_quality == 50
    code, out, err = run(
        capsys, "denoise", str(src), "-o", str(tmp_path / "d.jpg"), "-m", "median", "--subsampling", "4:1:1"
    )
    assert code != 0 and "subsampling" in (out + err) and "Traceback" not in (out + err)


def test_the_demo_names_the_faster_of_two_methods_that_tie():
    # anscombe and the wizard often hand Gaussian noise to unet and give exactly its result, slower
    from imagewizard.demo import _best

    rows = [
        {"method": "(degraded input)", "psnr": 20.0, "seconds": 0.0},
        {"method": "anscombe", "psnr": 32.1301, "seconds": 1.0},
        {"method": "unet", "psnr": 32.1299, "seconds": 0.5},
        {"method": "bm3d", "psnr": 31.0, "seconds": 18.0},
        {"method": "broken", "error": "failed"},
    ]
    assert _best(rows)["method"] == "unet"
    rows[2]["psnr"] = 32.12  # a real 0.01 dB difference still wins
    assert _best(rows)["method"] == "anscombe"
