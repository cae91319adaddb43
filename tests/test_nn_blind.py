"""The blind real-photo denoiser: estimator + U-Net, its start from the Gaussian U-Net, real-noise training."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from imagewizard.core.errors import ParameterError  # noqa: E402
from imagewizard.models.archs import build  # noqa: E402
from imagewizard.models.archs.unet_blind import WithStrength  # noqa: E402
from imagewizard.models.data import RealNoise  # noqa: E402
from imagewizard.models.infer import run_tiled  # noqa: E402
from imagewizard.models.train import REAL_VAL_CASES, TrainConfig, train_denoiser  # noqa: E402

TINY = {"channels": [8, 16, 32], "blocks": 1, "shuffle": 2}
TINY_BLIND = {**TINY, "est_features": 8, "est_depth": 3}


def _constant_estimator(net, sigma255: float) -> None:
    """Make the estimator output ``sigma255`` everywhere (zero weights, softplus^-1 bias)."""
    with torch.no_grad():
        for p in net.estimator.parameters():
            p.zero_()
        net.estimator[-1].bias.fill_(math.log(math.expm1(sigma255 / 255.0)))


def test_blind_unet_started_from_a_unet_is_that_unet_at_the_estimated_level():
    torch.manual_seed(0)
    unet, _ = build("unet", **TINY)
    blind, _ = build("unet-blind", **TINY_BLIND)
    blind.load_unet_state(unet.state_dict())
    _constant_estimator(blind, 20.0)
    x = torch.rand(2, 3, 21, 30)
    with torch.no_grad():
        want = unet(x, torch.full((2,), 20 / 255.0))
        np.testing.assert_allclose(blind(x).numpy(), want.numpy(), atol=1e-5)
        # the sigma argument is ignored: the network is blind
        np.testing.assert_allclose(blind(x, torch.full((2,), 0.9)).numpy(), want.numpy(), atol=1e-5)
        # strength scales the map: strength 0.5 is the U-Net told half the level
        half = unet(x, torch.full((2,), 10 / 255.0))
        np.testing.assert_allclose(blind(x, strength=0.5).numpy(), half.numpy(), atol=1e-5)
        np.testing.assert_allclose(blind.noise_map(x).numpy(), 20.0, rtol=1e-5)
        assert blind.noise_map(x).shape == x.shape
    assert WithStrength(blind, 0.0)(x) is x  # strength 0: the input back


def test_loading_a_unet_of_another_shape_is_refused():
    gray, _ = build("unet", **TINY, in_channels=1)
    blind, _ = build("unet-blind", **TINY_BLIND)
    with pytest.raises(ValueError, match="head"):
        blind.load_unet_state(gray.state_dict())


def test_blind_tiled_inference_matches_whole_image():
    torch.manual_seed(1)
    blind, _ = build("unet-blind", **TINY_BLIND)
    blind.eval()
    img = np.random.default_rng(0).random((70, 90, 3), dtype=np.float32)
    whole = run_tiled(blind, img, 0.0, tile=256, threads=1)
    tiled = run_tiled(blind, img, 0.0, tile=16, threads=1)
    np.testing.assert_allclose(tiled, whole, atol=1e-5)


def test_real_noise_batches_are_8_bit_seeded_and_mixed():
    y, x = np.mgrid[0:32, 0:32] / 32.0
    clean = np.stack([0.2 + 0.6 * x, 0.3 + 0.4 * y, 0.5 - 0.2 * x], 0).astype(np.float32)
    batch = np.repeat(clean[None], 24, axis=0)
    noisy, sig = RealNoise()(batch, np.random.default_rng(0))
    again, _ = RealNoise()(batch, np.random.default_rng(0))
    np.testing.assert_array_equal(noisy, again)
    assert noisy.shape == batch.shape and noisy.dtype == np.float32
    np.testing.assert_allclose(noisy * 255, np.round(noisy * 255), atol=1e-4)  # on 8-bit levels
    assert noisy.min() >= 0 and noisy.max() <= 1
    assert sig.shape == (24,) and np.all(sig >= 0)
    assert len(np.unique(np.round(sig, 4))) > 12  # levels drawn per patch


def test_real_noise_training_writes_a_real_card_and_the_method_runs_it(tmp_path, monkeypatch):
    import shutil

    from PIL import Image

    import imagewizard as iw
    from imagewizard.samples import sample

    d = tmp_path / "imgs"
    d.mkdir()
    src = (sample("astronaut") * 255).astype(np.uint8)
    for i in range(6):
        Image.fromarray(src[40 * i : 40 * i + 96, 30 * i : 30 * i + 96]).save(d / f"img{i}.png")
    cfg = TrainConfig(
        arch="unet-blind",
        arch_config=TINY_BLIND,
        data=str(d),
        noise="real",
        patch=32,
        batch=2,
        steps=3,
        warmup=1,
        val_count=1,
        val_every=3,
        threads=1,
        out=str(tmp_path / "run"),
    )
    res = train_denoiser(cfg, log=lambda s: None, progress=False)
    card = json.loads((tmp_path / "run" / "best.json").read_text())
    assert card["method"] == "real" and card["noise"] == "real" and card["arch"] == "unet-blind"
    assert set(card["validation"]) >= {f"psnr_{k}" for k in REAL_VAL_CASES}
    assert res["best"]["step"] == 3
    zoo_dir = tmp_path / "zoo"  # installed as a user would: IMAGEWIZARD_WEIGHTS/real-color.*
    zoo_dir.mkdir()
    shutil.copy(tmp_path / "run" / "best.safetensors", zoo_dir / "real-color.safetensors")
    shutil.copy(tmp_path / "run" / "best.json", zoo_dir / "real-color.json")
    monkeypatch.setenv("IMAGEWIZARD_WEIGHTS", str(zoo_dir))
    weights = "real-color"
    noisy = np.clip(sample("astronaut")[:40, :40] + 0.05, 0, 1).astype(np.float32)
    out = iw.denoise(noisy, method="real", weights=weights, threads=1)
    assert out.shape == noisy.shape
    assert iw.denoise(noisy[..., 0], method="real", weights=weights, threads=1).shape == noisy.shape[:2]
    np.testing.assert_array_equal(iw.denoise(noisy, method="real", weights=weights, strength=0.0), noisy)
    with pytest.raises(ParameterError, match="noise level"):  # blind: no noise level
        iw.denoise(noisy, method="real", weights=weights, sigma=10)


def test_noise_real_refuses_a_gan():
    with pytest.raises(Exception, match="plain denoiser"):
        TrainConfig(noise="real", gan=True).validate()
    with pytest.raises(Exception, match="noise must be"):
        TrainConfig(noise="pink").validate()


def test_true_noise_map_is_the_local_noise_level():
    from imagewizard.models.train import true_noise_map

    g = torch.Generator().manual_seed(0)
    white = torch.randn(1, 3, 96, 96, generator=g) * 0.1
    m = true_noise_map(white, 2)
    assert m.shape == (1, 3, 48, 48) and abs(float(m.mean()) - 0.1) < 0.005
    # level growing left to right, and a quieter channel: the map follows both
    ramp = torch.linspace(0.02, 0.2, 96).view(1, 1, 1, 96)
    scale = torch.tensor([1.0, 1.0, 0.5]).view(1, 3, 1, 1)
    m = true_noise_map(torch.randn(1, 3, 96, 96, generator=g) * ramp * scale, 2)
    assert float(m[0, 0, :, -8:].mean()) > 5 * float(m[0, 0, :, :8].mean())
    assert abs(float(m[0, 2].mean() / m[0, 0].mean()) - 0.5) < 0.05


def test_blind_training_step_teaches_the_estimator_the_map():
    from imagewizard.models.train import _blind_step, make_loss

    torch.manual_seed(0)
    net, _ = build("unet-blind", **TINY_BLIND)
    opt = torch.optim.Adam(net.estimator.parameters(), lr=3e-3)
    clean = torch.rand(4, 3, 32, 32) * 0.5 + 0.25
    loss_fn = make_loss("mse")
    first = None
    for step in range(60):
        noisy = clean + torch.randn_like(clean) * 0.12  # sigma ~31: the estimator starts at 15
        pred, loss = _blind_step(net, noisy, clean, loss_fn, teacher=step % 2 == 0)
        assert pred.shape == clean.shape and torch.isfinite(loss)
        opt.zero_grad()
        loss.backward()
        opt.step()
        with torch.no_grad():
            level = float(net.noise_map(noisy).mean())
        first = level if first is None else first
    assert first < 20 and level > 25  # learnt toward the true 31 on the 0..255 scale
