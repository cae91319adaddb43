"""Training framework, weights and tiled inference, on tiny models and tiny data."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from imagewizard.core.errors import ParameterError  # noqa: E402
from imagewizard.io.files import guard  # noqa: E402
from imagewizard.models.archs import build  # noqa: E402
from imagewizard.models.infer import run_tiled  # noqa: E402
from imagewizard.models.train import TrainConfig, lr_at, ssim_torch, train_denoiser  # noqa: E402
from imagewizard.models.weights import load_model, save_model  # noqa: E402

TINY = {"channels": [8, 16, 32], "blocks": 1, "shuffle": 2}


@pytest.fixture(scope="module")
def image_folder(tmp_path_factory):
    """Eight small natural-looking images (crops of scikit-image samples)."""
    from PIL import Image

    from imagewizard.samples import sample

    d = tmp_path_factory.mktemp("imgs")
    src = (sample("astronaut") * 255).astype(np.uint8)
    for i in range(8):
        y, x = 40 * i, 30 * i
        Image.fromarray(src[y : y + 96, x : x + 96]).save(d / f"img{i}.png")
    return d


def _cfg(folder, out, **kw):
    base = dict(
        arch="unet",
        arch_config=TINY,
        data=str(folder),
        channels=3,
        sigma=(10.0, 40.0),
        patch=32,
        batch=4,
        steps=8,
        lr=2e-3,
        warmup=2,
        val_count=2,
        val_every=4,
        val_sigmas=(25.0,),
        seed=3,
        threads=1,
        out=str(out),
        ema=0.9,
    )
    base.update(kw)
    return TrainConfig(**base)


def test_training_lowers_the_loss_and_writes_a_card(image_folder, tmp_path):
    res = train_denoiser(
        _cfg(image_folder, tmp_path / "run", steps=30, val_every=15), log=lambda s: None, progress=False
    )
    log = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert res["step"] == 30 and len(log) == 2
    assert log[-1]["loss"] < 0.9 * log[0]["loss"]  # mean training loss of steps 16-30 vs 1-15
    card = json.loads((tmp_path / "run" / "best.json").read_text())
    assert card["arch"] == "unet" and card["steps"] in (15, 30) and "psnr_s25" in card["validation"]
    assert card["data"]["train_images"] == 6 and card["data"]["val_images"] == 2


@pytest.mark.parametrize(
    "arch,config",
    [
        ("dncnn", {"in_channels": 1, "features": 8, "depth": 4}),
        ("rednet", {"in_channels": 1, "features": 8, "depth": 4, "skip_step": 2}),
    ],
)
def test_batch_norm_and_small_archs_train_with_ema(image_folder, tmp_path, arch, config):
    # the EMA averages float weights and copies batch-norm's integer step counter
    res = train_denoiser(
        _cfg(image_folder, tmp_path / arch, arch=arch, arch_config=config, channels=1, steps=20, val_every=10),
        log=lambda s: None,
        progress=False,
    )
    log = [json.loads(line) for line in (tmp_path / arch / "log.jsonl").read_text().splitlines()]
    assert res["step"] == 20 and log[-1]["loss"] < log[0]["loss"]


def test_resume_is_exact(image_folder, tmp_path):
    train_denoiser(_cfg(image_folder, tmp_path / "a"), log=lambda s: None, progress=False)
    train_denoiser(_cfg(image_folder, tmp_path / "b"), log=lambda s: None, progress=False, stop_after=5)
    with guard():  # as the CLI runs it: the checkpoint read is an input, yet the run resumes in place
        train_denoiser(TrainConfig(), resume=tmp_path / "b", log=lambda s: None, progress=False)
    a = torch.load(tmp_path / "a" / "last.ckpt", weights_only=False)
    b = torch.load(tmp_path / "b" / "last.ckpt", weights_only=False)
    assert a["step"] == b["step"] == 8
    for k in a["model"]:
        assert torch.equal(a["model"][k], b["model"][k]), k
    with pytest.raises(ParameterError, match="cannot change"):
        train_denoiser(TrainConfig(), resume=tmp_path / "b", overrides={"patch": 64}, log=lambda s: None)


def test_save_load_round_trip_gives_identical_outputs(tmp_path):
    torch.manual_seed(0)
    model, cfg = build("unet", in_channels=1, **TINY)
    model.eval()
    save_model(tmp_path / "m.safetensors", model.state_dict(), "unet", cfg, {"note": "test"})
    loaded, card = load_model(tmp_path / "m.safetensors")
    assert card["note"] == "test" and card["dtype"] == "float32"
    x = torch.rand(1, 1, 40, 56)
    s = torch.tensor([0.1])
    with torch.inference_mode():
        assert torch.equal(model(x, s), loaded(x, s))
    (tmp_path / "bad.safetensors").write_bytes(b"not weights")
    with pytest.raises(ParameterError, match="not a valid safetensors"):
        load_model(tmp_path / "bad.safetensors")


def test_tiled_inference_matches_whole_image():
    torch.manual_seed(1)
    model, _ = build("unet", in_channels=3, **TINY)
    model.eval()
    img = np.random.default_rng(0).random((150, 170, 3), dtype=np.float32)
    whole = run_tiled(model, img, 25.0, tile=4096)
    tiled = run_tiled(model, img, 25.0, tile=48)  # many tiles, odd image size
    assert tiled.shape == img.shape and tiled.dtype == np.float32
    np.testing.assert_allclose(tiled, whole, atol=2e-5)
    gray = run_tiled(build("unet", in_channels=1, **TINY)[0].eval(), img[..., 0], 10.0, tile=32)
    assert gray.shape == img.shape[:2]


def test_receptive_margin_bounds_the_real_receptive_field():
    torch.manual_seed(2)
    model, _ = build("unet", in_channels=1, **TINY)
    model.eval()
    x = torch.rand(1, 1, 192, 192, requires_grad=True)
    model(x, torch.tensor([0.1]))[0, 0, 96, 96].backward()
    rows = np.nonzero(x.grad[0, 0].abs().sum(1).numpy())[0]
    assert 96 - rows.min() <= model.receptive_margin and rows.max() - 96 <= model.receptive_margin


def test_schedule_and_ssim_loss():
    cfg = TrainConfig(lr=1e-3, lr_min=1e-6, warmup=10, steps=110)
    assert lr_at(cfg, 0) == pytest.approx(1e-4)
    assert lr_at(cfg, 10) == pytest.approx(1e-3)
    assert lr_at(cfg, 110) == pytest.approx(1e-6)
    a = torch.rand(1, 3, 32, 32)
    assert float(ssim_torch(a, a)) == pytest.approx(1.0, abs=1e-6)
    assert float(ssim_torch(a, torch.rand(1, 3, 32, 32))) < 0.2


def test_psnr_loss_follows_the_mean_per_patch_psnr():
    from imagewizard.models.train import PSNR_LOSS_FLOOR, make_loss

    target = torch.rand(4, 1, 8, 8)
    noise = torch.randn(4, 1, 8, 8) * torch.tensor([0.01, 0.05, 0.1, 0.3]).view(-1, 1, 1, 1)
    pred = (target + noise).requires_grad_()
    make_loss("psnr")(pred, target).backward()
    ours = pred.grad.clone()
    pred.grad = None
    mse = ((pred - target) ** 2).flatten(1).mean(1)
    torch.log(mse + PSNR_LOSS_FLOOR).mean().backward()
    # the same direction: the gradient of the mean log-MSE, scaled to the MSE's size
    scale = (ours * pred.grad).sum() / (pred.grad * pred.grad).sum()
    torch.testing.assert_close(ours, scale * pred.grad)
    # a patch's share of the gradient falls with its error, unlike plain MSE where it grows
    per_patch = ours.flatten(1).norm(dim=1)
    assert per_patch[0] > per_patch[3]
    # on equal errors it is the MSE itself
    same = torch.full((2, 1, 4, 4), 0.1)
    assert float(make_loss("psnr")(same, torch.zeros_like(same))) == pytest.approx(0.01)


def test_gray_weights_alone_serve_colour_images_in_opponent_space(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    import imagewizard as iw
    from imagewizard.core import registry
    from imagewizard.cli.commands import app
    from imagewizard.tasks.denoise.opponent import OPPONENT
    from imagewizard.models import zoo
    from imagewizard.models.infer import predict

    torch.manual_seed(0)
    model, cfg = build("unet", in_channels=1, **TINY)
    save_model(
        tmp_path / "unet-gray.safetensors",
        model.state_dict(),
        "unet",
        cfg,
        {"steps": 8, "sigma_range": [0, 75], "validation": {"psnr_s25": 20.0}},
    )
    monkeypatch.setenv("IMAGEWIZARD_WEIGHTS", str(tmp_path))
    monkeypatch.setattr(zoo, "PACKAGE_WEIGHTS", tmp_path / "none")  # hide shipped colour weights
    zoo._load_cached.cache_clear()
    registry.load_builtins()
    assert registry.get("denoise", "unet").available()

    rng = np.random.default_rng(0)
    img = rng.random((24, 40, 3), dtype=np.float32)
    out = iw.denoise(img, method="unet", sigma=20)
    gray, _ = zoo.load("unet-gray")
    # each opponent channel, mapped onto [0, 1], is one gray image with its own noise level
    opp = img.astype(np.float64) @ OPPONENT.T
    hi = np.clip(OPPONENT, 0, None).sum(1)  # channel ranges for RGB in [0, 1]
    lo = np.where((OPPONENT < 0).any(1), -hi, 0.0)
    chans = []
    for c in range(3):
        scale = 1.0 / (hi[c] - lo[c])
        den = predict(gray, ((opp[..., c] - lo[c]) * scale).astype(np.float32), 20 * scale, threads=1)
        chans.append(den / scale + lo[c])
    expected = np.clip(np.stack(chans, 2) @ OPPONENT, 0, 1)
    assert out.shape == img.shape and out.dtype == np.float32
    np.testing.assert_allclose(out, expected, atol=2e-5)
    # gray weights named explicitly take the same path, whatever colour weights are installed
    monkeypatch.undo()
    monkeypatch.setenv("IMAGEWIZARD_WEIGHTS", str(tmp_path))
    np.testing.assert_allclose(iw.denoise(img, method="unet", sigma=20, weights="unet-gray"), expected, atol=2e-5)

    res = CliRunner().invoke(app, ["models"])
    assert res.exit_code == 0 and "unet-gray" in res.output


def test_colour_unet_started_from_gray_weights_is_the_gray_model_on_the_luminance(image_folder, tmp_path):
    from imagewizard.models.archs.unet import colour_state_from_gray
    from imagewizard.models.train import _init_from

    torch.manual_seed(0)
    gray, cfg = build("unet", in_channels=1, **TINY)
    colour, _ = build("unet", in_channels=3, **TINY)
    colour.load_state_dict(colour_state_from_gray(gray.state_dict(), shuffle=2))
    y = torch.rand(1, 1, 24, 40)
    sigma = torch.tensor([0.1])
    # R = G = B = y: the mean plane is y itself, whose noise the colour head is told is sigma*sqrt(3)/sqrt(3)
    with torch.no_grad():
        want = gray(y, sigma)
        got = colour(y.expand(1, 3, 24, 40), sigma * 3**0.5)
    torch.testing.assert_close(got, want.expand(1, 3, 24, 40), atol=1e-5, rtol=1e-5)

    path = tmp_path / "g.safetensors"
    save_model(path, gray.state_dict(), "unet", cfg, {"steps": 1})
    fresh, _ = build("unet", in_channels=3, **TINY)
    _init_from(fresh, str(path), "unet", log=lambda s: None)  # what `train denoiser --init` does
    for k, v in colour.state_dict().items():
        torch.testing.assert_close(fresh.state_dict()[k], v)


def test_self_ensemble_averages_the_dihedral_copies():
    from imagewizard.models.ensemble import SelfEnsemble

    class ShiftRight(torch.nn.Module):  # not equivariant: the ensemble must undo each transform
        def forward(self, x, sigma):
            return torch.roll(x, 1, -1)

    x = torch.rand(1, 1, 6, 6)
    two = SelfEnsemble(ShiftRight(), 2)(x, torch.zeros(1))  # identity and mirror: shifted right and left
    torch.testing.assert_close(two, (torch.roll(x, 1, -1) + torch.roll(x, -1, -1)) / 2)
    # a quarter turn makes the shift vertical (the mirror does not change its direction)
    four = SelfEnsemble(ShiftRight(), 4)(x, torch.zeros(1))
    want = (torch.roll(x, 1, -1) + torch.roll(x, -1, -1) + 2 * torch.roll(x, 1, -2)) / 4
    torch.testing.assert_close(four, want)
    with pytest.raises(ValueError):
        SelfEnsemble(ShiftRight(), 9)


def test_weights_of_another_method_are_refused(tmp_path):
    import imagewizard as iw

    model, config = build("dncnn", in_channels=1, depth=3, features=8)
    save_model(tmp_path / "tiny-dncnn.safetensors", model.state_dict(), "dncnn", config, {"method": "dncnn"})
    img = np.full((16, 16), 0.5, np.float32)
    with pytest.raises(ParameterError, match="belong to method 'dncnn', not 'unet'"):
        iw.denoise(img, method="unet", sigma=10, weights=str(tmp_path / "tiny-dncnn.safetensors"))
    assert iw.denoise(img, method="dncnn", weights=str(tmp_path / "tiny-dncnn.safetensors")).shape == img.shape


# the denoisers among the shipped weights (the digit generators are tested in test_generate.py, the
# upscalers in test_upscale.py)
SHIPPED = sorted(
    p.stem
    for p in (Path(__file__).resolve().parents[1] / "src" / "imagewizard" / "models" / "weights").glob("*.safetensors")
    if not p.stem.startswith(("digits-", "srnet-"))
)


@pytest.mark.parametrize("name", SHIPPED or [pytest.param("none", marks=pytest.mark.skip("no weights shipped"))])
def test_shipped_weights_load_and_raise_psnr_on_a_bundled_sample(name):
    import imagewizard as iw
    from imagewizard.models import zoo
    from imagewizard.samples import sample

    model, card = zoo.load(name)
    assert card["bytes"] < 20e6 and card["steps"] > 0 and "wall_time_hours" in card
    if card.get("task", "denoise") != "denoise":  # the boundary network: tested with the segment task
        assert card["task"] == "segment" and card["validation"]
        return
    min_gain = 6.0
    if card["data"].get("name", "").startswith("digits"):  # the course notes' dae: a digits model, tested on a digit
        from imagewizard.models.digits import load_digits32

        clean = load_digits32(28).numpy()[1700, 0]  # a test digit (training used the first 1500)
        min_gain = 2.0  # a 64-number bottleneck: it cleans digits but keeps them soft
    elif card["channels"] == 1:
        clean = sample("camera")[96:224, 160:288]
    else:
        clean = sample("astronaut")[:128, :128]
    rng = np.random.default_rng(1)
    noisy = (clean + rng.normal(0, 25 / 255, clean.shape)).astype(np.float32)
    from imagewizard.core import registry

    method = card.get("method", card["arch"])  # the method that runs them (older cards: the architecture's name)
    told = {} if registry.get("denoise", method).sigma == "none" else {"sigma": 25}  # blind nets take none
    out = iw.denoise(noisy, method=method, weights=name, threads=1, **told)
    assert iw.metrics.psnr(clean, out) > iw.metrics.psnr(clean, noisy) + min_gain


def test_a_broken_file_in_the_training_folder_is_skipped_and_named(image_folder, tmp_path, capsys):
    import shutil

    data = tmp_path / "data"
    shutil.copytree(image_folder, data)
    (data / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"x" * 40)
    res = train_denoiser(_cfg(data, tmp_path / "run", steps=4, val_every=4), log=lambda s: None, progress=False)
    assert res["step"] == 4
    err = capsys.readouterr().err
    assert "skipping" in err and "broken.png" in err and "Error" not in err


def test_device_choice_for_learned_methods():
    """Issue 17: device=auto|cpu|cuda; auto on a machine without CUDA is the CPU, with identical results."""
    import torch

    import imagewizard as iw
    from imagewizard.core.errors import ParameterError
    from imagewizard.models.infer import resolve_device

    assert resolve_device("cpu").type == "cpu"
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(ParameterError, match="device must be"):
        resolve_device("tpu")
    img = np.random.default_rng(0).random((32, 32)).astype(np.float32)
    a = iw.denoise(img, "unet", sigma=25, device="cpu")
    b = iw.denoise(img, "unet", sigma=25)
    np.testing.assert_array_equal(a, b)
    if not torch.cuda.is_available():
        with pytest.raises(ParameterError, match="no CUDA GPU"):
            iw.denoise(img, "unet", sigma=25, device="cuda")
    else:  # pragma: no cover - CI has no GPU; the device check runs this on one
        np.testing.assert_allclose(iw.denoise(img, "unet", sigma=25, device="cuda"), a, atol=1e-3)


def test_training_without_held_out_images_logs_no_nan(image_folder, tmp_path):
    # val_count=0: nothing to validate on; the log must stay strict JSON (no NaN) and say so
    lines = []
    train_denoiser(_cfg(image_folder, tmp_path / "n", val_count=0), log=lines.append, progress=False)
    import json as _json

    recs = [
        _json.loads(x, parse_constant=lambda c: pytest.fail(f"{c} in the log"))
        for x in (tmp_path / "n" / "log.jsonl").read_text().splitlines()
    ]
    assert recs and all(r["val_psnr"] is None for r in recs)
    assert any("no held-out images" in s for s in lines) and not any("nan" in s.lower() for s in lines)


def test_pruning_a_zero_padded_unet_gives_back_the_narrow_one():
    """Embed a narrow U-Net in a wider one whose extra channels are all zero (same output), prune the
    wide one back: the kept channels are exactly the narrow net's, in order, and the outputs agree."""
    import torch

    from imagewizard.models.archs.unet import UNetDenoiser, prune_state

    torch.manual_seed(0)
    narrow = UNetDenoiser(3, (8, 12, 16)).eval()
    wide = UNetDenoiser(3, (12, 16, 16)).eval()
    state = {}
    for k, w in wide.state_dict().items():
        n = narrow.state_dict()[k]
        z = torch.zeros_like(w)
        z[tuple(slice(0, s) for s in n.shape)] = n
        state[k] = z
    wide.load_state_dict(state)
    x, s = torch.rand(1, 3, 24, 40), torch.tensor([20 / 255])
    with torch.no_grad():
        assert torch.allclose(wide(x, s), narrow(x, s), atol=1e-6)
    pruned = prune_state(state, (8, 12, 16))
    for k, v in narrow.state_dict().items():
        assert torch.equal(pruned[k], v), k
    with pytest.raises(ValueError, match="narrow"):
        prune_state(state, (16, 16, 16))


def test_train_init_prunes_a_wider_unet(tmp_path, monkeypatch):
    import torch

    from imagewizard.models.archs import build
    from imagewizard.models.train import _init_from
    from imagewizard.models.weights import save_model

    torch.manual_seed(0)
    wide, cfg = build("unet", in_channels=3, channels=(12, 16, 24))
    save_model(tmp_path / "wide.safetensors", wide.state_dict(), "unet", cfg)
    narrow, _ = build("unet", in_channels=3, channels=(8, 16, 24))
    said = []
    _init_from(narrow, str(tmp_path / "wide.safetensors"), "unet", said.append)
    assert any("pruned" in line for line in said)
    # the 16- and 24-wide scales were kept whole: their inner weights are the wide net's, re-indexed
    assert narrow.state_dict()["body.0.body.0.weight"].shape == wide.state_dict()["body.0.body.0.weight"].shape


def test_exclude_that_removes_nothing_is_refused(tmp_path):
    from imagewizard.io import write
    from imagewizard.models.data import list_image_files

    for name in ("a", "b", "c"):
        write(tmp_path / "data" / f"{name}.png", np.zeros((8, 8), np.float32))
    write(tmp_path / "test" / "b.png", np.zeros((8, 8), np.float32))
    write(tmp_path / "renamed" / "test001.png", np.zeros((8, 8), np.float32))
    assert [p.stem for p in list_image_files(tmp_path / "data", tmp_path / "test")] == ["a", "c"]
    for folder, words in ((tmp_path / "renamed", "matches no file"), (tmp_path / "missing", "has no images")):
        with pytest.raises(ParameterError, match=words):
            list_image_files(tmp_path / "data", folder)
