"""Generative restorers (VAE, conditional GAN, diffusion) on tiny models and tiny data."""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")

from imagewizard.models.archs import build  # noqa: E402
from imagewizard.models.diffusion import (  # noqa: E402
    DiffusionRestorer,
    EpsUNet,
    ddpm_scheduler,
    noise_ratio,
    step_for_sigma,
)
from imagewizard.models.train import TrainConfig, train_denoiser  # noqa: E402

TINY_UNET = {"channels": [8, 16, 32], "blocks": 1, "shuffle": 2}


@pytest.fixture(scope="module")
def gray_folder(tmp_path_factory):
    from PIL import Image

    from imagewizard.samples import sample

    d = tmp_path_factory.mktemp("gray")
    src = (sample("camera") * 255).astype(np.uint8)
    for i in range(8):
        y, x = 50 * i, 40 * i
        Image.fromarray(src[y : y + 80, x : x + 80]).save(d / f"g{i}.png")
    return d


def _cfg(folder, out, **kw):
    base = dict(
        arch="unet",
        arch_config=TINY_UNET,
        data=str(folder),
        channels=1,
        sigma=(15.0, 35.0),
        patch=32,
        batch=4,
        steps=8,
        lr=2e-3,
        warmup=2,
        val_count=2,
        val_every=4,
        val_sigmas=(25.0,),
        seed=5,
        threads=1,
        out=str(out),
        ema=0.0,
    )
    base.update(kw)
    return TrainConfig(**base)


def _quiet(*_):
    pass


def _losses(out):
    return [json.loads(line)["loss"] for line in (out / "log.jsonl").read_text().splitlines()]


# --- VAE -------------------------------------------------------------------------------------------


def test_vae_kl_is_the_closed_form_and_inference_uses_the_latent_mean():
    vae, _ = build("vae", in_channels=1, channels=(8, 16), latent=4, blocks=1, beta=0.5)
    x, s = torch.rand(2, 1, 16, 16), torch.full((2,), 0.1)
    vae.train()
    vae(x, s)
    mu, logvar = vae.encode(x, s)
    kl = 0.5 * (mu**2 + logvar.exp() - 1 - logvar).sum() / (2 * 16 * 16)
    assert torch.allclose(vae.extra_loss(), 0.5 * kl)
    vae.eval()
    with torch.no_grad():
        a, b = vae(x, s), vae(x, s)
        assert torch.equal(a, b) and torch.allclose(a, vae.decode(mu))  # the mean, not a sample
        vae.sampling = True
        assert not torch.equal(vae(x, s), a)  # sampling draws a new latent each call


def test_vae_training_lowers_reconstruction_plus_kl(gray_folder, tmp_path):
    out = tmp_path / "vae"
    cfg = _cfg(
        gray_folder,
        out,
        arch="vae",
        arch_config={"channels": [8, 16], "latent": 4, "blocks": 1},
        loss="mse",
        steps=40,
        val_every=10,
        lr=3e-3,
    )
    train_denoiser(cfg, log=_quiet, progress=False)
    losses = _losses(out)
    assert losses[-1] < 0.5 * losses[0]
    card = json.loads((out / "best.json").read_text())
    assert card["arch"] == "vae" and card["method"] == "vae"


def test_vae_posterior_samples_average_to_the_method_output(tmp_path, monkeypatch):
    from imagewizard.models.generative import PosteriorMean
    from imagewizard.models.weights import save_model

    vae, cfg = build("vae", in_channels=1, channels=(8, 16), latent=4, blocks=1)
    vae.eval()
    x, s = torch.rand(1, 1, 16, 16), torch.tensor([0.1])
    pm = PosteriorMean(vae, samples=5, seed=3)
    with torch.no_grad():
        draws = pm.draws(x, s)
        assert draws.shape == (5, 1, 1, 16, 16) and not torch.equal(draws[0], draws[1])
        assert torch.allclose(pm(x, s), draws.mean(0)) and torch.equal(pm.draws(x, s), draws)  # seeded
    save_model(tmp_path / "vae-gray.safetensors", vae.state_dict(), "vae", cfg, {"steps": 1})
    monkeypatch.setenv("IMAGEWIZARD_WEIGHTS", str(tmp_path))
    import imagewizard as iw

    img = np.random.default_rng(0).random((16, 16), dtype=np.float32)
    mean_out = iw.denoise(img, method="vae", sigma=25, threads=1)
    sampled = iw.denoise(img, method="vae", sigma=25, samples=4, seed=1, threads=1)
    assert mean_out.shape == img.shape and not np.array_equal(mean_out, sampled)


# --- GAN -------------------------------------------------------------------------------------------


def test_patchgan_scores_overlapping_patches():
    d, _ = build("patchgan", in_channels=2)
    assert d(torch.rand(1, 2, 128, 128)).shape == (1, 1, 14, 14)  # 70x70 receptive fields, stride 8


@pytest.mark.slow
def test_gan_training_initialised_from_a_denoiser_resumes_exactly(gray_folder, tmp_path):
    from imagewizard.models.weights import save_model

    net, cfg = build("unet", in_channels=1, **TINY_UNET)
    save_model(tmp_path / "init.safetensors", net.state_dict(), "unet", cfg, {"steps": 1})
    common = dict(gan=True, l1_weight=100.0, init=str(tmp_path / "init.safetensors"), steps=6, val_every=3)
    full = train_denoiser(_cfg(gray_folder, tmp_path / "full", **common), log=_quiet, progress=False)
    part = _cfg(gray_folder, tmp_path / "part", **common)
    train_denoiser(part, log=_quiet, progress=False, stop_after=2)
    ckpt = torch.load(tmp_path / "part" / "last.ckpt", weights_only=False)
    assert ckpt["disc"] is not None and ckpt["opt_d"] is not None
    train_denoiser(TrainConfig(), resume=tmp_path / "part", log=_quiet, progress=False)
    a = torch.load(tmp_path / "full" / "last.ckpt", weights_only=False)
    b = torch.load(tmp_path / "part" / "last.ckpt", weights_only=False)
    assert full["step"] == 6
    for k in a["model"]:
        assert torch.equal(a["model"][k], b["model"][k]), k
    for k in a["disc"]:
        assert torch.equal(a["disc"][k], b["disc"][k]), k
    card = json.loads((tmp_path / "full" / "best.json").read_text())
    assert card["method"] == "gan" and card["init"].endswith("init.safetensors")
    assert "patchgan" in card["gan"]["discriminator"] and "100" in card["gan"]["loss"]


# --- diffusion -------------------------------------------------------------------------------------


def test_sigma_maps_to_the_step_with_that_noise_level():
    sched = ddpm_scheduler()
    ratio = noise_ratio(sched.alphas_cumprod)
    for sigma in (5, 15, 25, 50, 75):
        t = step_for_sigma(sched.alphas_cumprod, sigma / 255)
        # first step at or above 2 sigma (the [-1, 1] scale), and the previous one is below
        assert ratio[t] >= 2 * sigma / 255 > ratio[t - 1]
        # the scheduler's own forward process has that noise level: x_t / sqrt(abar) = x0 + ratio * eps
        x0 = torch.zeros(1, 1, 64, 64)
        eps = torch.randn(1, 1, 64, 64, generator=torch.Generator().manual_seed(sigma))
        x_t = sched.add_noise(x0, eps, torch.tensor([t]))
        np.testing.assert_allclose(
            float((x_t / sched.alphas_cumprod[t].sqrt()).std()), float(ratio[t] * eps.std()), rtol=1e-4
        )
    assert step_for_sigma(sched.alphas_cumprod, 25 / 255) == 57


class _ZeroEps(torch.nn.Module):
    in_channels, multiple, receptive_margin = 1, 1, 0

    def forward(self, x_t, t):
        return torch.zeros_like(x_t)


def test_one_step_restoration_tops_the_noise_up_to_the_steps_exact_level():
    # With a network that predicts no noise, the one-step estimate is the started sample itself:
    # the input plus the top-up noise, whose total level must be the step's.
    abar = ddpm_scheduler().alphas_cumprod
    sigma = 20 / 255
    t = step_for_sigma(abar, sigma)
    clean = torch.full((1, 1, 256, 256), 0.5)
    noisy = clean + sigma * torch.randn(clean.shape, generator=torch.Generator().manual_seed(7))
    out = DiffusionRestorer(_ZeroEps(), steps=1)(noisy, torch.tensor([sigma]))
    np.testing.assert_allclose(float((out - clean).std()), float(noise_ratio(abar)[t]) / 2, rtol=0.02)


def test_eps_unet_from_a_denoiser_gives_that_denoisers_one_step_answer():
    torch.manual_seed(0)
    den, _ = build("unet", in_channels=1, **TINY_UNET)
    eps_net = EpsUNet(in_channels=1, **TINY_UNET)
    eps_net.denoiser.load_state_dict(den.state_dict())
    den.eval(), eps_net.eval()
    abar = eps_net.alphas_cumprod
    t = 40
    # a step's level (rounded down to float32, so the same step is chosen): almost no top-up noise
    sigma = float(np.nextafter(np.float32(float(noise_ratio(abar)[t]) / 2), np.float32(0)))
    assert step_for_sigma(abar, sigma) == t
    x = torch.rand(1, 1, 32, 32)
    with torch.no_grad():
        ref = den(x, torch.tensor([sigma]))
        out = DiffusionRestorer(eps_net, steps=1)(x, torch.tensor([sigma]))
    torch.testing.assert_close(out, ref, atol=1e-3, rtol=0)


def test_more_ddim_steps_run_and_stay_near_the_image(gray_folder):
    eps_net = EpsUNet(in_channels=1, **TINY_UNET).eval()
    x = torch.rand(1, 1, 24, 24)
    with torch.no_grad():
        one = DiffusionRestorer(eps_net, steps=1)(x, torch.tensor([0.1]))
        five = DiffusionRestorer(eps_net, steps=5, eta=1.0, seed=2)(x, torch.tensor([0.1]))
        again = DiffusionRestorer(eps_net, steps=5, eta=1.0, seed=2)(x, torch.tensor([0.1]))
    assert five.shape == one.shape == x.shape and torch.isfinite(five).all()
    assert torch.equal(five, again)


def test_diffusion_training_lowers_the_noise_prediction_loss(gray_folder, tmp_path):
    out = tmp_path / "diff"
    cfg = _cfg(
        gray_folder,
        out,
        arch="diffusion-unet",
        objective="diffusion",
        loss="mse",
        steps=40,
        val_every=10,
        lr=3e-3,
        full_schedule=True,
    )
    train_denoiser(cfg, log=_quiet, progress=False)
    losses = _losses(out)
    assert losses[-1] < 0.7 * losses[0]
    card = json.loads((out / "best.json").read_text())
    assert card["method"] == "diffusion" and card["diffusion"]["train_steps_up_to"] == 999


def test_finetuning_a_diffusers_unet_from_a_folder(gray_folder, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from imagewizard.cli.commands import app
    from imagewizard.models.diffusers_unet import DiffusersEps, save_diffusers_unet, tiny_unet

    torch.manual_seed(0)
    save_diffusers_unet(DiffusersEps(tiny_unet(sample_size=16, in_channels=1)), tmp_path / "pretrained", {})
    monkeypatch.delenv("IMAGEWIZARD_VGG19", raising=False)
    res = CliRunner().invoke(
        app,
        [
            "train",
            "diffusion",
            "--init",
            str(tmp_path / "pretrained"),
            "--data",
            str(gray_folder),
            "--channels",
            "1",
            "--patch",
            "16",
            "--batch",
            "2",
            "--steps",
            "4",
            "--val-every",
            "2",
            "--threads",
            "1",
            "--out",
            str(tmp_path / "ft"),
        ],
    )
    assert res.exit_code == 0, res.output
    card = json.loads((tmp_path / "ft" / "best" / "card.json").read_text())
    assert card["train"]["lr"] == 1e-5 and card["train"]["perceptual"] == 0.1
    assert card["diffusion"]["perceptual"]["kind"] == "ms-ssim+gradient"  # no VGG19 weights here: said so
    import imagewizard as iw

    # installed under the zoo name the method looks for, a fine-tuned diffusers UNet becomes `diffusion`
    zoo_dir = tmp_path / "zoo"
    zoo_dir.mkdir()
    (tmp_path / "ft" / "best").rename(zoo_dir / "diffusion-gray")
    monkeypatch.setenv("IMAGEWIZARD_WEIGHTS", str(zoo_dir))
    img = np.random.default_rng(0).random((16, 16), dtype=np.float32)
    out = iw.denoise(img, method="diffusion", sigma=25, threads=1)
    same = iw.denoise(img, method="diffusion", sigma=25, weights=str(zoo_dir / "diffusion-gray"), threads=1)
    assert out.shape == img.shape and np.isfinite(out).all() and np.array_equal(out, same)
