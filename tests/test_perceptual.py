"""VGG19 feature loading, the perceptual loss and its MS-SSIM fallback, diffusers UNet load/save."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from imagewizard.core.errors import ParameterError  # noqa: E402
from imagewizard.models.perceptual import (  # noqa: E402
    DEFAULT_LAYERS,
    PerceptualLoss,
    VGG19Features,
    load_vgg19,
    ms_ssim,
    ms_ssim_plan,
    ssim,
)

torch.set_num_threads(1)

TV_CONVS = [0, 2, 5, 7, 10, 12, 14, 16, 19, 21, 23, 25, 28, 30, 32, 34]
TV_POOLS = [4, 9, 18, 27, 36]


@pytest.fixture(scope="module")
def vgg_files(tmp_path_factory):
    """A random VGG19 and its weights as torchvision-layout .pth (with a classifier key) and .safetensors."""
    from safetensors.torch import save_file

    torch.manual_seed(0)
    src = VGG19Features()
    sd = src.state_dict()
    d = tmp_path_factory.mktemp("vgg")
    pth = d / "vgg19.pth"
    torch.save({**sd, "classifier.0.weight": torch.zeros(4, 8), "classifier.0.bias": torch.zeros(4)}, pth)
    st = d / "vgg19.safetensors"
    save_file({k: v.contiguous() for k, v in sd.items()}, str(st))
    return src, pth, st


def test_vgg_layout_matches_torchvision():
    f = VGG19Features().features
    assert len(f) == 37
    assert [i for i, m in enumerate(f) if isinstance(m, torch.nn.Conv2d)] == TV_CONVS
    assert [i for i, m in enumerate(f) if isinstance(m, torch.nn.MaxPool2d)] == TV_POOLS
    assert all(isinstance(f[i + 1], torch.nn.ReLU) for i in TV_CONVS)
    assert DEFAULT_LAYERS == (3, 8, 17, 26, 35)
    keys = list(VGG19Features().state_dict())
    assert keys[:2] == ["features.0.weight", "features.0.bias"] and len(keys) == 32


def test_vgg_loads_pth_and_safetensors(vgg_files, tmp_path):
    src, pth, st = vgg_files
    x = torch.rand(1, 3, 32, 32)
    ref = src(x)
    assert [r.shape[1] for r in ref] == [64, 128, 256, 512, 512]
    for path in (pth, st):
        m = load_vgg19(path)
        assert not any(p.requires_grad for p in m.parameters()) and not m.training
        assert all(torch.equal(a, b) for a, b in zip(ref, m(x)))
    # keys without the "features." prefix
    bare = tmp_path / "bare.pt"
    torch.save({k.removeprefix("features."): v for k, v in src.state_dict().items()}, bare)
    assert torch.equal(load_vgg19(bare, layers=(3,))(x)[0], ref[0])
    # gray input is repeated to three channels
    g = torch.rand(1, 1, 32, 32)
    assert torch.equal(src(g)[0], src(g.repeat(1, 3, 1, 1))[0])


def test_vgg_load_errors(vgg_files, tmp_path):
    src = vgg_files[0]
    wrong = tmp_path / "wrong.pth"
    torch.save({k: torch.zeros(1) for k in src.state_dict()}, wrong)  # every key, wrong shapes, tiny file
    with pytest.raises(ParameterError, match="shape"):
        load_vgg19(wrong)
    notsd = tmp_path / "list.pth"
    torch.save([1, 2, 3], notsd)
    with pytest.raises(ParameterError, match="not a state dict"):
        load_vgg19(notsd)
    only_cls = tmp_path / "cls.pth"
    torch.save({"classifier.0.weight": torch.zeros(2, 2)}, only_cls)
    with pytest.raises(ParameterError, match="lack"):
        load_vgg19(only_cls)
    garbage = tmp_path / "junk.safetensors"
    garbage.write_bytes(b"not safetensors")
    with pytest.raises(ParameterError, match="cannot read"):
        load_vgg19(garbage)
    with pytest.raises(ParameterError, match="not found"):
        load_vgg19(tmp_path / "missing.pth")


def _triplet():
    g = torch.Generator().manual_seed(1)
    y = torch.linspace(0, 1, 32)
    base = (0.5 + 0.4 * torch.sin(6 * y[:, None]) * torch.cos(4 * y[None, :])).expand(2, 3, 32, 32).contiguous()
    slight = (base + 0.01 * torch.randn(base.shape, generator=g)).clamp(0, 1)
    noisy = (base + 0.2 * torch.randn(base.shape, generator=g)).clamp(0, 1)
    return base, slight, noisy


@pytest.mark.parametrize("use_vgg", [False, True])
def test_perceptual_loss(use_vgg, vgg_files, monkeypatch):
    monkeypatch.delenv("IMAGEWIZARD_VGG19", raising=False)
    loss = PerceptualLoss(vgg_files[1] if use_vgg else None)
    desc = loss.describe()
    if use_vgg:
        assert desc["kind"] == "vgg19" and desc["weights"].endswith("vgg19.pth")
        assert desc["layers"] == ["relu1_2", "relu2_2", "relu3_4", "relu4_4", "relu5_4"]
    else:
        assert "ms-ssim" in desc["kind"] and "VGG19" in desc["why"]
    base, slight, noisy = _triplet()
    assert float(loss(base, base)) < 1e-6
    assert float(loss(noisy, base)) > float(loss(slight, base)) > 0
    pred = noisy.clone().requires_grad_(True)
    loss(pred, base).backward()
    assert pred.grad is not None and torch.isfinite(pred.grad).all() and pred.grad.abs().sum() > 0


def test_env_var_names_weights(vgg_files, monkeypatch):
    monkeypatch.setenv("IMAGEWIZARD_VGG19", str(vgg_files[2]))
    d = PerceptualLoss().describe()
    assert d["kind"] == "vgg19" and d["weights"].endswith(".safetensors") and "IMAGEWIZARD_VGG19" in d["weights_from"]


def test_ssim_matches_skimage():
    from skimage.metrics import structural_similarity

    rng = np.random.default_rng(0)
    a = rng.random((40, 36))
    b = np.clip(a + 0.1 * rng.standard_normal(a.shape), 0, 1)
    kw = dict(gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=1)
    ref = structural_similarity(a, b, **kw)
    got = float(ssim(torch.tensor(a)[None, None], torch.tensor(b)[None, None])[0])
    assert abs(got - ref) < 1e-3
    a3 = rng.random((33, 35, 3))
    b3 = np.clip(a3 + 0.05 * rng.standard_normal(a3.shape), 0, 1)
    ref3 = structural_similarity(a3, b3, channel_axis=2, **kw)
    t = lambda z: torch.tensor(z).permute(2, 0, 1)[None]  # noqa: E731
    assert abs(float(ssim(t(a3), t(b3))[0]) - ref3) < 1e-3


def test_ms_ssim_behaviour():
    assert ms_ssim_plan(32, 32) == (2, 11, 1.5)
    assert ms_ssim_plan(64, 80)[:2] == (3, 11)
    assert ms_ssim_plan(8, 8)[:2] == (1, 7)
    base, slight, noisy = _triplet()
    assert torch.allclose(ms_ssim(base, base), torch.ones(2), atol=1e-5)
    s1, s2 = ms_ssim(slight, base), ms_ssim(noisy, base)
    assert (s2 < s1).all() and (s1 < 1).all()
    small = torch.rand(1, 1, 8, 8)
    assert torch.isfinite(ms_ssim(small, small.flip(-1))).all()


# --------------------------------------------------------------------------- diffusers


@pytest.fixture(scope="module")
def diffusers_mod():
    return pytest.importorskip("imagewizard.models.diffusers_unet")


def test_diffusers_save_load_roundtrip(diffusers_mod, tmp_path, monkeypatch):
    dm = diffusers_mod
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    torch.manual_seed(0)
    model = dm.DiffusersEps(dm.tiny_unet(sample_size=16), scheduler_config={"num_train_timesteps": 50})
    assert (model.in_channels, model.sample_size) == (3, 16)
    x, t = torch.randn(2, 3, 16, 16), torch.tensor([3, 40])
    with torch.no_grad():
        ref = model(x, t)
    out = tmp_path / "run"
    dm.save_diffusers_unet(model, out, {"steps": 0, "loss": "mse"})
    dm.save_diffusers_unet(model, out, {"steps": 1, "path": tmp_path})  # overwrite in place
    assert json.loads((out / "card.json").read_text())["steps"] == 1
    assert (out / "unet" / "config.json").is_file() and (out / "model_index.json").is_file()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp leftovers
    for path, has_sched in ((out, True), (out / "unet", False)):
        back = dm.load_diffusers_unet(str(path))
        with torch.no_grad():
            assert torch.equal(back(x, t), ref)
        assert (back.scheduler_config is not None) == has_sched
    assert dm.load_diffusers_unet(str(out)).scheduler_config["num_train_timesteps"] == 50


def test_diffusers_load_errors(diffusers_mod, tmp_path, monkeypatch):
    dm = diffusers_mod
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ParameterError, match="not found"):
        dm.load_diffusers_unet(str(tmp_path / "nope"))
    with pytest.raises(ParameterError, match="config.json"):
        dm.load_diffusers_unet(str(tmp_path))
    (tmp_path / "unet").mkdir()
    (tmp_path / "unet" / "config.json").write_text('{"_class_name": "UNet2DConditionModel"}')
    with pytest.raises(ParameterError, match="UNet2DConditionModel"):
        dm.load_diffusers_unet(str(tmp_path))
    t0 = time.monotonic()
    with pytest.raises(ParameterError, match="only local directories") as e:
        dm.load_diffusers_unet("imagewizard-test/no-such-model")
    assert time.monotonic() - t0 < 10 and "\n" not in str(e.value)
