"""Training for real files and beyond BSDS: clipped 8-bit noise, package photos, dead leaves, colour
augmentation, mixed sources and validation on held-out photos (tiny images, tiny models)."""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from imagewizard.physics import degrade as dg  # noqa: E402
from imagewizard.core.errors import ParameterError  # noqa: E402
from imagewizard.models import data as D  # noqa: E402
from imagewizard.models import photos as P  # noqa: E402
from imagewizard.models.train import TrainConfig, evaluate, train_denoiser  # noqa: E402

TINY = {"channels": [8, 16, 32], "blocks": 1, "shuffle": 2}


@pytest.fixture(scope="module")
def image_folder(tmp_path_factory):
    """Six small crops of a package photo (skimage's chelsea, CC0)."""
    from PIL import Image
    from skimage import data

    d = tmp_path_factory.mktemp("imgs")
    src = data.chelsea()
    for i in range(6):
        Image.fromarray(src[20 * i : 20 * i + 64, 30 * i : 30 * i + 64]).save(d / f"img{i}.png")
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
        steps=6,
        lr=2e-3,
        warmup=2,
        val_count=2,
        val_every=3,
        val_sigmas=(25.0,),
        seed=3,
        threads=1,
        out=str(out),
        ema=0.9,
    )
    base.update(kw)
    return TrainConfig(**base)


# --------------------------------------------------------------------------- noise as files hold it


def test_clip_round_8bit_is_the_uint8_protocol_of_degrade():
    clean = np.random.default_rng(0).random((16, 16, 3)).astype(np.float32)
    res = dg.degrade(clean, noise="gaussian:50", seed=4, protocol="uint8")
    unclipped = dg.degrade(clean, noise="gaussian:50", seed=4).image
    assert np.array_equal(res.image, dg.clip_round_8bit(unclipped))
    levels = res.image * 255
    assert res.image.min() >= 0 and res.image.max() <= 1 and np.allclose(levels, np.round(levels), atol=1e-4)


@pytest.mark.parametrize("fraction,low,high", [(0.0, 0, 0), (1.0, 6, 6), (0.5, 1, 5)])
def test_clip_fraction_clips_that_share_of_batches(image_folder, tmp_path, monkeypatch, fraction, low, high):
    calls = []
    real = dg.clip_round_8bit

    def spy(x):
        out = real(x)
        if x.ndim == 4:  # a training batch (validation passes single images)
            calls.append(out)
        return out

    monkeypatch.setattr(dg, "clip_round_8bit", spy)
    train_denoiser(
        _cfg(image_folder, tmp_path / "run", clip_fraction=fraction, val_every=100), log=lambda s: None, progress=False
    )
    assert low <= len(calls) <= high
    for b in calls:  # what the model saw: 8-bit levels in [0, 1]
        assert b.min() >= 0 and b.max() <= 1 and np.allclose(b * 255, np.round(b * 255), atol=1e-4)


def test_default_run_is_unchanged_by_the_new_options(image_folder, tmp_path):
    # clip_fraction 0, no mix: no extra random draws, so today's recipe gives today's weights
    train_denoiser(_cfg(image_folder, tmp_path / "a"), log=lambda s: None, progress=False)
    train_denoiser(
        _cfg(image_folder, tmp_path / "b", clip_fraction=0.0, mix={}, colour_aug=0.0),
        log=lambda s: None,
        progress=False,
    )
    a = torch.load(tmp_path / "a" / "last.ckpt", weights_only=False)
    b = torch.load(tmp_path / "b" / "last.ckpt", weights_only=False)
    for k in a["model"]:
        assert torch.equal(a["model"][k], b["model"][k]), k


def test_evaluate_reports_both_protocols_on_the_same_noise():
    seen = []

    class Identity(torch.nn.Module):
        def forward(self, x, sigma):
            seen.append(x.numpy().copy())
            return x

    im = np.full((32, 32, 3), 250, np.uint8)
    scores = evaluate(Identity(), [im], (25.0,), protocols=("float", "uint8"))
    assert set(scores) == {"psnr_s25", "psnr_uint8_s25"}
    flt, u8 = seen
    assert flt.max() > 1 and not np.allclose(flt * 255, np.round(flt * 255), atol=1e-3)  # unclipped float noise
    assert np.array_equal(u8, dg.clip_round_8bit(flt))  # the same draw, as a file holds it


# --------------------------------------------------------------------------- photos from packages


def test_package_photos_are_split_deduplicated_and_free_of_test_and_demo_images():
    skipped = []
    train, val = P.collect_photos("train", log=skipped.append), P.collect_photos("val")
    names_t, names_v = {p.name for p in train}, {p.name for p in val}
    assert names_v and not names_t & names_v
    excluded = {s.name for s in P.CATALOG if s.split == "exclude"}
    assert "skimage/astronaut" in excluded and not (names_t | names_v) & excluded
    for p in train + val:
        assert p.image.dtype == np.uint8 and p.image.ndim == 3 and p.image.shape[2] == 3
        assert min(p.image.shape[:2]) >= 128
        assert p.source.licence
    if P.locate(next(s for s in P.CATALOG if s.name == "pywt/camera")) is not None:
        assert "pywt/camera" not in names_t and any("pywt/camera: duplicate of skimage/camera" in s for s in skipped)


def test_missing_packages_are_skipped_and_copies_of_test_images_dropped(tmp_path, monkeypatch):
    from PIL import Image

    photos = P.collect_photos("train")
    if not photos:
        pytest.skip("no package photos installed")
    first = photos[0]
    fake = P.PhotoSource("nowhere/photo", "imagewizard_no_such_package", "x.png", "nothing", "CC0", "", "train")
    monkeypatch.setattr(P, "CATALOG", (fake, first.source))
    said = []
    assert [p.name for p in P.collect_photos("train", log=said.append)] == [first.name]
    assert said == ["nowhere/photo: not installed (nothing)"]
    # a test set holding a resized, re-encoded crop of that photo: the photo is dropped
    tests = tmp_path / "testset"
    tests.mkdir()
    h, w = first.image.shape[:2]
    crop = Image.fromarray(first.image[h // 20 : h - h // 20, w // 20 :]).resize((w // 2, h // 2))
    crop.save(tests / "01.jpg", quality=60)
    said.clear()
    assert P.collect_photos("train", exclude_folders=[tests], log=said.append) == []
    assert said[-1] == f"{first.name}: matches test image testset/01.jpg"


def test_manifest_and_export(tmp_path):
    text = P.manifest()
    for src in P.CATALOG:
        assert f"| {src.name}" in text
    files = P.export(tmp_path / "val", "val")
    assert len(files) == len(P.collect_photos("val")) and all(f.suffix == ".png" for f in files)
    from pathlib import Path

    doc = Path(__file__).resolve().parents[1] / "docs" / "training-data.md"
    for src in P.CATALOG:  # the kept manifest lists every catalogued photo
        assert f"| {src.name}" in doc.read_text(), src.name


# --------------------------------------------------------------------------- dead leaves, colour


def test_dead_leaves_is_seeded_covered_and_scale_free():
    a = D.dead_leaves(64, np.random.default_rng(5))
    assert a.shape == (64, 64, 3) and a.dtype == np.uint8
    assert np.array_equal(a, D.dead_leaves(64, np.random.default_rng(5)))
    assert not np.array_equal(a, D.dead_leaves(64, np.random.default_rng(6)))
    assert D.dead_leaves(32, np.random.default_rng(0), channels=1).shape == (32, 32, 1)
    # power spectrum ~ 1/f^k with k near 2, as in natural images (a white-noise image has k = 0)
    rng = np.random.default_rng(1)
    spec = np.zeros((128, 128))
    for _ in range(4):
        g = D.dead_leaves(128, rng, channels=1)[:, :, 0].astype(np.float64)
        spec += np.abs(np.fft.fft2(g - g.mean())) ** 2
    f = np.hypot(*np.meshgrid(np.fft.fftfreq(128), np.fft.fftfreq(128), indexing="ij"))
    band = (f > 0.02) & (f < 0.3)
    slope = np.polyfit(np.log(f[band]), np.log(spec[band]), 1)[0]
    assert -3.0 < slope < -1.3


def test_colour_augment_keeps_structure_reaches_strong_colours_and_rounds_to_8_bits():
    rng = np.random.default_rng(0)
    x = np.stack([np.linspace(0.3, 0.6, 256).reshape(16, 16)] * 3).astype(np.float32)  # a gray ramp
    x[0] += 0.1  # slightly reddish
    outs = [D.colour_augment(x, rng) for _ in range(20)]
    for y in outs:
        assert y.shape == x.shape and y.min() >= 0 and y.max() <= 1
        assert np.allclose(y * 255, np.round(y * 255), atol=1e-4)
        assert np.corrcoef(y.mean(0).ravel(), x.mean(0).ravel())[0, 1] > 0.9  # the ramp is still there
    chroma = [float(np.abs(y - y.mean(0)).max()) for y in outs]
    assert max(chroma) > 0.15 > 0.05 > min(chroma)  # saturation both raised and lowered
    gray = np.full((1, 8, 8), 0.5, np.float32)
    assert D.colour_augment(gray, rng).shape == (1, 8, 8)


def test_parse_mix():
    assert D.parse_mix("folder=3,photos=1") == {"folder": 0.75, "photos": 0.25}
    assert D.parse_mix(None) == {}
    for bad in ("bsds=1", "folder", "folder=-1", "folder=0", "folder=x"):
        with pytest.raises(ParameterError):
            D.parse_mix(bad)


def test_mixed_sampler_follows_the_weights_and_spares_dead_leaves_the_colour_change():
    class Const:
        def __init__(self, v):
            self.v = v

        def sample(self, n, rng):
            return np.full((n, 3, 8, 8), self.v, np.float32)

    m = D.MixedSampler(
        {"folder": Const(0.2), "dead-leaves": Const(0.6)}, {"folder": 0.25, "dead-leaves": 0.75}, colour_aug=1.0
    )
    out = m.sample(400, np.random.default_rng(0))
    leaves = np.all(out == np.float32(0.6), axis=(1, 2, 3))
    assert 0.68 < leaves.mean() < 0.82
    assert not np.any(np.all(out[~leaves] == np.float32(0.2), axis=(1, 2, 3)))  # every folder patch changed


# --------------------------------------------------------------------------- a mixed run


def test_mixed_run_validates_on_held_out_photos_under_both_protocols(image_folder, tmp_path):
    if not P.collect_photos("val") or not P.collect_photos("train"):
        pytest.skip("package photos not installed")
    lines = []
    cfg = _cfg(
        image_folder,
        tmp_path / "mix",
        mix=D.parse_mix("folder=0.5,photos=0.3,dead-leaves=0.2"),
        colour_aug=0.5,
        clip_fraction=0.5,
        val_set="photos",
        val_protocols=("float", "uint8"),
        val_crop=48,
    )
    train_denoiser(cfg, log=lines.append, progress=False)
    rec = [json.loads(s) for s in (tmp_path / "mix" / "log.jsonl").read_text().splitlines()][-1]
    assert {"psnr_s25", "psnr_uint8_s25"} <= set(rec)
    assert abs(rec["val_psnr"] - (rec["psnr_s25"] + rec["psnr_uint8_s25"]) / 2) < 1e-3  # chosen on both
    card = json.loads((tmp_path / "mix" / "best.json").read_text())
    assert card["data"]["train_images"] == 6  # the folder is trained on whole
    assert card["data"]["val_images"] == len(P.collect_photos("val"))
    assert set(card["data"]["photos"]["train"]) == {p.name for p in P.collect_photos("train", min_side=32)}
    assert "held-out package photos" in card["validation"]["images"]
    assert any(s.startswith("mix: ") for s in lines)
    with pytest.raises(ParameterError, match="colour_aug needs"):
        train_denoiser(_cfg(image_folder, tmp_path / "bad", colour_aug=0.5), log=lambda s: None, progress=False)


def test_cli_passes_the_new_options(image_folder, tmp_path):
    from typer.testing import CliRunner

    from imagewizard.cli.commands import app

    res = CliRunner().invoke(
        app,
        [
            "train",
            "denoiser",
            "--arch",
            "unet",
            "--arch-config",
            "channels=8,16,32",
            "--data",
            str(image_folder),
            "--patch",
            "32",
            "--batch",
            "2",
            "--steps",
            "2",
            "--val-every",
            "2",
            "--threads",
            "1",
            "--clip-fraction",
            "0.5",
            "--mix",
            "folder=2,dead-leaves=1",
            "--colour-aug",
            "0.3",
            "--val-protocols",
            "float,uint8",
            "--out",
            str(tmp_path / "cli"),
        ],
    )
    assert res.exit_code == 0, res.output
    train = json.loads((tmp_path / "cli" / "best.json").read_text())["train"]
    assert train["clip_fraction"] == 0.5 and train["colour_aug"] == 0.3
    assert train["mix"] == pytest.approx({"folder": 2 / 3, "dead-leaves": 1 / 3})
    assert train["val_protocols"] == ["float", "uint8"]
