"""Users' own ESRGAN / Real-ESRGAN weights (``upscale --method model``): tiny random networks saved
in the upstream layouts load, are recognised, compute what the directly built network computes,
tile exactly, and every bad file gives one readable line."""

import pickle
import re

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import imagewizard  # noqa: E402
import imagewizard.models.foreign_sr as fsr  # noqa: E402 - the upscale task lists it later; import it here
from imagewizard.core.errors import MissingDependencyError, ParameterError  # noqa: E402
from imagewizard.models.archs.rrdbnet import RRDBNet  # noqa: E402
from imagewizard.models.archs.srvgg import SRVGGNetCompact  # noqa: E402
from imagewizard.models.upscale import upscale_tiled  # noqa: E402

TINY_RRDB = {"num_feat": 8, "num_block": 1, "num_grow_ch": 4}
TINY_SRVGG = {"num_feat": 8, "num_conv": 2, "upscale": 4}


def _randomised(net):
    """Random, non-trivial weights (PReLU slopes too), fixed by the seed, in eval mode."""
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * (0.5 if p.ndim == 1 else 0.15))
    return net.eval()


def _rrdb(scale=4):
    return _randomised(RRDBNet(scale=scale, **TINY_RRDB))


def _srvgg(act="prelu"):
    return _randomised(SRVGGNetCompact(act_type=act, **TINY_SRVGG))


def _old_esrgan_keys(sd):
    """The inverse of :func:`convert_old_esrgan`: the 2018 release's key layout."""
    top = {"conv_first": "model.0", "conv_up1": "model.3", "conv_up2": "model.6"}
    top |= {"conv_hr": "model.8", "conv_last": "model.10"}
    nb = 1 + max(int(k.split(".")[1]) for k in sd if k.startswith("body."))
    out = {}
    for k, v in sd.items():
        m = re.match(r"body\.(\d+)\.rdb(\d)\.conv(\d)\.(weight|bias)$", k)
        if m:
            out[f"model.1.sub.{m[1]}.RDB{m[2]}.conv{m[3]}.0.{m[4]}"] = v
        elif k.startswith("conv_body."):
            out[f"model.1.sub.{nb}.{k.split('.')[1]}"] = v
        else:
            name, leaf = k.split(".")
            out[f"{top[name]}.{leaf}"] = v
    return out


def _save(net, path, layout):
    sd = {k: v.clone() for k, v in net.state_dict().items()}
    if layout == "safetensors":
        from safetensors.torch import save_file

        save_file(sd, str(path))
    elif layout == "old-esrgan":
        torch.save(_old_esrgan_keys(sd), path)
    elif layout == "bare":
        torch.save(sd, path)
    else:  # "params_ema" or "params", as BasicSR writes them
        torch.save({layout: sd}, path)
    return path


def _image(h=20, w=24, gray=False, seed=1):
    rng = np.random.default_rng(seed)
    return rng.random((h, w) if gray else (h, w, 3)).astype(np.float32)


def _direct(net, img):
    with torch.no_grad():
        return net(torch.from_numpy(img.transpose(2, 0, 1).copy())[None])[0].numpy().transpose(1, 2, 0)


CASES = [
    ("rrdb4", lambda: _rrdb(4), "params_ema", "RRDBNet", 4),
    ("rrdb2", lambda: _rrdb(2), "params", "RRDBNet", 2),
    ("rrdb4-old", lambda: _rrdb(4), "old-esrgan", "RRDBNet", 4),
    ("rrdb4-st", lambda: _rrdb(4), "safetensors", "RRDBNet", 4),
    ("srvgg-prelu", lambda: _srvgg("prelu"), "params", "SRVGGNetCompact", 4),
    ("srvgg-relu", lambda: _srvgg("relu"), "bare", "SRVGGNetCompact", 4),
    ("srvgg-st", lambda: _srvgg("prelu"), "safetensors", "SRVGGNetCompact", 4),
]


@pytest.mark.parametrize("name,make,layout,arch,scale", CASES, ids=[c[0] for c in CASES])
def test_load_detects_the_architecture_and_computes_the_same(tmp_path, name, make, layout, arch, scale):
    net = make()
    suffix = ".safetensors" if layout == "safetensors" else ".pth"
    path = _save(net, tmp_path / f"{name}{suffix}", layout)
    module, info = fsr.load_sr_model(path)
    assert info["arch"] == arch and info["scale"] == scale and info["path"] == path.name
    assert info["params"] == sum(p.numel() for p in net.parameters())
    assert info["layout"] == {"old-esrgan": "old-esrgan"}.get(layout, "basicsr" if arch == "RRDBNet" else "realesrgan")
    cfg = info["config"]
    assert cfg["num_feat"] == 8
    if arch == "RRDBNet":
        assert (cfg["num_block"], cfg["num_grow_ch"], cfg["scale"]) == (1, 4, scale)
    else:
        assert (cfg["num_conv"], cfg["upscale"]) == (2, 4)
        assert cfg["act_type"] == name.split("-")[1].replace("st", "prelu")
    assert module.scales == (scale,) and not module.training
    img = _image()
    want = _direct(net, img)
    with torch.no_grad():
        got = module(torch.from_numpy(img.transpose(2, 0, 1).copy())[None], scale=scale)[0].numpy()
    np.testing.assert_allclose(got.transpose(1, 2, 0), want, atol=1e-5)


def test_loaded_models_are_cached_until_the_file_changes(tmp_path):
    path = _save(_srvgg(), tmp_path / "a.pth", "params")
    first, _ = fsr.load_sr_model(path)
    assert fsr.load_sr_model(path)[0] is first
    _save(_srvgg("relu"), path, "params")  # a different file at the same path
    second, info = fsr.load_sr_model(path)
    assert second is not first and info["config"]["act_type"] == "relu"


@pytest.mark.parametrize("gray", [False, True], ids=["rgb", "gray"])
def test_the_registered_method_upscales_rgb_and_gray(tmp_path, gray):
    path = _save(_srvgg(), tmp_path / "x4.pth", "params_ema")
    img = _image(gray=gray)
    out = imagewizard.upscale(img, "model", scale=4, weights=str(path))
    assert out.shape == (80, 96) if gray else (80, 96, 3)
    assert out.dtype == np.float32 and out.min() >= 0.0 and out.max() <= 1.0
    if not gray:  # the method is the network, clipped
        np.testing.assert_allclose(out, np.clip(_direct(_srvgg(), img), 0, 1), atol=1e-5)


def test_the_weights_come_from_the_environment_when_not_given(tmp_path, monkeypatch):
    path = _save(_rrdb(2), tmp_path / "x2.pth", "params")
    monkeypatch.setenv(fsr.ENV, str(path))
    assert imagewizard.upscale(_image(gray=True), "model", scale=2).shape == (40, 48)
    monkeypatch.delenv(fsr.ENV)
    with pytest.raises(MissingDependencyError, match=r"needs weights=PATH .*\$IMAGEWIZARD_SR_WEIGHTS"):
        imagewizard.upscale(_image(), "model", scale=2)


def test_without_weights_the_method_is_listed_unavailable_and_all_skips_it(tmp_path, monkeypatch):
    from PIL import Image

    from imagewizard.bench.runner import BenchConfig, plan_bench, run_bench
    from imagewizard.core import registry

    monkeypatch.delenv(fsr.ENV, raising=False)
    m = registry.get("upscale", "model")
    assert not m.available() and "weights=PATH" in m.unavailable_flag()
    assert m.available({"weights": "any.pth"})  # ready as soon as the call names a file
    path = _save(_srvgg(), tmp_path / "x2.pth", "params")
    monkeypatch.setenv(fsr.ENV, str(path))
    assert m.available()
    monkeypatch.delenv(fsr.ENV)
    data = tmp_path / "data"
    data.mkdir()
    Image.fromarray((_image(32, 32) * 255).astype(np.uint8)).save(data / "a.png")
    every = BenchConfig(data=str(data), degradations=["downscale=2"], methods="all", out=str(tmp_path / "o"), workers=0)
    assert any("model (" in n and "weights=PATH" in n for n in plan_bench(every).notes)  # skipped, with why
    run_bench(every, progress=False)
    rows = (tmp_path / "o" / "results.jsonl").read_text()
    assert '"model"' not in rows and '"bicubic"' in rows  # not failed on every image
    explicit = run_bench(  # named with its weights, it runs
        BenchConfig(
            data=str(data),
            degradations=["downscale=2"],
            methods=f"model:weights={path}",
            out=str(tmp_path / "p"),
            workers=0,
        ),
        progress=False,
    )
    assert explicit is not None and '"psnr"' in (tmp_path / "p" / "results.jsonl").read_text()


def _margin(module):
    m = module.multiple
    return -(-module.radius // m) * m


@pytest.mark.parametrize(
    "make,radius,size,tile",
    [(_srvgg, 4, (20, 24), 8), (lambda: _rrdb(4), 19, (44, 48), 8), (lambda: _rrdb(2), 39, (56, 100), 16)],
    ids=["srvgg", "rrdb4", "rrdb2"],
)
def test_tiles_with_the_receptive_field_as_margin_equal_the_whole_image(tmp_path, make, radius, size, tile):
    module, _ = fsr.load_sr_model(_save(make(), tmp_path / "n.pth", "params"))
    # receptive fields, in input pixels each side: the SRVGG's 4 convolutions; RRDBNet's 17 body
    # convolutions plus 2 body pixels for the tail, times the x2 model's unshuffle factor (+1)
    assert module.radius == radius
    margin = _margin(module)
    # the image must be larger than a tile and its margins, or every tile would see all of it
    assert size[1] > tile + 2 * margin
    img = _image(*size)
    s = module.scale
    whole = upscale_tiled(module, img, s, tile=10**6, margin=0)
    tiled = upscale_tiled(module, img, s, tile=tile, margin=margin)
    np.testing.assert_allclose(tiled, whole, atol=1e-4)


def test_an_odd_sized_image_runs_through_a_pixel_unshuffle_model(tmp_path):
    path = _save(_rrdb(2), tmp_path / "x2.pth", "params")
    out = imagewizard.upscale(_image(21, 23), "model", scale=2, weights=str(path), tile=32)
    assert out.shape == (42, 46, 3)


def _one_line_error(match, **kw):
    with pytest.raises(ParameterError) as info:
        imagewizard.upscale(_image(), "model", **kw)
    text = str(info.value)
    assert "\n" not in text and "Traceback" not in text, text
    # none of torch's wording: exception class names, its unpickler's advice, key dumps, colour codes
    assert not re.search(r"[A-Z]\w*Error\b|[Ww]eights only|Unpickl|state_dict|\x1b", text), text
    assert re.search(match, text), text
    return text


def test_a_wrong_scale_names_both_factors(tmp_path):
    path = _save(_srvgg(), tmp_path / "x4.pth", "params")
    _one_line_error(r"x4\.pth upscales by 4, not 2", scale=2, weights=str(path))


def test_a_missing_file(tmp_path):
    _one_line_error(r"nope\.pth: weights file not found", scale=4, weights=str(tmp_path / "nope.pth"))


def test_a_text_file_renamed_pth(tmp_path):
    path = tmp_path / "notes.pth"
    path.write_text("these are not weights\n")
    _one_line_error(r"notes\.pth: not a PyTorch weights file", scale=4, weights=str(path))


class Payload:
    """Stands for the code an untrusted pickle could run: it must never be unpickled."""

    def __reduce__(self):
        return (print, ("unpickled!",))


def test_a_pickle_with_a_non_tensor_object_is_refused(tmp_path, capsys):
    path = tmp_path / "evil.pth"
    with open(path, "wb") as f:
        pickle.dump({"params": Payload()}, f)
    _one_line_error(r"evil\.pth: holds Python objects other than tensors", scale=4, weights=str(path))
    assert "unpickled!" not in capsys.readouterr().out


def test_a_container_without_tensors(tmp_path):
    path = tmp_path / "empty.pth"
    torch.save({"params": {"note": "hello"}, "iter": 3}, path)
    _one_line_error(r"empty\.pth: no tensors found", scale=4, weights=str(path))


def test_an_unknown_architecture_and_a_damaged_safetensors(tmp_path):
    path = tmp_path / "unet.pth"
    torch.save({"enc.0.weight": torch.zeros(4, 3, 3, 3)}, path)
    _one_line_error(r"unet\.pth: not an RRDBNet .* or SRVGGNetCompact", scale=4, weights=str(path))
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json")
    _one_line_error(r"bad\.safetensors: not a valid safetensors file", scale=4, weights=str(bad))


def test_a_truncated_rrdbnet_names_what_does_not_fit(tmp_path):
    sd = _rrdb(4).state_dict()
    del sd["conv_hr.weight"]
    path = tmp_path / "cut.pth"
    torch.save(sd, path)
    _one_line_error(
        r"cut\.pth: looks like RRDBNet but does not load .*1 missing key\(s\), e\.g\. conv_hr\.weight",
        scale=4,
        weights=str(path),
    )
