"""Issue 16: a task is declared once; its API function, CLI command, pipeline step and benchmark
come from the declaration. The toy task below lives in this file alone."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

import imagewizard as iw
from imagewizard.core import registry
from imagewizard.core import task as T
from imagewizard.core.registry import Param, register


def resolve_gain(value, shape):
    """The toy task's extra input: a positive number."""
    try:
        g = float(value)
    except (TypeError, ValueError):
        raise iw.ImageWizardError(f"gain must be a number, got {value!r}") from None
    if not g > 0:
        raise iw.ImageWizardError(f"gain must be positive, got {g}")
    return g


GAIN = T.Input(
    "gain",
    "contrast gain of the inverted image (a positive number)",
    cli_help="contrast gain",
    cli_needs="--gain NUMBER",
    resolve=f"{__name__}:resolve_gain",
    files=False,
    primary=False,
)


def flip(img, *, offset=0.0, gain=1.0):
    return np.clip((1.0 - img) * gain + offset, 0, 1)


@pytest.fixture
def toy():
    """Declare task 'invert' with one method, then take it away again (other tests see the real app)."""
    from imagewizard.cli import commands as cli

    T.declare_task(
        T.Task(
            "invert",
            "Invert an image (a task declared in a test).",
            inputs=(GAIN,),
            default_method="flip",
            rank=99,
            example="imagewizard invert in.png -o out.png",
        )
    )
    register(
        "invert",
        "flip",
        "One minus the image, times the gain, plus an offset.",
        accepts=["gain"],
        params=[Param("offset", float, 0.0, "added after inverting (0..1 scale)", low=-1, high=1)],
    )(flip)
    yield
    T._TASKS.pop("invert", None)
    registry._REGISTRY.pop(("invert", "flip"), None)
    cli.app.registered_commands[:] = [c for c in cli.app.registered_commands if c.name != "invert"]
    cli._MOUNTED.discard("invert")
    iw.api.__dict__.pop("invert", None)
    iw.__dict__.pop("invert", None)


def _img():
    return np.random.default_rng(0).random((24, 24)).astype(np.float32)


def test_the_api_function_comes_from_the_declaration(toy):
    img = _img()
    out = iw.invert(img, gain=0.5, offset=0.1)
    np.testing.assert_allclose(out, np.clip((1 - img) * 0.5 + 0.1, 0, 1), atol=1e-6)
    assert iw.apply("invert", img, "flip").dtype == np.float32
    doc = iw.invert.__doc__
    assert "Invert an image" in doc and "``flip``" in doc and "offset=0.0 [-1, 1]" in doc and "gain" in doc
    with pytest.raises(iw.ImageWizardError, match="positive"):
        iw.invert(img, gain=-1)
    with pytest.raises(iw.ImageWizardError, match="nosuch"):
        iw.invert(img, method="nosuch")


def test_the_cli_command_comes_from_the_declaration(toy, tmp_path, capsys):
    from imagewizard.cli.commands import main

    img = (_img() * 255).astype(np.uint8)
    Image.fromarray(img).save(tmp_path / "in.png")
    assert main(["invert", str(tmp_path / "in.png"), "-o", str(tmp_path / "out.png"), "--gain", "1", "offset=0"]) == 0
    out = np.asarray(Image.open(tmp_path / "out.png"))
    np.testing.assert_array_equal(out, 255 - img)
    assert main(["invert", "--help"]) == 0
    text = capsys.readouterr().out
    assert "--gain" in text and "flip" in text and "imagewizard invert in.png" in text
    assert main(["invert", str(tmp_path / "in.png"), "-o", str(tmp_path / "o2.png"), "--gain", "-3"]) == 1
    assert "gain must be positive" in capsys.readouterr().err
    assert main(["tasks", "--json"]) == 0
    tasks = {t["name"]: t for t in json.loads(capsys.readouterr().out)}
    assert tasks["invert"]["methods"] == ["flip"] and tasks["invert"]["inputs"][0]["name"] == "gain"
    assert list(tasks)[:4] == ["denoise", "deblur", "inpaint", "enhance"]


def test_the_pipeline_step_comes_from_the_declaration(toy):
    from imagewizard.run.pipeline import Pipeline

    p = Pipeline.from_dict(
        {
            "steps": [
                {"task": "invert", "method": "flip", "gain": 2, "params": {"offset": -0.5}},
                {"method": "median", "params": {"size": 1}},
            ]
        }
    )
    img = _img()
    out, records = p.run(img)
    np.testing.assert_allclose(out, np.clip((1 - img) * 2 - 0.5, 0, 1), atol=1e-6)
    assert p.to_dict()["steps"][0]["gain"] == 2 and records[0]["task"] == "invert"
    with pytest.raises(iw.ImageWizardError, match="field 'gain'"):
        Pipeline.from_dict({"steps": [{"task": "invert", "method": "flip", "gain": -1}]})
    with pytest.raises(iw.ImageWizardError, match="gain"):  # the allowed fields list the new input
        Pipeline.from_dict({"steps": [{"method": "median", "gian": 1}]})


def test_the_benchmark_runs_the_declared_task(toy, tmp_path):
    from imagewizard.bench.runner import BenchConfig, run_bench

    res = run_bench(
        BenchConfig(
            data="tiny",
            degradations=["gaussian:10"],
            methods="flip",
            task="invert",
            limit=1,
            out=tmp_path / "b",
            workers=0,
            crops=0,
        ),
        progress=False,
    )
    recs = [r for r in res.records if r["method"] == "flip"]
    assert recs and all(r["task"] == "invert" and r["psnr"] is not None and r["ssim"] is not None for r in recs)


def test_nothing_lists_the_tasks_a_second_time():
    from imagewizard import api
    from imagewizard.cli import commands as cli
    from imagewizard.run import pipeline

    names = T.task_names()
    assert names == ("denoise", "deblur", "inpaint", "enhance", "upscale", "segment")
    assert registry.TASKS == names and dict(api.DEFAULT_METHODS) == {t.name: t.default_method for t in T.all_tasks()}
    assert cli._task_commands() == names
    assert pipeline._fields() == (
        "task",
        "method",
        "params",
        "sigma",
        "strength",
        "kernel",
        "mask",
        "reference",
        "scale",
        "seeds",
    )
    assert T.task_for_degradation({"downscale": 3}) == "upscale"
    assert T.task_for_degradation({"blur": "gaussian:1"}) == "deblur"
    assert T.task_for_degradation({"mask": "box:0.2", "blur": "gaussian:1"}) == "inpaint"
    assert T.task_for_degradation({"noise": ["gaussian:5"]}) == "denoise"


def test_every_task_function_documents_its_methods_and_units():
    for t in T.all_tasks():
        doc = getattr(iw, t.name).__doc__
        for m in registry.methods(t.name):
            assert f"``{m.name}``" in doc, (t.name, m.name)
        if t.sigma:
            assert "0..255 scale" in doc
