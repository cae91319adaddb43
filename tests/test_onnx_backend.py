"""The ONNX Runtime backend of the learned denoisers: same output as PyTorch, cached graphs, no torch
import on a cache hit, clear refusals."""

import os
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("onnxruntime")
torch = pytest.importorskip("torch")

import imagewizard as iw  # noqa: E402
from imagewizard.core.errors import ParameterError  # noqa: E402
from imagewizard.models import onnx_backend  # noqa: E402


@pytest.fixture
def tiny(tmp_path, monkeypatch):
    """A tiny U-Net (``unet-color``), DnCNN (``dncnn-gray``) and blind U-Net (``real-color``) in a weights
    folder of their own, and a fresh graph cache."""
    from imagewizard.models.archs import build
    from imagewizard.models.weights import save_model

    torch.manual_seed(0)
    wdir = tmp_path / "weights"
    wdir.mkdir()
    unet, cfg = build("unet", in_channels=3, channels=(8, 16, 24))
    save_model(wdir / "unet-color.safetensors", unet.state_dict(), "unet", cfg, {"method": "unet"})
    dn, dcfg = build("dncnn", in_channels=1, depth=4, features=8)
    save_model(wdir / "dncnn-gray.safetensors", dn.state_dict(), "dncnn", dcfg, {"method": "dncnn"})
    blind, bcfg = build("unet-blind", in_channels=3, channels=(8, 16), est_features=8, est_depth=3)
    save_model(wdir / "real-color.safetensors", blind.state_dict(), "unet-blind", bcfg, {"method": "real"})
    monkeypatch.setenv("IMAGEWIZARD_WEIGHTS", str(wdir))
    monkeypatch.setenv("IMAGEWIZARD_CACHE", str(tmp_path / "cache"))
    onnx_backend._session.cache_clear()
    return wdir


def _noisy(shape, seed=0):
    return np.random.default_rng(seed).random(shape, dtype=np.float32)


def test_onnx_matches_torch_on_odd_sizes_colour_gray_and_blind(tiny):
    img = _noisy((37, 53, 3))  # not a multiple of the U-Net's 8: the backend pads and crops
    a = iw.denoise(img, method="unet", sigma=25, backend="onnx")
    b = iw.denoise(img, method="unet", sigma=25, backend="torch")
    assert a.shape == img.shape and np.abs(a - b).max() < 1e-5
    g = img.mean(2)  # gray image through colour weights: three equal planes
    assert (
        np.abs(
            iw.denoise(g, method="unet", sigma=10, backend="onnx")
            - iw.denoise(g, method="unet", sigma=10, backend="torch")
        ).max()
        < 1e-5
    )
    # DnCNN is blind: its graph has no sigma input at all
    d1, d2 = (iw.denoise(g, method="dncnn", backend=b) for b in ("onnx", "torch"))
    assert np.abs(d1 - d2).max() < 1e-5
    # the real-photo denoiser estimates its own noise map inside the graph
    r1, r2 = (iw.denoise(img, method="real", backend=b) for b in ("onnx", "torch"))
    assert np.abs(r1 - r2).max() < 1e-5
    # its strength (the map's scale) is an input of the graph: the same as PyTorch's at any value
    for strength in (0.3, 2.0):
        r1, r2 = (iw.denoise(img, method="real", backend=b, strength=strength) for b in ("onnx", "torch"))
        assert np.abs(r1 - r2).max() < 1e-5
        assert np.abs(r1 - iw.denoise(img, method="real", backend="onnx")).max() > 1e-4  # it does change
    np.testing.assert_array_equal(iw.denoise(img, method="real", backend="onnx", strength=0.0), img)  # off


def test_tiles_give_the_whole_image_result(tiny):
    img = _noisy((70, 90, 3), seed=1)
    whole = iw.denoise(img, method="unet", sigma=25, backend="onnx")
    tiled = iw.denoise(img, method="unet", sigma=25, backend="onnx", tile=16)
    assert np.abs(whole - tiled).max() < 1e-5


def test_graph_is_cached_per_weights_content_and_remade_when_damaged(tiny, monkeypatch):
    img = _noisy((16, 16, 3))
    ref = iw.denoise(img, method="unet", sigma=25, backend="onnx")
    graphs = list((onnx_backend.cache_dir() / "onnx").glob("unet-color-*.onnx"))
    assert len(graphs) == 1
    onnx_backend._session.cache_clear()
    monkeypatch.setattr(onnx_backend, "export", lambda w: pytest.fail("re-exported despite the cache"))
    assert np.array_equal(iw.denoise(img, method="unet", sigma=25, backend="onnx"), ref)
    monkeypatch.undo()
    monkeypatch.setenv("IMAGEWIZARD_WEIGHTS", str(tiny))
    monkeypatch.setenv("IMAGEWIZARD_CACHE", str(graphs[0].parent.parent))
    graphs[0].write_bytes(b"half a graph")  # a damaged cache file is made again, not an error
    onnx_backend._session.cache_clear()
    assert np.abs(iw.denoise(img, method="unet", sigma=25, backend="onnx") - ref).max() < 1e-6
    assert graphs[0].stat().st_size > 1000


def test_unwritable_cache_still_runs(tiny, tmp_path, monkeypatch):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    monkeypatch.setenv("IMAGEWIZARD_CACHE", str(blocker))
    img = _noisy((16, 24, 3))
    a = iw.denoise(img, method="unet", sigma=25, backend="onnx")
    assert np.abs(a - iw.denoise(img, method="unet", sigma=25, backend="torch")).max() < 1e-5


def test_a_cache_hit_never_imports_torch(tiny):
    iw.denoise(_noisy((16, 16, 3)), method="unet", sigma=25)  # auto: ONNX Runtime here, exports once
    code = (
        "import sys, numpy as np, imagewizard as iw\n"
        "y = iw.denoise(np.zeros((16, 16, 3), np.float32), method='unet', sigma=25)\n"
        "print(y.shape, 'torch' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=os.environ, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["(16,", "16,", "3)", "False"]


def test_strict_onnx_refuses_what_it_cannot_run(tiny):
    img = _noisy((16, 16, 3))
    with pytest.raises(ParameterError, match="wrap the network"):
        iw.denoise(img, method="unet", sigma=25, backend="onnx", ensemble=2)
    with pytest.raises(ParameterError, match="CPU only"):
        iw.denoise(img, method="unet", sigma=25, backend="onnx", device="cuda")
    with pytest.raises(ParameterError, match="backend"):
        iw.denoise(img, method="unet", sigma=25, backend="tensorrt")
    # auto falls back to PyTorch for the self-ensemble: same result as asking for torch
    a = iw.denoise(img, method="unet", sigma=25, ensemble=2)
    assert np.array_equal(a, iw.denoise(img, method="unet", sigma=25, ensemble=2, backend="torch"))


def test_graph_metadata_and_header_read_without_torch(tiny):
    arch, cfg = onnx_backend.weights_header(tiny / "unet-color.safetensors")
    assert arch == "unet" and tuple(cfg["channels"]) == (8, 16, 24)
    net = onnx_backend.load(tiny / "unet-color.safetensors", threads=1)
    assert (net.multiple, net.in_channels) == (8, 3)
    assert net.receptive_margin >= 8 and net.receptive_margin % 8 == 0


def test_cli_denoise_runs_on_onnx_by_default(tiny, tmp_path):
    from typer.testing import CliRunner

    from imagewizard.cli import app
    from imagewizard.io import read, write

    src, out_a, out_b = tmp_path / "n.png", tmp_path / "a.png", tmp_path / "b.png"
    write(src, _noisy((24, 40, 3)))
    r1 = CliRunner().invoke(app, ["denoise", str(src), "-o", str(out_a), "--method", "unet", "--sigma", "20"])
    r2 = CliRunner().invoke(
        app, ["denoise", str(src), "-o", str(out_b), "--method", "unet", "--sigma", "20", "backend=torch"]
    )
    assert r1.exit_code == 0 and r2.exit_code == 0, r1.output + r2.output
    a, b = (read(p)[0] for p in (out_a, out_b))
    assert np.abs(a.astype(float) - b.astype(float)).max() <= 1 / 255 + 1e-6  # 8-bit rounding at most


def test_the_noise_map_level_runs_on_onnx_as_on_torch_and_a_cache_hit_skips_torch(tiny):
    from imagewizard.analysis.estimate import residual
    from imagewizard.models import zoo

    net = zoo.load("real-color")[0]
    for shape in ((37, 45, 3), (20, 22)):  # odd sides: edge-padded to the multiple, cropped back
        img = _noisy(shape)
        x = img if img.ndim == 3 else np.repeat(img[..., None], 3, axis=2)
        with torch.no_grad():
            ref = net.noise_map(torch.from_numpy(x.copy()).permute(2, 0, 1)[None]).double()
        want = float(ref.pow(2).mean().sqrt())
        assert residual.map_rms(img) == pytest.approx(want, rel=1e-5)
    assert any(p.name.endswith("-map.onnx") for p in (onnx_backend.cache_dir() / "onnx").iterdir())
    code = (
        "import sys, numpy as np\n"
        "from imagewizard.analysis.estimate import residual\n"
        "v = residual.map_rms(np.full((24, 24, 3), 0.5, np.float32))\n"
        "print(v > 0, 'torch' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=os.environ, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["True", "False"]
