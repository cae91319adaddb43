"""The upscale task: MATLAB-compatible resizing, the classical and learned upscalers, alpha and
bit depth through the CLI, the papers' scoring, the benchmark, pipelines and training."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import imagewizard as iw
from imagewizard.core.errors import ParameterError
from imagewizard.cli import main
from imagewizard.physics.resize import imresize

BSDS = Path(__file__).resolve().parents[2] / "shared" / "data" / "bsds500" / "images"


def smooth(h=48, w=40, c=3, seed=0) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    rng = np.random.default_rng(seed)
    chans = [0.5 + 0.3 * np.sin(6 * xx * rng.uniform(0.5, 1.5) + 4 * yy * rng.uniform(0.5, 1.5)) for _ in range(c)]
    return np.stack(chans, -1).astype(np.float32) if c > 1 else chans[0].astype(np.float32)


# --- imresize: MATLAB's numbers -----------------------------------------------------------------


def test_imresize_gives_matlabs_known_answer():
    # MATLAB R20xx: imresize([1 2; 3 4], 2) (bicubic, double input)
    want = np.array(
        [
            [0.71875, 1.015625, 1.609375, 1.90625],
            [1.3125, 1.609375, 2.203125, 2.5],
            [2.5, 2.796875, 3.390625, 3.6875],
            [3.09375, 3.390625, 3.984375, 4.28125],
        ]
    )
    np.testing.assert_allclose(imresize(np.array([[1.0, 2], [3, 4]]), 2, dtype=np.float64), want, atol=1e-12)


def test_imresize_sizes_constants_and_the_benchmark_downscale():
    from imagewizard.physics.degrade import downscale

    x = np.random.default_rng(0).random((31, 47, 3))
    assert imresize(x, 1 / 3).shape == (11, 16, 3)  # MATLAB: ceil(31/3) x ceil(47/3)
    assert imresize(x, 2.5).shape == (78, 118, 3)
    np.testing.assert_allclose(imresize(np.full((9, 7), 0.3), 3), 0.3, atol=1e-6)
    np.testing.assert_allclose(downscale(x, 3), imresize(x[:30, :45], 1 / 3, dtype=np.float64), atol=1e-6)
    with pytest.raises(ParameterError):
        imresize(x, 0)


# --- the methods -----------------------------------------------------------------------------------


def test_classical_methods_against_opencv_and_each_other():
    import cv2

    img = smooth()
    up = {m: iw.upscale(img, m, scale=2) for m in ("nearest", "bilinear", "bicubic", "opencv-bicubic", "lanczos")}
    assert all(u.shape == (96, 80, 3) and u.dtype == np.float32 for u in up.values())
    np.testing.assert_array_equal(up["nearest"], np.repeat(np.repeat(img, 2, 0), 2, 1))
    want = np.clip(cv2.resize(img, (80, 96), interpolation=cv2.INTER_LANCZOS4), 0, 1)
    np.testing.assert_allclose(up["lanczos"], want, atol=1e-6)
    # the papers' loop: shrink with MATLAB bicubic, upscale; smooth content comes back closely
    small = imresize(img, 0.5)
    back = {m: iw.upscale(np.clip(small, 0, 1), m, scale=2) for m in ("nearest", "bilinear", "bicubic")}
    err = {m: float(np.abs(b - img).mean()) for m, b in back.items()}
    assert err["bicubic"] < err["bilinear"] < err["nearest"] and err["bicubic"] < 0.01


def test_gray_alpha_and_scale_errors():
    gray = smooth(c=1)
    assert iw.upscale(gray, scale=3).shape == (144, 120)
    rgba = np.dstack([smooth(), np.linspace(0, 1, 40, dtype=np.float32)[None, :].repeat(48, 0)])
    out = iw.upscale(rgba, "lanczos", scale=2)
    assert out.shape == (96, 80, 4)
    np.testing.assert_allclose(out[..., 3], np.clip(imresize(rgba[..., 3], 2), 0, 1), atol=1e-6)
    for bad in (1, 9, 2.5, "two", True):
        with pytest.raises(ParameterError, match="scale must be an integer"):
            iw.upscale(gray, scale=bad)
    with pytest.raises(ParameterError, match="needs a scale"):
        iw.upscale(gray)
    assert iw.upscale(gray, scale="x2").shape == (96, 80)


def test_score_is_the_papers_y_psnr_with_a_border():
    from imagewizard.analysis.metrics import psnr
    from imagewizard.tasks.upscale.score import score

    a = smooth()
    b = np.clip(a + np.random.default_rng(1).normal(0, 0.02, a.shape), 0, 1).astype(np.float32)
    y = lambda x: (16 + x @ np.array([65.481, 128.553, 24.966])) / 255  # noqa: E731 - MATLAB rgb2ycbcr
    mse = np.mean((y(a)[3:-3, 3:-3] - y(b)[3:-3, 3:-3]) ** 2)
    s = score(a, b, scale=3)
    assert s["psnr"] == pytest.approx(10 * np.log10(1 / mse), abs=1e-4)
    assert s["psnr_rgb"] == pytest.approx(psnr(a, b, crop=3), abs=1e-9)


def _tiny_weights(tmp_path: Path, monkeypatch) -> None:
    import torch

    from imagewizard.models import zoo
    from imagewizard.models.archs import build
    from imagewizard.models.weights import save_model

    torch.manual_seed(0)
    model, cfg = build("srnet", scales=(2, 3), features=8, blocks=1)
    for p in model.parameters():  # random, not the bicubic start: tiling must not change anything
        torch.nn.init.normal_(p, std=0.05)
    save_model(tmp_path / "srnet-color.safetensors", model.state_dict(), "srnet", cfg, {"task": "upscale"})
    monkeypatch.setenv("IMAGEWIZARD_WEIGHTS", str(tmp_path))
    zoo._load_cached.cache_clear()


def test_learned_method_loads_weights_and_tiles_exactly(tmp_path, monkeypatch):
    from imagewizard.core import registry
    from imagewizard.models import zoo
    from imagewizard.models.upscale import upscale_tiled

    _tiny_weights(tmp_path, monkeypatch)
    assert registry.get("upscale", "learned").available()
    img = smooth(50, 70)
    whole = iw.upscale(img, "learned", scale=3, tile=4096)
    assert whole.shape == (150, 210, 3)
    tiled = iw.upscale(img, "learned", scale=3, tile=32)
    np.testing.assert_allclose(tiled, whole, atol=1e-5)
    model, _ = zoo.load("srnet-color")
    np.testing.assert_allclose(upscale_tiled(model, img[..., 0], 2, tile=24).shape, (100, 140))
    with pytest.raises(ParameterError, match="upscales by 2, 3"):
        iw.upscale(img, "learned", scale=4)


# --- files, pipelines, benchmark -------------------------------------------------------------------------


def test_cli_keeps_alpha_bit_depth_and_scores_the_papers_way(tmp_path, capsys):
    import tifffile

    rgba = (np.dstack([smooth(), np.full((48, 40), 0.5, np.float32)]) * 255).round().astype(np.uint8)
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    assert main(["upscale", str(tmp_path / "a.png"), "-o", str(tmp_path / "b.png"), "--scale", "2"]) == 0
    im = Image.open(tmp_path / "b.png")
    assert im.mode == "RGBA" and im.size == (80, 96) and np.all(np.asarray(im)[..., 3] == 128)
    t16 = (smooth() * 65535).round().astype(np.uint16)
    tifffile.imwrite(tmp_path / "s.tif", t16, photometric="rgb")
    assert main(["upscale", str(tmp_path / "s.tif"), "-o", str(tmp_path / "l.tif"), "-s", "3", "-m", "lanczos"]) == 0
    assert tifffile.imread(tmp_path / "l.tif").dtype == np.uint16
    hr = (smooth(96, 80) * 255).round().astype(np.uint8)
    Image.fromarray(hr).save(tmp_path / "hr.png")
    lr = np.clip(imresize(hr / 255.0, 0.5), 0, 1)
    Image.fromarray((lr * 255).round().astype(np.uint8)).save(tmp_path / "lr.png")
    capsys.readouterr()
    args = [
        "upscale",
        str(tmp_path / "lr.png"),
        "-o",
        str(tmp_path / "sr.png"),
        "-s",
        "2",
        "--ref",
        str(tmp_path / "hr.png"),
    ]
    assert main([*args, "--json"]) == 0
    rec = json.loads(capsys.readouterr().out)
    assert "Y channel" in rec["scored"] and rec["after"]["psnr"] > 35
    assert rec["output_megapixels_per_second"] == pytest.approx(4 * rec["megapixels_per_second"], rel=1e-6)


def test_pipeline_step_upscales():
    from imagewizard.run.pipeline import Pipeline

    p = Pipeline.from_dict({"steps": [{"method": "median"}, {"method": "lanczos", "scale": 2}]})
    out, records = p.run(smooth())
    assert out.shape == (96, 80, 3) and records[1]["method"] == "lanczos"
    with pytest.raises(ParameterError, match="scale"):
        Pipeline.from_dict({"steps": [{"method": "lanczos", "scale": 11}]})
    with pytest.raises(ParameterError, match="required"):
        Pipeline.from_dict({"steps": [{"method": "lanczos"}]})


def test_bench_scores_upscalers_on_a_folder(tmp_path):
    from imagewizard.bench import BenchConfig, run_bench

    for i in range(2):
        Image.fromarray((smooth(64, 48, seed=i) * 255).round().astype(np.uint8)).save(tmp_path / f"im{i}.png")
    res = run_bench(
        BenchConfig(
            data=str(tmp_path),
            degradations=["downscale=2"],
            methods="bicubic,nearest",
            out=str(tmp_path / "out"),
            protocol="uint8",
            workers=0,
        ),
        progress=False,
    )
    rows = [json.loads(line) for line in (tmp_path / "out" / "results.jsonl").read_text().splitlines()]
    assert {r["method"] for r in rows} == {"bicubic", "nearest"}  # no "input" row: it is the small image
    by = {r["method"]: r["psnr"] for r in rows if r["image"] == "im0"}
    assert by["bicubic"] > by["nearest"] and rows[0]["width"] == 48 and rows[0]["task"] == "upscale"
    assert res is not None


@pytest.mark.skipif(not (BSDS / "val").is_dir(), reason="BSDS500 not found beside the project")
def test_bicubic_reproduces_the_published_bsd100_figure_on_a_sample():
    # the full 100 images give 29.57 / 27.21 / 25.96 (published 29.56 / 27.21 / 25.96; docs/benchmarks.md)
    from imagewizard.models.train_sr import make_lr, modcrop, y_psnr

    path = sorted((BSDS / "val").glob("*.jpg"))[0]
    hr = np.asarray(Image.open(path).convert("RGB"))
    lr = make_lr(hr, 3)
    up = np.round(np.clip(imresize(lr / 255.0, 3, dtype=np.float64), 0, 1) * 255).astype(np.uint8)
    ours = y_psnr(modcrop(hr, 3), up, 3)
    cli = iw.upscale(lr, "bicubic", scale=3)
    assert y_psnr(modcrop(hr, 3), np.round(cli * 255).astype(np.uint8), 3) == pytest.approx(ours, abs=0.02)


# --- training ----------------------------------------------------------------------------------------------


def test_training_writes_weights_resumes_and_refuses_bsd100(tmp_path):
    from imagewizard.models.train_sr import SRConfig, train_upscaler

    for split in ("train", "test"):
        (tmp_path / "data" / split).mkdir(parents=True)
        for i in range(3):
            im = (smooth(60, 72, seed=i + (10 if split == "test" else 0)) * 255).round().astype(np.uint8)
            Image.fromarray(im).save(tmp_path / "data" / split / f"{i}.png")
    cfg = SRConfig(
        data=str(tmp_path / "data"),
        val_images=1,
        features=8,
        blocks=1,
        patch=24,
        batch=2,
        steps=4,
        val_every=2,
        checkpoint_every=2,
        out=str(tmp_path / "run"),
        scales=(2, 3),
    )
    logs: list[str] = []
    path = train_upscaler(cfg, log=logs.append)
    card = json.loads(path.with_suffix(".json").read_text())
    assert card["task"] == "upscale" and card["arch"] == "srnet" and card["data"]["val_images"] == ["2.png"]
    assert "x2" in card["validation"]["y_psnr_border_scale"]
    cfg.steps = 6
    from imagewizard.io.files import guard

    with guard():  # as the CLI runs it: resuming writes over the checkpoint it read
        train_upscaler(cfg, resume=str(tmp_path / "run" / "checkpoint.pt"), log=logs.append)
    assert any("resumed at step 4" in m for m in logs)
    with pytest.raises(ParameterError, match="BSD100"):
        train_upscaler(SRConfig(data=str(tmp_path / "data"), splits=("train", "val")))


def test_wizard_repairs_then_upscales_and_batch_takes_a_scale(tmp_path, capsys):
    noisy = np.clip(smooth(64, 64) + np.random.default_rng(0).normal(0, 20 / 255, (64, 64, 3)), 0, 1)
    Image.fromarray((noisy * 255).round().astype(np.uint8)).save(tmp_path / "n.png")
    assert main(["enhance", str(tmp_path / "n.png"), "-o", str(tmp_path / "o.png"), "--scale", "2", "--json"]) == 0
    rec = json.loads(capsys.readouterr().out)
    steps = rec["plan"]["steps"]
    assert steps[0]["task"] == "denoise" and steps[-1] == {"task": "upscale", "method": steps[-1]["method"], "scale": 2}
    assert "enlarge x2" in rec["reasons"][-1]
    assert Image.open(tmp_path / "o.png").size == (128, 128)
    (tmp_path / "in").mkdir()
    Image.fromarray((smooth() * 255).round().astype(np.uint8)).save(tmp_path / "in" / "a.png")
    assert main(["batch", str(tmp_path / "in"), str(tmp_path / "out"), "-m", "lanczos", "--scale", "3"]) == 0
    assert Image.open(tmp_path / "out" / "a.png").size == (120, 144)
    assert main(["enhance", str(tmp_path / "n.png"), "-o", str(tmp_path / "p.png"), "-m", "clahe", "--scale", "2"]) == 1


def test_perceptual_fine_tune_starts_from_weights_and_records_its_losses(tmp_path):
    import torch

    from imagewizard.models.archs import build
    from imagewizard.models.train_sr import SRConfig, train_upscaler
    from imagewizard.models.weights import load_model, save_model

    (tmp_path / "data" / "train").mkdir(parents=True)
    for i in range(3):
        Image.fromarray((smooth(60, 72, seed=i) * 255).round().astype(np.uint8)).save(
            tmp_path / "data" / "train" / f"{i}.png"
        )
    torch.manual_seed(0)
    start, cfg_arch = build("srnet", scales=(2,), features=8, blocks=1)
    init = save_model(tmp_path / "start.safetensors", start.state_dict(), "srnet", cfg_arch)
    cfg = SRConfig(
        data=str(tmp_path / "data"),
        splits=("train",),
        val_images=1,
        scales=(2,),
        features=8,
        blocks=1,
        patch=48,
        batch=2,
        steps=2,
        val_every=2,
        checkpoint_every=2,
        out=str(tmp_path / "run"),
        name="srnet-perceptual",
        init=str(init),
        gan=0.005,
        lr=1e-4,
    )
    path = train_upscaler(cfg, log=lambda m: None)
    card = json.loads(path.with_suffix(".json").read_text())
    assert card["method"] == "perceptual" and card["losses"]["gan"] == 0.005 and card["init"] == "start.safetensors"
    assert card["losses"]["perceptual_kind"] == "ms-ssim+gradient"  # no VGG19 weights here
    tuned, _ = load_model(path)
    changed = any(not torch.equal(a, b) for a, b in zip(tuned.state_dict().values(), start.state_dict().values()))
    assert changed
    ckpt = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)
    assert "disc" in ckpt and "disc_opt" in ckpt


def test_real_photo_degradations_are_seeded_and_change_the_input():
    from imagewizard.models.train_sr import degrade_real

    lo = (smooth(32, 32) * 255).round().astype(np.uint8)
    a = [degrade_real(lo, np.random.default_rng(7)) for _ in range(2)]
    assert a[0].dtype == np.uint8 and a[0].shape == lo.shape and np.array_equal(a[0], a[1])
    changed = [np.abs(degrade_real(lo, np.random.default_rng(s)).astype(int) - lo).mean() for s in range(20)]
    assert max(changed) > 1.0 and np.mean(changed) > 0.5  # most draws blur, add noise or compress


def test_the_shipped_learned_upscaler_beats_bicubic_on_a_photo_it_never_saw():
    from imagewizard.core import registry
    from imagewizard.models.train_sr import make_lr, y_psnr
    from imagewizard.samples import sample

    if not registry.get("upscale", "learned").available():
        pytest.skip("the srnet-color weights are not installed")
    hr = (sample("coffee")[:192, :240] * 255).round().astype(np.uint8)
    for s in (2, 4):
        lr = make_lr(hr, s)
        to_u8 = lambda x: np.round(np.clip(x, 0, 1) * 255).astype(np.uint8)  # noqa: E731
        learned = y_psnr(hr, to_u8(iw.upscale(lr, "learned", scale=s)), s)
        bicubic = y_psnr(hr, to_u8(iw.upscale(lr, "bicubic", scale=s)), s)
        assert learned > bicubic + 0.4, (s, learned, bicubic)
