"""The wizard (`imagewizard enhance` without --method): plans from measurements, does no harm."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml

import imagewizard as iw
from imagewizard.cli.commands import main
from imagewizard.run.pipeline import Pipeline
from imagewizard.samples import sample
from imagewizard.run.wizard import auto, plan


@pytest.fixture(scope="module")
def clean():
    return sample("astronaut")[:128, 128:256].copy()


def test_clean_photo_is_left_alone(clean):
    decided = plan(clean)
    assert decided.pipeline is None and decided.reasons == []
    out, _, records = auto(clean)
    assert records == [] and iw.metrics.psnr(clean, out) == np.inf


def test_gaussian_noise_plans_a_denoiser_at_the_estimated_sigma(clean):
    noisy = iw.degrade.degrade(clean, noise="gaussian:20", seed=0, protocol="uint8").image
    decided = plan(noisy)
    (step,) = decided.pipeline.steps
    assert step.task == "denoise" and step.sigma == "auto" and step.method in ("unet", "bm3d", "nlm")
    assert "sigma 2" in decided.reasons[0]  # the estimate, about 20
    out, _, records = auto(noisy)
    assert abs(records[0]["sigma"] - 20) < 3
    assert iw.metrics.psnr(clean, out) > iw.metrics.psnr(clean, noisy) + 6


def test_impulse_noise_plans_a_median(clean):
    noisy = iw.degrade.degrade(clean, noise="salt-pepper:0.05", seed=0, protocol="uint8").image
    decided = plan(noisy)
    assert [(s.task, s.method) for s in decided.pipeline.steps] == [("denoise", "median")]
    out, _, _ = auto(noisy)
    assert iw.metrics.psnr(clean, out) > iw.metrics.psnr(clean, noisy) + 10


def test_low_contrast_is_stretched(clean):
    dull = (0.3 + 0.35 * clean).astype(np.float32)
    decided = plan(dull)
    assert [s.method for s in decided.pipeline.steps] == ["stretch"]
    out, _, _ = auto(dull)
    assert iw.metrics.psnr(clean, out) > iw.metrics.psnr(clean, dull) + 10


def _dull_with_thin_lines(clean):
    """Tones squeezed to 0.3-0.65, but 2-pixel dark and bright lines on 12 % of the rows: the values'
    1st-99th percentiles span 0.7 (not low contrast), the smoothed tones (lines blurred) under 0.5."""
    img = (0.3 + 0.35 * clean).astype(np.float32)
    for k in range(2):
        img[k::32] = 0.15
        img[16 + k :: 32] = 0.85
    return img


def test_under_noise_the_stretch_is_decided_on_the_denoised_image(clean):
    lined = _dull_with_thin_lines(clean)
    assert not plan(lined).pipeline  # clean, its tones are measured as they are: nothing to stretch
    noisy = iw.degrade.degrade(lined, noise="gaussian:20", seed=0, protocol="uint8").image
    decided = plan(noisy)
    steps = decided.pipeline.steps
    assert [s.task for s in steps] == ["denoise", "enhance"] and steps[1].method == "stretch"
    assert steps[1].params["max_range"] == 0.5 and "after denoising" in decided.reasons[1]
    out, _, _ = auto(noisy)
    only_denoised, _ = Pipeline.from_dict({"name": "d", "steps": [decided.pipeline.to_dict()["steps"][0]]}).run(noisy)
    np.testing.assert_array_equal(out, only_denoised)  # the lines survive denoising: no stretch
    # a photo that is dull under the noise and after it is still stretched
    dull = iw.degrade.degrade((0.3 + 0.3 * clean).astype(np.float32), noise="gaussian:20", seed=0, protocol="uint8")
    out, decided, _ = auto(dull.image)
    assert [s.method for s in decided.pipeline.steps][-1] == "stretch"
    assert np.subtract(*np.percentile(out, [99, 1])) > 0.8


def test_cli_dry_run_explain_and_saved_plan_replays(clean, tmp_path, capsys):
    noisy = iw.degrade.degrade(clean, noise="salt-pepper:0.05", seed=0, protocol="uint8").image
    iw.write(tmp_path / "in.png", noisy)
    args = ["enhance", str(tmp_path / "in.png"), "-o", str(tmp_path / "out.png")]
    assert main(args + ["--dry-run", "--explain", "--save-plan", str(tmp_path / "plan.yaml")]) == 0
    text = capsys.readouterr().out
    assert "1. denoise median: impulse" in text and "noise_type=salt-pepper" in text
    assert not (tmp_path / "out.png").exists()  # dry run writes no image
    saved = yaml.safe_load((tmp_path / "plan.yaml").read_text())
    assert saved["steps"][0]["method"] == "median"
    assert main(args + ["--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["plan"]["steps"][0]["method"] == "median" and record["steps"][0]["method"] == "median"
    # the saved plan replays through `imagewizard run` to the same image
    assert main(["run", str(tmp_path / "plan.yaml"), str(tmp_path / "in.png"), "-o", str(tmp_path / "replay.png")]) == 0
    np.testing.assert_array_equal(iw.read(tmp_path / "replay.png")[0], iw.read(tmp_path / "out.png")[0])
    assert main(args + ["--method", "clahe", "--dry-run"]) == 1
    assert "for the wizard" in capsys.readouterr().err
    assert isinstance(Pipeline.load(tmp_path / "plan.yaml"), Pipeline)


def test_jpeg_blocking_plans_deblocking_at_the_estimated_quality(clean):
    from imagewizard.physics.degrade import jpeg_compress

    blocky = jpeg_compress(clean, 15)
    decided = plan(blocky)
    assert [(s.method, s.params) for s in decided.pipeline.steps][0] == ("deblock", {"quality": 15})
    out, _, _ = auto(blocky)
    assert iw.metrics.psnr(clean, out) > iw.metrics.psnr(clean, blocky) + 0.3


def test_shot_noise_plans_the_anscombe_transform(clean):
    noisy = iw.degrade.degrade(clean, noise="poisson:20", seed=0, protocol="uint8").image
    decided = plan(noisy)
    assert [s.method for s in decided.pipeline.steps] == ["anscombe"]
    assert "photons at white" in decided.reasons[0]


def test_the_wizard_is_a_registered_method(clean):
    dull = (0.3 + 0.35 * clean).astype(np.float32)
    np.testing.assert_array_equal(iw.enhance(dull, method="wizard"), auto(dull)[0])
    p = Pipeline.from_dict({"steps": [{"method": "wizard"}]})
    np.testing.assert_array_equal(p.run(dull)[0], auto(dull)[0])


def test_real_photo_noise_goes_to_the_real_photo_denoiser(clean, monkeypatch):
    from imagewizard.analysis.estimate import residual
    from imagewizard.physics.degrade import degrade

    rms = {"value": 9.0}
    monkeypatch.setattr(residual, "available", lambda: True)
    monkeypatch.setattr(residual, "noise_rms", lambda img, **kw: rms["value"])
    monkeypatch.setattr(residual, "map_rms", lambda img, **kw: 8.0)  # below what it removes: strength 1
    camera = degrade(clean, noise="camera:1600", seed=0, protocol="uint8").image
    decided = plan(camera)
    assert [s.method for s in decided.pipeline.steps] == ["real"]
    assert "correlated" in decided.reasons[0] and decided.analysis["noise_rms"] == 9.0
    # white noise of the same RMS stays with the Gaussian flagship told its sigma (rms ~ sigma)
    white = degrade(clean, noise="gaussian:9", seed=0, protocol="uint8").image
    assert [s.method for s in plan(white).pipeline.steps] != ["real"]
    # white noise under JPEG is correlated too
    assert [s.method for s in plan(degrade(clean, noise="gaussian:9", jpeg=80, seed=0).image).pipeline.steps] == [
        "real"
    ]
    # a residual at the level of clean photos' grain (below REAL_NOISE_MIN_RMS) is left alone
    rms["value"] = 4.0
    assert plan(clean).pipeline is None
    monkeypatch.setattr(residual, "available", lambda: False)  # without the model: as before
    without = plan(camera)
    assert without.pipeline is None or "real" not in [s.method for s in without.pipeline.steps]


def test_the_real_photo_denoisers_map_is_scaled_down_when_it_reads_above_what_it_removes(clean, monkeypatch):
    from imagewizard.analysis.estimate import residual
    from imagewizard.physics.degrade import degrade

    monkeypatch.setattr(residual, "available", lambda: True)
    monkeypatch.setattr(residual, "noise_rms", lambda img, **kw: 6.0)
    monkeypatch.setattr(residual, "map_rms", lambda img, **kw: 8.0)
    camera = degrade(clean, noise="camera:400", seed=0, protocol="uint8").image
    decided = plan(camera)
    (step,) = decided.pipeline.steps
    assert step.method == "real" and step.params == {"strength": round((6.0 / 8.0) ** 2, 2)}
    assert "map reads 8.0 where it removes 6.0" in decided.reasons[0]
    assert residual.calibrated_strength(1.0, 8.0) == residual.STRENGTH_MIN  # never below the floor
    assert residual.calibrated_strength(5.0, None) == 1.0  # no map (no torch): as estimated


def test_the_calibrated_strength_helps_on_nearly_clean_camera_noise(clean):
    # the real model itself: at ISO 200 its map over-reads, so the scaled map keeps more detail
    from imagewizard.analysis.estimate import residual
    from imagewizard.physics.degrade import degrade

    if not residual.available():
        pytest.skip("the real-photo denoiser is not installed")
    camera = degrade(clean, noise="camera:200", seed=1, protocol="uint8").image
    rms, level = residual.noise_rms(camera), residual.map_rms(camera)
    if level is None:
        pytest.skip("no torch: the map is not available")
    strength = residual.calibrated_strength(rms, level)
    assert strength < 1.0
    full = iw.denoise(camera, method="real")
    scaled = iw.denoise(camera, method="real", strength=strength)
    assert iw.metrics.psnr(scaled, clean) > iw.metrics.psnr(full, clean)


def test_a_pipeline_step_gives_the_real_denoisers_strength_as_a_parameter_or_a_field(clean):
    from imagewizard.core import registry
    from imagewizard.core.errors import ParameterError

    if not registry.get("denoise", "real").available():
        pytest.skip("the real-photo denoiser is not installed")
    img = clean[:48, :48]
    by_param = Pipeline.from_dict({"steps": [{"task": "denoise", "method": "real", "params": {"strength": 0.5}}]}).run(
        img
    )[0]
    by_field = Pipeline.from_dict({"steps": [{"task": "denoise", "method": "real", "strength": 0.5}]}).run(img)[0]
    np.testing.assert_array_equal(by_param, by_field)
    np.testing.assert_array_equal(by_param, iw.denoise(img, method="real", strength=0.5))
    with pytest.raises(ParameterError, match="strength given twice"):
        Pipeline.from_dict(
            {"steps": [{"task": "denoise", "method": "real", "strength": 0.5, "params": {"strength": 0.5}}]}
        )
