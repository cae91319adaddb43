"""The method registry and the task API that reads it."""

from __future__ import annotations

import numpy as np
import pytest

from imagewizard.core import registry
from imagewizard.api import apply
from imagewizard.core.errors import MissingDependencyError, ParameterError, UnknownMethodError
from imagewizard.core.registry import Param, bind_args, parse_spec


@pytest.fixture
def toy_methods():
    """Register a few toy methods under a private task; remove them afterwards."""
    registry.load_builtins()  # so the snapshot restored afterwards holds every built-in method
    before = dict(registry._REGISTRY)
    calls = []

    @registry.register(
        "toy",
        "scale",
        "Multiply by a factor.",
        params=[Param("factor", float, 2.0, "gain", low=0, high=10)],
        color="per-channel",
    )
    def scale(img, *, factor):
        calls.append(img.shape)
        return img * factor

    @registry.register("toy", "noisy", "Uses the noise level.", sigma="auto")
    def noisy(img, *, sigma):
        calls.append(sigma)
        return img

    @registry.register("toy", "needs-mask", "Needs a mask.", needs=["mask"])
    def needs_mask(img, *, mask):
        out = img.copy()
        out[mask] = 0.5
        return out

    @registry.register(
        "toy",
        "missing",
        "Needs a package that is not installed.",
        requires=("surely_not_installed_pkg",),
        extra="nothing",
    )
    def missing(img):
        return img

    yield calls
    registry._REGISTRY.clear()
    registry._REGISTRY.update(before)


def test_param_parsing_and_ranges():
    p = Param("size", int, 3, "window", low=1, high=99)
    assert p.parse("5") == 5
    assert p.parse(7.0) == 7
    with pytest.raises(ParameterError, match="must be an integer"):
        p.parse("2.5")
    with pytest.raises(ParameterError, match=">= 1"):
        p.parse(0)
    with pytest.raises(ParameterError, match="no automatic value"):
        p.parse("auto")
    q = Param("mode", str, "soft", choices=("soft", "hard"))
    assert q.parse("hard") == "hard"
    with pytest.raises(ParameterError, match="one of soft, hard"):
        q.parse("medium")
    b = Param("fast", bool, True)
    assert b.parse("no") is False and b.parse("yes") is True
    with pytest.raises(ParameterError):
        b.parse("maybe")
    a = Param("h", float, None, "derived from sigma")
    assert a.auto and a.parse("auto") is None and a.parse("0.5") == 0.5
    with pytest.raises(ParameterError, match="a number"):
        Param("x", float, 1.0).parse("nan")


def test_parse_spec_and_bind():
    assert parse_spec("motion:15,30") == ("motion", ["15", "30"], {})
    assert parse_spec("Gaussian:sigma=25") == ("gaussian", [], {"sigma": "25"})
    assert parse_spec("text") == ("text", [], {})
    with pytest.raises(ParameterError):
        parse_spec("a:x=1,2")
    params = [Param("length", int, 9, low=1), Param("angle", float, 0.0)]
    assert bind_args(params, ["15"], {"angle": "30"}, where="motion") == {"length": 15, "angle": 30.0}
    with pytest.raises(ParameterError, match="at most 2 values"):
        bind_args(params, ["1", "2", "3"], {}, where="motion")
    with pytest.raises(ParameterError, match="no parameter 'size'"):
        bind_args(params, [], {"size": "3"}, where="motion")


def test_lookup_errors_name_the_known_methods(toy_methods):
    with pytest.raises(UnknownMethodError, match=r"unknown toy method 'nope' \(known: scale, noisy"):
        registry.get("toy", "nope")
    m = registry.get("toy", "scale")
    with pytest.raises(ParameterError, match="has no parameter 'gain'.*factor"):
        m.bind({"gain": 1})
    assert m.bind({}) == {"factor": 2.0}
    assert m.describe()["params"][0]["range"] == [0, 10]


def test_apply_per_channel_alpha_and_clipping(toy_methods):
    rgba = np.zeros((4, 5, 4), np.float32)
    rgba[..., :3] = 0.3
    rgba[..., 3] = np.linspace(0, 1, 5)[None, :]
    out = apply("toy", rgba, "scale", factor=4)
    assert out.shape == (4, 5, 4) and out.dtype == np.float32
    assert np.all(out[..., :3] == 1.0)  # 1.2 clipped
    np.testing.assert_array_equal(out[..., 3], rgba[..., 3])  # alpha untouched
    assert toy_methods == [(4, 5)] * 3  # called once per colour channel


def test_apply_sigma_handling(toy_methods):
    img = np.full((8, 8), 0.5, np.float32)
    apply("toy", img, "noisy", sigma=25)
    assert toy_methods[-1] == 25.0
    with pytest.raises(ParameterError, match=r"\[0, 255\]"):
        apply("toy", img, "noisy", sigma=300)
    with pytest.raises(ParameterError, match="does not use a noise level"):
        apply("toy", img, "scale", sigma=10)


def test_apply_mask_and_missing_dependency(toy_methods):
    img = np.zeros((6, 6), np.float32)
    mask = np.zeros((6, 6), np.uint8)
    mask[2, 3] = 255
    out = apply("toy", img, "needs-mask", mask=mask)
    assert out[2, 3] == 0.5 and out.sum() == 0.5
    with pytest.raises(ParameterError, match="needs a mask"):
        apply("toy", img, "needs-mask")
    with pytest.raises(ParameterError, match="does not match"):
        apply("toy", img, "needs-mask", mask=np.zeros((5, 5), bool))
    with pytest.raises(MissingDependencyError, match=r"imagewizard\[nothing\]"):
        apply("toy", img, "missing")
    assert not registry.get("toy", "missing").available()


def test_apply_rejects_bad_arrays(toy_methods):
    with pytest.raises(ParameterError, match="HxW"):
        apply("toy", np.zeros((4, 4, 2)), "scale")
    with pytest.raises(ParameterError, match="NaN"):
        apply("toy", np.full((4, 4), np.nan), "scale")
    with pytest.raises(ParameterError, match="empty"):
        apply("toy", np.zeros((0, 4)), "scale")
    # uint8 input is scaled to [0, 1]
    out = apply("toy", np.full((2, 2), 51, np.uint8), "scale", factor=1)
    assert np.allclose(out, 0.2)


def test_every_builtin_declaration_is_well_formed():
    ms = registry.methods()
    assert len({m.key for m in ms}) == len(ms)
    for m in ms:
        assert m.task in registry.TASKS and m.summary and "\n" not in m.summary
        for p in m.params:
            if not p.auto:
                assert p.parse(p.default) == p.default, f"{m.key}.{p.name} default is outside its own range"


def test_readme_method_table_matches_the_registry():
    import re
    from pathlib import Path

    readme = Path(__file__).resolve().parents[1] / "README.md"
    rows = {}
    for line in readme.read_text(encoding="utf-8").splitlines():
        m = re.match(r"^\| (" + "|".join(registry.tasks()) + r") \| (.+) \|$", line)
        if m:
            text = re.sub(r"\([^)]*\)", "", m.group(2))  # drop the explanations in brackets
            rows[m.group(1)] = {n.strip() for n in text.split(",") if n.strip()}
    for task in registry.tasks():
        assert rows.get(task) == {m.name for m in registry.methods(task)}, f"README's {task} row is out of date"


def test_strength_dial_scales_sigma_or_the_change_and_zero_is_off():
    from imagewizard.core.errors import ParameterError as PE

    rng = np.random.default_rng(0)
    clean = np.tile(np.linspace(0.2, 0.8, 48, dtype=np.float32), (48, 1))
    noisy = np.clip(clean + rng.normal(0, 20 / 255, clean.shape), 0, 1).astype(np.float32)
    # a method with a noise level runs at strength * sigma
    np.testing.assert_array_equal(
        apply("denoise", noisy, "tv", sigma=20, strength=0.5), apply("denoise", noisy, "tv", sigma=10)
    )
    # a method without one: the change is scaled
    full = apply("enhance", noisy, "gamma", gamma=0.5)
    half = apply("enhance", noisy, "gamma", gamma=0.5, strength=0.5)
    np.testing.assert_allclose(half, noisy + 0.5 * (full - noisy), atol=1e-6)
    assert np.array_equal(apply("enhance", noisy, "gamma", strength=1.0), full)
    for method in ("median", "gaussian", "clahe"):  # 0 = off: the input back
        task = "enhance" if method == "clahe" else "denoise"
        np.testing.assert_array_equal(apply(task, noisy, method, strength=0), noisy)
    with pytest.raises(PE, match="no strength control"):
        apply("deblur", noisy, "wiener", kernel="gaussian:1", strength=1)
    for bad in (-0.1, 5, "x", float("nan"), True):
        with pytest.raises(PE, match="strength"):
            apply("denoise", noisy, "median", strength=bad)


def test_strength_in_pipelines_and_the_cli(tmp_path, capsys):
    from PIL import Image

    from imagewizard.cli.commands import main
    from imagewizard.run.pipeline import Pipeline

    p = Pipeline.from_dict({"steps": [{"method": "tv", "sigma": 20, "strength": 0.5}]})
    assert p.to_dict()["steps"][0]["strength"] == 0.5
    img = np.random.default_rng(1).random((32, 32)).astype(np.float32)
    out, rec = p.run(img)
    np.testing.assert_array_equal(out, apply("denoise", img, "tv", sigma=10))
    assert rec[0]["strength"] == 0.5
    with pytest.raises(ParameterError, match="strength"):
        Pipeline.from_dict({"steps": [{"method": "wiener", "kernel": "gaussian:1", "strength": 1}]})
    src = tmp_path / "in.png"
    Image.fromarray((img * 255).astype(np.uint8)).save(src)
    assert main(["denoise", str(src), "-o", str(tmp_path / "o.png"), "-m", "median", "--strength", "0", "--json"]) == 0
    assert '"strength": 0.0' in capsys.readouterr().out
    assert np.array_equal(np.asarray(Image.open(tmp_path / "o.png")), np.asarray(Image.open(src)))
    assert main(["denoise", str(src), "-o", str(tmp_path / "p.png"), "--strength", "9"]) != 0
    assert "--strength" in capsys.readouterr().err


def test_a_spec_less_module_counts_as_installed_and_loading_is_thread_safe(monkeypatch):
    # a compiled package's submodule (cv2.xphoto) can sit in sys.modules without a spec, where
    # importlib.util.find_spec raises ValueError: the web server answered 500 for it once
    import importlib.util
    import sys
    import threading
    import types

    from imagewizard.core import registry

    fake = types.ModuleType("imagewizard_fake_pkg")
    fake.__spec__ = None
    monkeypatch.setitem(sys.modules, "imagewizard_fake_pkg", fake)
    with pytest.raises(ValueError):
        importlib.util.find_spec("imagewizard_fake_pkg")
    assert registry._installed("imagewizard_fake_pkg")
    assert not registry._installed("imagewizard_no_such_module.sub")
    seen = []
    threads = [threading.Thread(target=lambda: seen.append(len(registry.methods()))) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(seen)) == 1 and seen[0] > 20
