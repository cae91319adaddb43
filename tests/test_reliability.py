"""Issue 15: no command harms an input, crashes, hangs or leaks an internal error.

Each case runs the real CLI entry point in-process and asserts the rules: exit code 1 or 2, one
``error:`` line on stderr, no traceback or exception class name, every input byte-identical.
"""

from __future__ import annotations

import hashlib
import os
import re

import numpy as np
import pytest
from PIL import Image

from imagewizard.io import files
from imagewizard.cli.commands import command_line_inputs, main
from imagewizard.core.errors import ImageReadError, ImageWriteError, ParameterError

LEAK = re.compile(r"Traceback|\b[A-Z][A-Za-z]+(Error|Exception)\b|internal error")


def _png(path, size=(24, 24), seed=0):
    a = (np.random.default_rng(seed).random((*size, 3)) * 255).astype(np.uint8)
    Image.fromarray(a).save(path)
    return path


def _digest(folder):
    out = {}
    for root, _dirs, names in os.walk(folder):
        for n in names:
            p = os.path.join(root, n)
            if os.path.isfile(p) and not os.path.islink(p):
                with open(p, "rb") as fh:
                    out[p] = hashlib.sha256(fh.read()).hexdigest()
    return out


def _refused(capsys, argv, *, rc=(1, 2)):
    code = main(argv)
    err = capsys.readouterr().err.strip()
    assert code in rc, (argv, code, err)
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert not LEAK.search(err), err
    return lines[0]


@pytest.fixture
def work(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for n in ("p-mask.png", "q.png", "r.png", "s.png", "t.png", "in.png"):
        _png(tmp_path / n)
    np.save(tmp_path / "a-kernel.npy", np.random.default_rng(1).random((24, 24)).astype(np.float32))
    return tmp_path


# every command, every file it can write, pointed at an input it reads
HARMS = [
    ["degrade", "p-mask.png", "-o", "p.png", "--mask", "box:0.25"],
    ["degrade", "a-kernel.npy", "-o", "a.npy", "--blur", "gaussian:1", "--float"],
    ["degrade", "in.png", "-o", "in.png", "--noise", "gaussian:5"],
    ["enhance", "q.png", "-o", "q_out.png", "--save-plan", "q.png"],
    ["enhance", "q.png", "-o", "q_out.png", "--save-plan", "./q.png"],
    ["enhance", "q.png", "-o", "q.png"],
    ["histogram", "r.png", "-o", "r.png"],
    ["compare", "s.png", "t.png", "-o", "s.png"],
    ["compare", "s.png", "t.png", "-o", "t.png"],
    ["denoise", "in.png", "-o", "in.png", "-m", "median"],
    ["denoise", "in.png", "-o", "./in.png", "-m", "median"],
    ["denoise", "in.png", "-o", "r.png", "-m", "median", "--ref", "r.png"],
    ["deblur", "in.png", "-o", "a-kernel.npy", "--kernel", "a-kernel.npy"],
    ["inpaint", "in.png", "-o", "p-mask.png", "--mask", "p-mask.png"],
    ["enhance", "in.png", "-o", "r.png", "-m", "match-histogram", "--reference", "r.png"],
]


@pytest.mark.parametrize("argv", HARMS, ids=lambda a: " ".join(a))
def test_no_command_writes_over_an_input(work, capsys, argv):
    before = _digest(work)
    _refused(capsys, argv)
    after = _digest(work)
    assert {p: h for p, h in after.items() if p in before} == before


def test_links_and_spellings_of_an_input_are_refused(work, capsys):
    os.symlink(work / "in.png", work / "link.png")
    os.link(work / "in.png", work / "hard.png")
    before = _digest(work)
    for out in ("link.png", "hard.png", str(work / "in.png"), "sub/../in.png"):
        (work / "sub").mkdir(exist_ok=True)
        _refused(capsys, ["denoise", "in.png", "-o", out, "-m", "median"])
    assert _digest(work) == {**before, **{p: h for p, h in _digest(work).items() if p not in before}}
    assert _digest(work)[str(work / "in.png")] == before[str(work / "in.png")]


def test_overwrite_lets_only_the_main_output_replace_the_main_input(work, capsys):
    assert main(["denoise", "in.png", "-o", "in.png", "-m", "median", "--overwrite"]) == 0
    capsys.readouterr()
    before = _digest(work)
    _refused(capsys, ["degrade", "p-mask.png", "-o", "p.png", "--mask", "box:0.25", "--overwrite"])
    assert _digest(work)[str(work / "p-mask.png")] == before[str(work / "p-mask.png")]


def test_fifo_inputs_are_refused_at_once(work, capsys):
    os.mkfifo(work / "fifo.png")
    os.mkfifo(work / "fifo.yaml")
    for argv in (
        ["info", "fifo.png"],
        ["inpaint", "in.png", "-o", "o.png", "--mask", "fifo.png"],
        ["run", "fifo.yaml", "in.png", "-o", "o.png"],
        ["deblur", "in.png", "-o", "o.png", "--kernel", "fifo.png"],
    ):
        line = _refused(capsys, argv)
        assert "named pipe" in line


def test_bm3d_never_sees_an_image_it_crashes_on(work, capsys):
    pytest.importorskip("bm3d")
    _png(work / "rgb8x8.png", size=(8, 8))
    line = _refused(capsys, ["denoise", "rgb8x8.png", "-o", "o.png", "-m", "bm3d", "--sigma", "25"])
    assert "at least 16x16" in line


def test_kernel_files_obey_the_pixel_limit(work, capsys, monkeypatch):
    Image.new("L", (300, 300)).save(work / "big.png")
    monkeypatch.setattr("imagewizard.physics.kernels.KERNEL_MAX_PIXELS", 200 * 200)
    line = _refused(capsys, ["deblur", "in.png", "-o", "o.png", "--kernel", "big.png", "-m", "inverse"])
    assert "exceeds the limit" in line


@pytest.mark.parametrize(
    "argv,needle",
    [
        (["batch", "IN", "OUT", "-m", "median", "--sigma", "abc"], "--sigma must be a number"),
        (["histogram", "in.png", "-o", "x"], "not a plot format"),
        (["enhance", "q.png", "-o", "q2.png", "--save-plan", "plan.txt"], ".yaml"),
        (["denoise", "in.png", "-o", "x" * 300 + ".png", "-m", "median"], "file name too long"),
        (["batch", "IN", "afile", "-m", "median"], "not a folder"),
        (["batch", "IN", "OUT", "-m", "nlm", "--sigma", "-5"], "[0, 255]"),
        (["degrade", "in.png", "-o", "d.png", "--downscale", "5"], "2, 3 or 4"),
        (["denoise", "in.png", "-o", "o.xyz", "-m", "median"], "unknown extension"),
        (["deblur", "in.png", "-o", "o.png", "-m", "wiener"], "--kernel"),
    ],
)
def test_bad_values_are_refused_before_any_work(work, capsys, argv, needle):
    (work / "IN").mkdir()
    _png(work / "IN" / "x.png")
    (work / "afile").write_text("x")
    line = _refused(capsys, argv)
    assert needle in line
    assert not (work / "OUT").exists() or not any((work / "OUT").iterdir())


@pytest.mark.parametrize(
    "step,needle",
    [
        ("{method: telea, mask: 5}", "field 'mask'"),
        ("{method: match-histogram, reference: 7}", "field 'reference'"),
        ("{method: nlm, sigma: -5}", "field 'sigma'"),
        ("{method: nlm, sigma: .nan}", "field 'sigma'"),
        ("{method: nlm, sigma: .inf}", "field 'sigma'"),
        ("{method: wiener, kernel: 'gaussian:-1'}", "field 'kernel'"),
        ("{method: wiener, kernel: 'nosuch.npy'}", "field 'kernel'"),
        ("{method: telea, mask: /nonexistent/m.png}", "file not found"),
        ("{method: median, params: {1: 2}}", "field 'params'"),
        ("{method: median, task: [1]}", "field 'task'"),
    ],
)
def test_pipelines_are_validated_at_load_with_step_and_field(work, capsys, step, needle):
    (work / "p.yaml").write_text(f"steps:\n  - {{method: median}}\n  - {step}\n")
    line = _refused(capsys, ["run", "p.yaml", "in.png", "-o", "o.png"])
    assert "step 2" in line and needle in line
    assert not (work / "o.png").exists()


def test_unusual_tiffs_are_refused(work):
    import tifffile

    tifffile.imwrite(
        work / "five.tif", np.zeros((16, 16, 5), np.uint8), photometric="minisblack", extrasamples=[0, 0, 0, 0]
    )
    tifffile.imwrite(work / "huge.tif", np.full((16, 16), 3e38, np.float32))
    from imagewizard.io import read

    with pytest.raises(ImageReadError, match="5 channels"):
        read(work / "five.tif")
    with pytest.raises(ImageReadError, match="not image intensities"):
        read(work / "huge.tif")


def test_decoder_chatter_stays_inside_the_one_line_error(work, capfd):
    data = bytearray((work / "in.png").read_bytes())
    i = data.find(b"IDAT") + 20
    data[i] ^= 0xFF
    (work / "bad.png").write_bytes(bytes(data))
    import tifffile

    noise = (np.random.default_rng(2).random((64, 64)) * 255).astype(np.uint8)
    tifffile.imwrite(work / "t.tif", noise, compression="zlib")
    with tifffile.TiffFile(work / "t.tif") as tif:
        start, count = tif.pages.first.dataoffsets[0], tif.pages.first.databytecounts[0]
    t = bytearray((work / "t.tif").read_bytes())
    t[start + count // 3 : start + count // 3 + 64] = bytes(64)  # a damaged deflate stream
    (work / "bad.tif").write_bytes(bytes(t))
    capfd.readouterr()
    for name in ("bad.png", "bad.tif"):
        assert main(["info", name]) == 1
        out = capfd.readouterr()
        lines = out.err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: cannot read"), out.err


def test_api_errors_are_plain_and_early():
    import warnings

    import imagewizard as iw

    with pytest.raises(ParameterError, match="at least 2x2"):
        iw.apply("denoise", np.zeros((1, 40), np.float32), "nlm")
    with pytest.raises(ParameterError, match="mask="):
        iw.inpaint(np.zeros((8, 8), np.float32), method="telea")
    with pytest.raises(ParameterError, match="kernel=") as err:
        iw.deblur(np.zeros((8, 8), np.float32))
    assert "--kernel" not in str(err.value)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        iw.denoise(np.zeros((16, 16), np.float32), "nlm", sigma=0.1)
    assert any("0..255 scale" in str(w.message) for w in caught)


def test_an_unexpected_failure_says_internal_error_without_class_names(work, capsys, monkeypatch):
    def boom(*a, **k):
        raise KeyError("surprise")

    monkeypatch.setattr("imagewizard.api.apply", boom)
    code = main(["denoise", "in.png", "-o", "o.png", "-m", "median"])
    err = capsys.readouterr().err.strip()
    assert code == 1 and err.startswith("error: internal error") and "KeyError" not in err
    assert "--verbose" in err and len(err.splitlines()) == 1


def test_command_line_inputs_skip_output_values(work):
    found = command_line_inputs(
        ["denoise", "in.png", "-o", "q.png", "--ref=r.png", "--output=s.png", "--kernel", "a-kernel.npy"]
    )
    assert found == ["in.png", "r.png", "a-kernel.npy"]


def test_the_guard_refuses_inputs_outside_the_cli(tmp_path):
    src = tmp_path / "in.txt"
    src.write_text("x")
    with files.guard():
        files.read_input_text(src)
        with pytest.raises(ImageWriteError, match="input"):
            files.atomic_write(src, b"y")
        with pytest.raises(ImageWriteError, match="input"), files.atomic_path(src) as tmp:
            tmp.write_bytes(b"y")
    assert src.read_text() == "x"
    assert not [p for p in tmp_path.iterdir() if p.name != "in.txt"]  # no temporary file left
    files.atomic_write(src, b"z")  # outside a guard, plain library use may rewrite a file
    assert src.read_text() == "z"


# ---------------------------------------------------------------------------- every command of the app


def _leaf_commands():
    import typer

    from imagewizard.cli.commands import app

    def walk(c, prefix):
        if getattr(c, "commands", None):
            for name, sub in c.commands.items():
                yield from walk(sub, prefix + [name])
        else:
            yield " ".join(prefix), c

    return dict(walk(typer.main.get_command(app), []))


#: For every command of the CLI, a command line for each file (or folder) it can write, aimed at a
#: file the same command reads. Commands that write nothing are listed in NO_WRITES.
WRITES = {
    "denoise": [
        ["denoise", "in.png", "-o", "in.png", "-m", "median"],
        ["denoise", "in.png", "-o", "r.png", "-m", "median", "--ref", "r.png"],
    ],
    "deblur": [["deblur", "in.png", "-o", "a-kernel.npy", "--kernel", "a-kernel.npy"]],
    "inpaint": [["inpaint", "in.png", "-o", "p-mask.png", "--mask", "p-mask.png"]],
    "enhance": [
        ["enhance", "q.png", "-o", "q.png"],
        ["enhance", "q.png", "-o", "o.png", "--save-plan", "q.png"],
        ["enhance", "in.png", "-o", "r.png", "-m", "match-histogram", "--reference", "r.png"],
    ],
    "degrade": [
        ["degrade", "in.png", "-o", "in.png", "--noise", "gaussian:5"],
        ["degrade", "p-mask.png", "-o", "p.png", "--mask", "box:0.25"],
        ["degrade", "a-kernel.npy", "-o", "a.npy", "--blur", "gaussian:1", "--float"],
    ],
    "histogram": [["histogram", "r.png", "-o", "r.png"]],
    "compare": [["compare", "s.png", "t.png", "-o", "t.png"]],
    "run": [["run", "p.yaml", "in.png", "-o", "p.yaml"], ["run", "p.yaml", "in.png", "-o", "in.png"]],
    "batch": [
        ["batch", "IN", "IN", "-m", "median"],
        ["batch", "IN", "IN/x.png", "-m", "median"],
        ["batch", "IN", "p.yaml", "--pipeline", "p.yaml"],
    ],
    "demo": [["demo", "-o", "in.png", "--quick"]],
    "upscale": [["upscale", "in.png", "-o", "in.png", "--scale", "2"]],
    "segment": [["segment", "in.png", "-o", "in.png"], ["segment", "in.png", "-o", "l.png", "--overlay", "in.png"]],
    "bench": [["bench", "--data", "IN", "-D", "gaussian:25", "--methods", "median", "--out", "IN/x.png"]],
    "generate": [["generate", "--model", "vae", "-n", "1", "--weights", "w.safetensors", "--out", "w.safetensors"]],
    "train denoiser": [
        ["train", "denoiser", "--data", "IN", "--steps", "1", "--patch", "16", "--out", "IN/x.png"],
        ["train", "denoiser", "--resume", "in.png", "--out", "in.png"],
    ],
    "train diffusion": [
        ["train", "diffusion", "--data", "IN", "--steps", "1", "--patch", "16", "--out", "IN/x.png"],
        ["train", "diffusion", "--resume", "in.png", "--out", "in.png"],
    ],
    "train generator": [["train", "generator", "--data", "IN", "--steps", "1", "--out", "IN/x.png"]],
    "train upscaler": [["train", "upscaler", "--resume", "in.png", "--out", "in.png"]],
}
NO_WRITES = {
    "methods": ["methods"],
    "models": ["models"],
    "tasks": ["tasks", "--json"],
    "metrics": ["metrics", "r.png", "s.png"],
    "info": ["info", "in.png"],
    "estimate-noise": ["estimate-noise", "in.png"],
}


#: Commands that write only into a temporary folder of their own (``serve``: uploads and results
#: under one ``mkdtemp`` folder, deleted with the server; tests/test_web_api.py checks both).
OWN_TEMP_ONLY = {"serve"}


def test_the_tables_cover_every_command_of_the_app():
    assert set(WRITES) | set(NO_WRITES) | OWN_TEMP_ONLY == set(_leaf_commands())


def _writable_options(command):
    names = {"output", "out", "save_plan", "resume", "out_dir"}
    return [tuple(p.opts) or (p.name,) for p in command.params if p.name in names]


@pytest.mark.parametrize("name", sorted(WRITES))
def test_each_writable_option_of_each_command_is_aimed_at_an_input(work, capsys, name):
    command = _leaf_commands()[name]
    aimed = {a for argv in WRITES[name] for a in argv}
    for opts in _writable_options(command):
        assert aimed & set(opts) or opts == ("out_dir",), f"{name}: {opts[0]} has no case"
    (work / "IN").mkdir()
    _png(work / "IN" / "x.png", size=(32, 32))
    (work / "p.yaml").write_text("steps:\n  - {method: median}\n")
    (work / "w.safetensors").write_bytes(b"not weights")
    before = _digest(work)
    for argv in WRITES[name]:
        _refused(capsys, argv)
        after = _digest(work)
        assert {p: h for p, h in after.items() if p in before} == before, argv


@pytest.mark.parametrize("name", sorted(NO_WRITES))
def test_commands_that_only_read_write_nothing(work, capsys, name):
    before = _digest(work)
    assert main(NO_WRITES[name]) == 0
    capsys.readouterr()
    assert _digest(work) == before
