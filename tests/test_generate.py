"""Generative models: tiny configurations train, schedulers match the sigma mapping, weights round-trip."""

from __future__ import annotations

import gzip

import numpy as np
import pytest
import torch

from imagewizard.core.errors import ParameterError
from imagewizard.models import digits as D
from imagewizard.models.generators import build, grid, load_generator, shipped_path

torch.set_num_threads(1)

TINY = {
    "dcgan": {"size": 16, "nz": 8, "features": 8},
    "vae-gen": {"size": 16, "latent": 4, "features": 8},
    "ddpm": {"size": 16, "channels": (16, 16), "fold": 2, "timesteps": 100},
}


@pytest.fixture(scope="module")
def digits16():
    return D.load_digits32(16)[:256]


def test_digits_loader():
    x = D.load_digits32()
    assert x.shape == (1797, 1, 32, 32) and x.dtype == torch.float32
    assert 0 <= float(x.min()) and float(x.max()) <= 1 and float(x.max()) > 0.9
    # downscaling back to 8x8 nearly recovers the original 0..16 values (bilinear blurs by ~1 level)
    from sklearn.datasets import load_digits

    assert np.abs(D.to_digits8(x[:50]) - load_digits().data[:50]).mean() < 1.5


@pytest.mark.parametrize("arch", ["vae-gen", "ddpm"])
def test_loss_goes_down(arch, digits16):
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    model, _ = build(arch, **TINY[arch])
    opt = torch.optim.Adam(model.parameters(), 3e-3)
    x = digits16[:8]  # a fixed batch: the loss must drop, and the noise is the only randomness
    losses = []
    for _ in range(30):
        out = model.loss(x, generator=g)
        loss = out[0] if isinstance(out, tuple) else out
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    # the VAE's Bernoulli loss has a floor (pixels are not binary), so it falls by less in relative terms
    assert np.mean(losses[-5:]) < {"vae-gen": 0.95, "ddpm": 0.8}[arch] * np.mean(losses[:5]), losses[::5]


def test_gan_losses_move_and_trainer_is_deterministic(tmp_path, digits16):
    from imagewizard.models.train_generative import train_generator

    runs = [
        train_generator(
            "gan",
            steps=25,
            batch=8,
            seed=1,
            out=tmp_path / f"r{i}",
            config=TINY["dcgan"],
            quality=16,
            log=None,
            command="test",
        )
        for i in range(2)
    ]
    h = runs[0]["history"]
    # the discriminator learns to tell the untrained generator's output from digits
    assert np.mean([r["loss_d"] for r in h[-5:]]) < np.mean([r["loss_d"] for r in h[:5]])
    a, b = (load_generator(r["weights"])[0] for r in runs)
    for k, v in a.state_dict().items():
        assert torch.equal(v, b.state_dict()[k]), k
    card = runs[0]["card"]
    assert card["steps"] == 25 and card["seed"] == 1 and "loss_g" in card["final_losses"]
    assert 0 <= card["quality"]["digit_classifier_score"]["confident"] <= 1
    assert (tmp_path / "r0" / "samples.png").is_file()


def test_ddpm_noise_levels_match_sigma_mapping():
    from imagewizard.models.diffusion import noise_ratio, step_for_sigma

    def sigma_at(sched, t):  # noise std relative to the signal at step t ([-1, 1] scale)
        return noise_ratio(sched.alphas_cumprod)[t]

    model, _ = build("ddpm", **TINY["ddpm"])
    ddpm, ddim = model.train_scheduler, model.sample_scheduler
    assert torch.allclose(ddpm.alphas_cumprod, ddim.alphas_cumprod)
    g = torch.Generator().manual_seed(0)
    x0 = torch.full((4000, 1, 4, 4), 0.5)
    eps = torch.randn(x0.shape, generator=g)
    for t in (0, 10, 50, 99):
        abar = ddpm.alphas_cumprod[t]
        xt = ddpm.add_noise(x0, eps, torch.full((len(x0),), t))
        # x_t = sqrt(abar) x0 + sqrt(1 - abar) eps
        assert abs(float(xt.mean()) - 0.5 * float(abar.sqrt())) < 0.01 + 0.02 * float((1 - abar).sqrt())
        assert abs(float(xt.std()) / float((1 - abar).sqrt()) - 1) < 0.03
        # after dividing by sqrt(abar) the noise std is the sigma of that step
        assert abs(float((xt / abar.sqrt() - x0).std()) / float(sigma_at(ddpm, t)) - 1) < 0.03
        # the step for an image noise level (0..1 scale: half the [-1, 1] level) is that step
        assert step_for_sigma(ddpm.alphas_cumprod, float(sigma_at(ddpm, t)) / 2 * (1 - 1e-9)) == t
    assert float(sigma_at(ddpm, 99)) > 10 > 0.1 > float(sigma_at(ddpm, 0))


@pytest.mark.parametrize("arch", ["dcgan", "vae-gen", "ddpm"])
def test_sample_shape_range_and_save_load_roundtrip(arch, tmp_path):
    from imagewizard.models.weights import save_model

    torch.manual_seed(0)
    model, cfg = build(arch, **TINY[arch])
    model.eval()
    kw = {"steps": 4} if arch == "ddpm" else {}
    s1 = model.sample(5, generator=torch.Generator().manual_seed(7), **kw)
    assert s1.shape == (5, 1, 16, 16) and float(s1.min()) >= 0 and float(s1.max()) <= 1
    path = save_model(tmp_path / "m.safetensors", model.state_dict(), arch, cfg, {"note": "test"})
    loaded, card = load_generator(path)
    assert card["arch"] == arch and card["note"] == "test"
    s2 = loaded.sample(5, generator=torch.Generator().manual_seed(7), **kw)
    assert torch.equal(s1, s2)
    s3 = loaded.sample(5, generator=torch.Generator().manual_seed(8), **kw)
    assert not torch.equal(s1, s3)


def test_load_rejects_denoiser_and_garbage(tmp_path):
    from imagewizard.models.weights import save_model

    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not a safetensors file")
    with pytest.raises(ParameterError, match="not a valid safetensors"):
        load_generator(bad)
    p = save_model(tmp_path / "d.safetensors", {"w": torch.zeros(2)}, "dncnn", {})
    with pytest.raises(ParameterError, match="not a generative model"):
        load_generator(p)


@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_mnist_idx_reader(tmp_path, suffix):
    rng = np.random.default_rng(0)
    imgs = rng.integers(0, 256, size=(5, 28, 28), dtype=np.uint8)
    path = D.write_idx_images(tmp_path / f"train-images-idx3-ubyte{suffix}", imgs)
    labels = tmp_path / "train-labels-idx1-ubyte"
    labels.write_bytes(np.array([2049, 5], ">u4").tobytes() + bytes([3, 1, 4, 1, 5]))
    got, lab = D.load_mnist(path, labels)
    assert np.array_equal(got, imgs) and lab.tolist() == [3, 1, 4, 1, 5]
    x = D.mnist_32(path)
    assert x.shape == (5, 1, 32, 32) and torch.allclose(x[:, 0, 2:30, 2:30] * 255, torch.from_numpy(imgs).float())
    assert float(x[:, :, :2].abs().max()) == 0


def test_mnist_idx_reader_rejects_bad_files(tmp_path):
    imgs = np.zeros((3, 28, 28), np.uint8)
    good = D.write_idx_images(tmp_path / "a-idx3-ubyte", imgs)
    short = tmp_path / "short-idx3-ubyte"
    short.write_bytes(good.read_bytes()[:-10])
    with pytest.raises(ParameterError, match="truncated") as e:
        D.load_mnist(short)
    assert "\n" not in str(e.value)
    gz = tmp_path / "short-idx3-ubyte.gz"
    gz.write_bytes(gzip.compress(good.read_bytes())[:-12])
    with pytest.raises(ParameterError):
        D.load_mnist(gz)
    wrong = tmp_path / "labels-as-images"
    wrong.write_bytes(np.array([2049, 3], ">u4").tobytes() + bytes(16))
    with pytest.raises(ParameterError, match="magic 2049"):
        D.load_mnist(wrong)
    with pytest.raises(ParameterError, match="not found"):
        D.load_mnist(tmp_path / "missing")


def test_grid_size():
    assert grid(torch.zeros(16, 1, 32, 32)).shape == (4 * 34 + 2, 4 * 34 + 2)
    assert grid(torch.zeros(5, 1, 32, 32)).shape == (2 * 34 + 2, 3 * 34 + 2)


def _app():
    from imagewizard.cli.commands import app

    return app


@pytest.mark.parametrize("model,arch", [("diffusion", "ddpm"), ("vae", "vae-gen"), ("gan", "dcgan")])
def test_generate_from_shipped_weights(model, arch, tmp_path):
    from PIL import Image

    from imagewizard.cli.generate import generate

    if not shipped_path(arch).is_file():
        pytest.skip(f"shipped {arch} weights not present yet")
    out = tmp_path / "grid.png"
    generate(model, 6, out, seed=0, steps=5, weights=None)
    im = Image.open(out)
    assert im.size == (3 * 34 + 2, 2 * 34 + 2) and im.mode == "L"
    assert np.asarray(im).std() > 5  # something was drawn
    assert [p.name for p in tmp_path.iterdir()] == ["grid.png"]  # no temp file left behind


def test_generate_errors(tmp_path):
    from imagewizard.cli.generate import generate

    with pytest.raises(ParameterError, match="unknown generative model 'flow'"):
        generate("flow", 4, tmp_path / "x.png")
    with pytest.raises(ParameterError, match="-n must be between"):
        generate("vae", 0, tmp_path / "x.png")
    with pytest.raises(ParameterError, match="not found"):
        generate("vae", 4, tmp_path / "x.png", weights=str(tmp_path / "none.safetensors"))


def test_cli_generate_and_train(tmp_path):
    from typer.testing import CliRunner

    from imagewizard.models.weights import save_model

    runner = CliRunner()
    app = _app()
    torch.manual_seed(0)
    model, cfg = build("vae-gen", **TINY["vae-gen"])
    w = save_model(tmp_path / "v.safetensors", model.state_dict(), "vae-gen", cfg)
    out = tmp_path / "g.png"
    res = runner.invoke(app, ["generate", "-m", "vae", "-n", "4", "-o", str(out), "--weights", str(w)])
    assert res.exit_code == 0, res.output
    assert "4 samples" in res.output and out.is_file()
    res = runner.invoke(app, ["generate", "-m", "gan", "-n", "4", "-o", str(out), "--weights", str(w)])
    assert isinstance(res.exception, ParameterError) and "vae-gen model" in str(res.exception)
    res = runner.invoke(app, ["generate", "-m", "nope", "-o", str(out)])
    assert isinstance(res.exception, ParameterError)
    res = runner.invoke(app, ["generate", "--help"])
    assert res.exit_code == 0 and "Examples" in res.output
    res = runner.invoke(app, ["train", "generator", "--help"])
    assert res.exit_code == 0 and "--minutes" in res.output
    mn = D.write_idx_images(tmp_path / "t-idx3-ubyte.gz", np.random.default_rng(0).integers(0, 256, (20, 28, 28)))
    res = runner.invoke(
        app,
        [
            "train",
            "generator",
            "--model",
            "dcgan",
            "--data",
            str(mn),
            "--steps",
            "2",
            "--batch",
            "4",
            "--out",
            str(tmp_path / "run"),
        ],
    )
    assert res.exit_code == 0, res.output
    assert (tmp_path / "run" / "model.safetensors").is_file() and "saved" in res.output


def test_generator_weights_are_found_through_imagewizard_weights(tmp_path, monkeypatch):
    # one lookup for every model: a user's folder wins over the package's, for the generators too
    from imagewizard.models.archs import ARCHS, GENERATORS
    from imagewizard.models.weights import save_model

    assert set(GENERATORS) <= set(ARCHS)
    model, cfg = build("vae-gen", latent=4, features=8)
    save_model(tmp_path / "digits-vae.safetensors", model.state_dict(), "vae-gen", cfg)
    monkeypatch.setenv("IMAGEWIZARD_WEIGHTS", str(tmp_path))
    assert shipped_path("vae-gen") == tmp_path / "digits-vae.safetensors"
    loaded, card = load_generator(shipped_path("vae-gen"))
    assert card["config"]["latent"] == 4
