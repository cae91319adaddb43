"""Users' own ESRGAN / Real-ESRGAN / SwinIR weights (``upscale --method model``): tiny random networks saved
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
    _one_line_error(r"unet\.pth: not an RRDBNet .*, SRVGGNetCompact or SwinIR", scale=4, weights=str(path))
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


# --------------------------------------------------------------------------- SwinIR

from imagewizard.models.archs import swinir as sw  # noqa: E402

TINY_SWIN = {"embed_dim": 12, "depths": (2, 2), "num_heads": (2, 3), "window_size": 4, "mlp_ratio": 2.0}


def _swin(upscale=2, upsampler="pixelshuffle", resi="1conv", in_chans=3):
    return _randomised(
        sw.SwinIR(in_chans=in_chans, upscale=upscale, upsampler=upsampler, resi_connection=resi, **TINY_SWIN)
    )


def _index_by_loops(ws):
    """Upstream's relative position index, pair by pair: (dy + ws - 1) * (2 ws - 1) + (dx + ws - 1)."""
    cells = [(y, x) for y in range(ws) for x in range(ws)]
    return torch.tensor(
        [[(yi - yj + ws - 1) * (2 * ws - 1) + (xi - xj + ws - 1) for yj, xj in cells] for yi, xi in cells]
    )


def _upstream_layout(net, train_size=16):
    """The state dict as JingyunLiang/SwinIR saves it: with the derived buffers (the relative
    position index of every block, the shifted blocks' attention mask at the training size)."""
    sd = {k: v.clone() for k, v in net.state_dict().items()}
    for name, blk in net.named_modules():
        if isinstance(blk, sw.SwinTransformerBlock):
            sd[f"{name}.attn.relative_position_index"] = _index_by_loops(blk.ws)
            if blk.shift:
                sd[f"{name}.attn_mask"] = sw.shift_mask(train_size, train_size, blk.ws, blk.shift)
    return sd


#: the upstream network (network_swinir.py, JingyunLiang/SwinIR at 33f6166) run on the weights of
#: ``_swin()`` and the input of the test below; the values were computed with upstream's own code
#: outside this repository (its code is not part of the project)
UPSTREAM_X2 = {"mean": -0.0963249, "at": [((0, 0, 0), -4.820130), ((1, 5, 7), 13.141462), ((2, 15, 23), -5.792194)]}


def test_swinir_matches_the_upstream_network_on_known_weights():
    net = _swin()
    x = torch.rand(1, 3, 8, 12, generator=torch.Generator().manual_seed(7))
    with torch.no_grad():
        y = net(x)[0]
    assert y.shape == (3, 16, 24)
    # random weights give large values (up to ~13): float32 rounding differs by ~3e-5 between the two
    assert float(y.mean()) == pytest.approx(UPSTREAM_X2["mean"], abs=2e-4)
    for (c, i, j), want in UPSTREAM_X2["at"]:
        assert float(y[c, i, j]) == pytest.approx(want, abs=2e-4)


def test_swinir_window_attention_is_softmax_attention_with_the_relative_bias():
    attn = _randomised(sw.WindowAttention(dim=6, window_size=3, num_heads=2)).eval()
    assert torch.equal(sw.relative_position_index(3), _index_by_loops(3))
    x = torch.rand(2, 9, 6, generator=torch.Generator().manual_seed(3))
    q, k, v = attn.qkv(x).reshape(2, 9, 3, 2, 3).permute(2, 0, 3, 1, 4)
    table, idx = attn.relative_position_bias_table, _index_by_loops(3)
    bias = torch.stack([table[idx, h] for h in range(2)])  # heads, 9, 9
    w = torch.softmax(q @ k.transpose(-1, -2) / 3**0.5 + bias, dim=-1)
    want = attn.proj((w @ v).transpose(1, 2).reshape(2, 9, 6))
    with torch.no_grad():
        np.testing.assert_allclose(attn(x).numpy(), want.detach().numpy(), atol=1e-5)


def test_swinir_shift_mask_separates_the_regions_the_roll_brought_together():
    m = sw.shift_mask(8, 8, 4, 2)  # 2 x 2 windows of 16 tokens
    assert m.shape == (4, 16, 16) and set(m.unique().tolist()) == {-100.0, 0.0}
    assert (m[0] == 0).all()  # the top-left window holds one region only
    # the bottom-right window holds four regions (rows/cols 4-5 vs the wrapped 6-7): token (0,0)
    # attends only to the tokens of its own 2 x 2 corner
    own = torch.zeros(4, 4, dtype=torch.bool)
    own[:2, :2] = True
    assert torch.equal(m[3, 0] == 0, own.flatten())


SWIN_CASES = [
    ("classical-x2", lambda: _swin(2), "params", 2),
    ("classical-x3-3conv", lambda: _swin(3, resi="3conv"), "params", 3),
    ("classical-x4-st", lambda: _swin(4), "safetensors", 4),
    ("lightweight-x4", lambda: _swin(4, "pixelshuffledirect"), "params", 4),
    ("real-x4", lambda: _swin(4, "nearest+conv", "3conv"), "params_ema", 4),
    ("real-x2", lambda: _swin(2, "nearest+conv"), "bare", 2),
]


@pytest.mark.parametrize("name,make,layout,scale", SWIN_CASES, ids=[c[0] for c in SWIN_CASES])
def test_swinir_files_in_the_upstream_layout_load_and_compute_the_same(tmp_path, name, make, layout, scale):
    net = make()
    sd = _upstream_layout(net)
    path = tmp_path / f"{name}{'.safetensors' if layout == 'safetensors' else '.pth'}"
    if layout == "safetensors":
        from safetensors.torch import save_file

        save_file(sd, str(path))
    else:
        torch.save(sd if layout == "bare" else {layout: sd}, path)
    module, info = fsr.load_sr_model(path)
    cfg = info["config"]
    assert info["arch"] == "SwinIR" and info["scale"] == scale and info["layout"] == "swinir"
    assert (cfg["embed_dim"], cfg["depths"], cfg["num_heads"], cfg["window_size"]) == (12, [2, 2], [2, 3], 4)
    assert cfg["mlp_ratio"] == 2.0 and cfg["upsampler"] == net.upsampler
    assert cfg["resi_connection"] == net.resi_connection
    assert info["params"] == sum(p.numel() for p in net.parameters())
    img = _image(13, 18)  # not a multiple of the window: padded and cropped back
    got = imagewizard.upscale(img, "model", scale=scale, weights=str(path))
    assert got.shape == (13 * scale, 18 * scale, 3)
    np.testing.assert_allclose(got, np.clip(_direct(net, img), 0, 1), atol=1e-5)


def test_a_gray_swinir_runs_on_each_channel_and_once_on_gray_images(tmp_path):
    net = _swin(2, "pixelshuffledirect", in_chans=1)
    path = tmp_path / "gray.pth"
    torch.save({"params": _upstream_layout(net)}, path)
    rgb = _image(9, 10)
    got = imagewizard.upscale(rgb, "model", scale=2, weights=str(path))
    want = np.stack([_direct(net, rgb[..., c : c + 1].copy())[..., 0] for c in range(3)], axis=-1)
    np.testing.assert_allclose(got, np.clip(want, 0, 1), atol=1e-5)
    gray = _image(9, 10, gray=True)
    out = imagewizard.upscale(gray, "model", scale=2, weights=str(path))
    np.testing.assert_allclose(out, np.clip(_direct(net, gray[..., None].copy())[..., 0], 0, 1), atol=1e-5)


def test_swinir_denoisers_and_fixed_size_models_are_refused_in_one_line(tmp_path):
    sd = _upstream_layout(_swin(2))
    for k in [k for k in sd if k.startswith(("conv_before_upsample.", "upsample."))]:
        del sd[k]  # what a denoising / JPEG SwinIR holds: conv_last straight after the body
    torch.save({"params": sd}, tmp_path / "dn.pth")
    _one_line_error(r"dn\.pth: a SwinIR without an upsampler: a denoising", scale=2, weights=str(tmp_path / "dn.pth"))
    sd = _upstream_layout(_swin(2))
    sd["absolute_pos_embed"] = torch.zeros(1, 256, 12)
    torch.save({"params": sd}, tmp_path / "ape.pth")
    _one_line_error(r"ape\.pth: .*absolute position embedding", scale=2, weights=str(tmp_path / "ape.pth"))
