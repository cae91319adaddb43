"""The wizard: analyse an image, decide a plan of restoration steps, say why, run it.

The plan is an ordinary :class:`~imagewizard.run.pipeline.Pipeline`, so it can be printed, saved
(``enhance --save-plan plan.yaml``) and replayed on other images with ``imagewizard run``.

The rules are deliberately conservative: a step is planned only when the measurement behind it
is clear (for example a noise level well above what 8-bit quantisation and fine texture
produce), so that a clean, well-exposed photo comes back unchanged.

Examples
--------
>>> import numpy as np
>>> from imagewizard.run.wizard import plan
>>> rng = np.random.default_rng(0)
>>> flat = np.full((64, 64), 0.5, np.float32)
>>> decided = plan(flat + rng.normal(0, 20 / 255, flat.shape).astype(np.float32))
>>> decided.pipeline.steps[0].task
'denoise'
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from imagewizard.core import registry
from imagewizard.run.pipeline import Pipeline

#: Estimated Gaussian noise below this (0..255 scale) is left alone: 8-bit rounding alone gives
#: 0.3, and the estimator reads fine texture of clean photos as up to about 1.5.
NOISE_MIN_SIGMA = 3.0
#: Denoisers in order of preference; the first one installed (and with weights) is used.
DENOISERS = ("unet", "bm3d", "nlm")
#: For the noise of real photos (camera noise: correlated, chroma, growing in the shadows; noise under
#: JPEG; low light): the blind real-photo denoiser first, which estimates its own noise map.
REAL_DENOISERS = ("real", "unet", "bm3d", "nlm")
#: Real-photo noise (the RMS of what the real-photo denoiser removes, analysis.estimate.residual)
#: counts from this level: on 40 clean BSDS500 training photos the shipped model removes 3.2
#: (median) to 4.5 (grain and JPEG artefacts), from camera noise at ISO 800 6.2-7.9. Since the map
#: is calibrated (_real_step) the floor can sit just above the clean photos' range: on every 5th
#: BSDS500 training photo and the 4 held-out package photos, each clean and under camera noise at
#: ISO 100-800 (benchmarks/checks/real_noise_floor.py), the clean ones read 1.8-4.6; 5.0 touches
#: none of them and gains 2.84 dB on average on the noisy ones, 5.5 2.63. (4.5 gained 3.22 there
#: but touched one clean photo of 44, and on the no-harm check's BSDS500 test photos 10 of 200,
#: one down to 37.05 dB: under the 38 dB rule.)
REAL_NOISE_MIN_RMS = 5.0
#: Noise whose RMS is this many times the white-noise estimate is correlated (demosaicing, JPEG):
#: white Gaussian noise gives 0.8-0.93, camera noise at ISO 800 1.9-16.
CORRELATED_RATIO = 1.5
#: Noise that grows with brightness counts as a camera's (correlated) only from this binned ratio
#: (see _real_noise); independent shot noise goes to the Anscombe step.
BINNED_RATIO_MIN = 2.0
#: Isolated specks (contrast 0.3, tasks.denoise.dust) are dust when they cover this share of the
#: pixels and spread over the frame as a random scatter does (clean photos' glints cluster; see
#: tasks.denoise.dust for the measurements behind both numbers).
DUST_MIN_FRACTION = 0.001
DUST_MIN_SPREAD = 0.78
#: Low light, i.e. underexposed: a log-average linear luminance ("key") below LOW_LIGHT_KEY (typical
#: photos: 0.05-0.26, BSDS500 training photos 10-90 %, median 0.13) *and* nothing bright (99.5th
#: percentile of luminance below LOW_LIGHT_HIGHLIGHT). Photos meant to be dark keep their highlights:
#: the 13 BSDS500 training photos with a key under 0.04 all reach 0.7 or more; three stops under, a
#: white reaches 0.39.
LOW_LIGHT_KEY = 0.05
LOW_LIGHT_HIGHLIGHT = 0.5
#: A tonal range (1st to 99th percentile of luminance) narrower than this is stretched.
LOW_CONTRAST_RANGE = 0.5
#: Where a stretch puts the 1st and 99th percentiles: their medians over the 200 BSDS500 training
#: photos (0.043 and 0.951), so a flattened photo gets a typical tonal range back, not a clipped one.
STRETCH_TO = (0.04, 0.95)


@dataclass
class Plan:
    """What the wizard decided: the pipeline, one reason per step, and the measurements."""

    pipeline: Pipeline | None
    reasons: list[str]
    analysis: dict[str, Any]
    skipped: list[str] = field(default_factory=list)


def _range_without_noise(img: np.ndarray) -> float:
    """1st-99th percentile spread of the luminance after a 3x3 median and a light blur (noise removed)."""
    from scipy import ndimage

    from imagewizard.core.arrays import to_gray

    y = ndimage.gaussian_filter(ndimage.median_filter(to_gray(img), size=3), 1.5)
    lo, hi = np.percentile(y, [1, 99])
    return float(hi - lo)


def _peak(a: dict[str, Any]) -> float | None:
    fit = (a.get("noise_evidence") or {}).get("poisson_fit")
    return 255.0 / fit[1] if fit and fit[1] > 0 else None


def _binned_ratio(colour: np.ndarray, sigma: float, a: dict[str, Any]) -> float:
    """Noise level after 2x2 binning over the half white noise would keep (1: white; recorded in ``a``)."""
    from imagewizard.analysis.estimate import noise_sigma

    if "binned_noise_ratio" not in a:
        h, w = colour.shape[0] // 2 * 2, colour.shape[1] // 2 * 2
        x = colour[:h, :w]
        binned = 0.25 * (x[0::2, 0::2] + x[1::2, 0::2] + x[0::2, 1::2] + x[1::2, 1::2])
        a["binned_noise_ratio"] = 2.0 * float(noise_sigma(binned)) / max(sigma, 1e-3)
    return float(a["binned_noise_ratio"])


def _real_noise(colour: np.ndarray, a: dict[str, Any], sigma: float, shot: bool = False) -> bool:
    """Whether the noise looks like a real photo's (records ``noise_rms`` in ``a``); needs the real model.

    ``shot``: the noise fits shot noise (its level grows with brightness). Independent shot noise
    is the Anscombe step's (Set12 at peak 30: 28.46 dB against 27.97 with some images sent here);
    camera noise grows with brightness too but is correlated: 2x2 binning leaves it at
    :data:`BINNED_RATIO_MIN` or more times the half that white noise keeps (camera noise 2.6-8.0,
    Poisson 0.8-2.5, Gaussian 0.9-1.1 on BSDS500 training photos).
    """
    from imagewizard.analysis.estimate import residual

    if not residual.available():
        return False
    if a.get("noise_rms") is None:
        a["noise_rms"] = residual.noise_rms(colour)
    rms = float(a["noise_rms"] or 0.0)
    if rms < REAL_NOISE_MIN_RMS:
        return False
    if rms >= CORRELATED_RATIO * max(sigma, 0.5) and (not shot or _binned_ratio(colour, sigma, a) >= BINNED_RATIO_MIN):
        return True
    from imagewizard.analysis.estimate import jpeg_quality

    # white noise saved as a JPEG is no longer white: the real-photo denoiser was trained on that too
    if "jpeg_grid_quality" not in a:
        a["jpeg_grid_quality"] = jpeg_quality(colour)[0]
    return a["jpeg_grid_quality"] is not None


def _real_step(colour: np.ndarray, a: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """The real-photo denoiser's step and what to add to its reason: its noise map scaled down when it
    reads above the noise measured as what the denoiser removes (``noise_rms``, JPEG's loss included:
    it over-reads on nearly clean photos and would smooth their detail;
    :func:`imagewizard.analysis.estimate.residual.calibrated_strength`)."""
    from imagewizard.analysis.estimate import residual

    step: dict[str, Any] = {"task": "denoise", "method": "real"}
    measured = a.get("noise_rms")  # what it removes plus JPEG's loss: the map answers for the whole error
    if measured is None:
        return step, ""
    if "real_map_rms" not in a:
        a["real_map_rms"] = residual.map_rms(colour)
    level = a["real_map_rms"]
    strength = residual.calibrated_strength(float(measured), level)
    if strength >= 0.995:
        return step, ""
    step["params"] = {"strength": round(strength, 2)}
    return step, (
        f"; its own noise map reads {level:.1f} where it removes {float(measured):.1f}, so the map is scaled "
        f"by {strength:.2f} (on nearly clean photos the map reads high and would smooth detail away)"
    )


#: Upscalers by preference; the first installed is used (BSD100, docs/benchmarks.md: the learned
#: network first; Lanczos is 0.2-0.4 dB above MATLAB bicubic at x2-x4).
UPSCALERS = ("learned", "lanczos", "bicubic")


def plan(img: np.ndarray, analysis: dict[str, Any] | None = None, *, scale: int | None = None) -> Plan:
    """Measure ``img`` and decide the steps that should improve it.

    Parameters
    ----------
    img : ndarray
        HxW or HxWx3 float image.
    analysis : dict, optional
        The result of :func:`imagewizard.analysis.estimate.analyze`, if already computed.

    Returns
    -------
    Plan
        ``pipeline`` is None when nothing needs doing.
    """
    from imagewizard.core.arrays import split_alpha
    from imagewizard.analysis.estimate import analyze

    colour, _ = split_alpha(np.asarray(img, dtype=np.float32))
    a = analysis if analysis is not None else analyze(colour)
    steps: list[dict[str, Any]] = []
    reasons: list[str] = []
    skipped: list[str] = []
    ntype, sigma = a.get("noise_type"), float(a.get("noise_sigma") or 0.0)
    impulses = float((a.get("noise_evidence") or {}).get("impulse_fraction") or 0.0)

    if a.get("likely_blocky") and a.get("jpeg_quality"):
        q = int(a["jpeg_quality"])
        steps.append({"task": "denoise", "method": "deblock", "params": {"quality": q}})
        how = "" if a.get("jpeg_quality_exact") else " (approximately: not the standard tables)"
        reasons.append(
            f"JPEG blocking (block-edge jumps {a.get('blockiness', 0):.2f}x the others) from quality {q}"
            f"{how}: deblock by re-encoding on all 64 shifts of the 8x8 grid and averaging"
        )
    elif a.get("likely_blocky"):
        skipped.append(
            f"JPEG-like blocking measured ({a.get('blockiness', 0):.2f}) but no JPEG quality could be "
            "estimated: left alone"
        )

    specks = float(a.get("speck_fraction") or 0.0)
    spread = float(a.get("speck_spread") or 0.0)
    if specks >= DUST_MIN_FRACTION and spread >= DUST_MIN_SPREAD and ntype != "salt-pepper":
        steps.append({"task": "denoise", "method": "dust"})
        reasons.append(
            f"dust or specks: {100 * specks:.2f}% of the pixels are isolated spots standing out from everything "
            f"around them, scattered over the whole frame (spread {spread:.2f}); filled from their surroundings "
            "first, so that no denoiser smears them into blotches"
        )
    key = float(a.get("key") if a.get("key") is not None else 1.0)
    low_light = key < LOW_LIGHT_KEY and float(a.get("highlight_level", 1.0)) < LOW_LIGHT_HIGHLIGHT
    if low_light:
        # Lifting multiplies the noise with the light: denoise first, on the dark image, whatever
        # its level reads there (shot and read noise sit in the shadows), then expose in linear light.
        name = registry.first_available("denoise", REAL_DENOISERS)
        steps.append(
            {"task": "denoise", "method": name}
            if name == "real"
            else {"task": "denoise", "method": name, "sigma": "auto"}
        )
        reasons.append(
            f"low light (log-average luminance {key:.3f}, {np.log2(0.13 / max(key, 1e-6)):.1f} stops under a "
            f"typical photo): denoise first with {name}, before lifting would amplify the noise"
        )
        steps.append({"task": "enhance", "method": "exposure"})
        reasons.append(
            "then expose in linear light to a typical photo's key, highlights rolled off, hue and "
            "saturation kept (a stretch or gamma on the sRGB values would bend tones and colours)"
        )
    elif ntype != "salt-pepper" and _real_noise(colour, a, sigma, shot=ntype == "poisson" and _peak(a) is not None):
        rms = float(a["noise_rms"])
        if steps and steps[-1]["method"] == "deblock":  # the real-photo denoiser takes JPEG'd noise as it is
            steps.pop()
            reasons.pop()
        step, calibrated = _real_step(colour, a)
        steps.append(step)
        reasons.append(
            f"real-photo noise: RMS {rms:.1f} (0..255) removed by the real-photo denoiser, "
            f"{rms / max(sigma, 0.5):.1f}x what white noise would show ({sigma:.1f}): correlated and "
            "signal-dependent like a camera's (demosaicing, colour processing, JPEG); the blind real-photo "
            "denoiser, which estimates its own per-pixel noise map" + calibrated
        )
    elif ntype == "salt-pepper":
        steps.append({"task": "denoise", "method": "median", "params": {"size": 3}})
        reasons.append(
            f"impulse (salt-and-pepper) noise on {100 * impulses:.1f}% of pixels: a 3x3 median "
            "removes isolated extremes and keeps edges"
        )
    elif sigma >= NOISE_MIN_SIGMA and ntype == "poisson" and _peak(a) is not None:
        steps.append({"task": "denoise", "method": "anscombe"})
        reasons.append(
            f"shot (Poisson) noise, variance growing with brightness (about {_peak(a):.0f} photons at "
            f"white; sigma {sigma:.1f} in the smooth areas): Anscombe transform, the best denoiser "
            "installed at unit sigma, unbiased inverse"
        )
    elif sigma >= NOISE_MIN_SIGMA:
        name = registry.first_available("denoise", DENOISERS)
        steps.append({"task": "denoise", "method": name, "sigma": "auto"})
        kind = {
            "gaussian": "Gaussian",
            "poisson": "signal-dependent (Poisson-like)",
            "speckle": "multiplicative (speckle)",
        }.get(str(ntype), str(ntype))
        reasons.append(
            f"{kind} noise of sigma {sigma:.1f} (0..255 scale): {name}, the best denoiser installed, "
            "at the noise level estimated from the image"
        )
    else:
        skipped.append(f"no denoising: noise sigma {sigma:.1f} is below {NOISE_MIN_SIGMA:g}")

    if a.get("likely_blurred") and all(st["method"] == "dust" for st in steps):
        steps.append({"task": "deblur", "method": "blind-rl"})
        reasons.append(
            f"soft image (detail ratio {a.get('detail_ratio', 0):.2f}) without noise to amplify: "
            "blind Richardson-Lucy, which estimates the blur kernel and the sharp image in turn "
            "(with a known kernel, imagewizard deblur does better)"
        )
    elif a.get("likely_blurred"):
        skipped.append("soft image, but sharpening after denoising would bring the noise back")

    span = float(a.get("range_used") or 1.0)
    denoised_first = bool(steps) and steps[0]["task"] == "denoise"
    if denoised_first:
        # Noise widens the percentiles; judge the tones under it. Smoothing alone also erases thin
        # dark and bright details (a CBSD68 photo: 0.78 -> 0.47), and the raw spread less at most
        # 2 x 2.33 noise stds (the 1st/99th percentiles of the noise) is a floor of the true one.
        level = max(sigma, float(a.get("noise_rms") or 0.0)) / 255.0
        span = max(_range_without_noise(colour), span - 2 * 2.33 * level)
    if low_light:
        skipped.append("no contrast stretch: the exposure step restores the tones")
    elif a.get("low_contrast") or span < LOW_CONTRAST_RANGE:
        params = {"low": 1.0, "high": 99.0, "black": STRETCH_TO[0], "white": STRETCH_TO[1]}
        how = (
            f"stretch the 1st-99th percentiles to {STRETCH_TO[0]:g}-{STRETCH_TO[1]:g}, where they sit in typical "
            "photos (one mapping for all channels, so colours keep their balance)"
        )
        if denoised_first and not a.get("low_contrast"):
            # Under noise the range is only an estimate (the smoothed one loses thin darks and lights:
            # on BSDS500 training photos it flags 12 of 100 where the clean photos' own range flags 7);
            # the step measures the denoised image the way a clean photo is measured, and decides then.
            params["max_range"] = LOW_CONTRAST_RANGE
            reasons.append(
                f"possibly low contrast: under the noise the tones seem to span {100 * span:.0f}% of the range; "
                f"after denoising, if they still span less than {100 * LOW_CONTRAST_RANGE:.0f}%, " + how
            )
        else:
            reasons.append(f"low contrast: the tones span only {100 * span:.0f}% of the range; " + how)
        steps.append({"task": "enhance", "method": "stretch", "params": params})
    else:
        skipped.append(f"no contrast change: tones already span {100 * span:.0f}% of the range")

    if a.get("exposure") in ("under", "over") and not any(st["method"] in ("stretch", "exposure") for st in steps):
        # Clipped shadows or highlights cannot be recovered, and a dark or bright scene is often meant
        # to be: a tone curve is the photographer's call, not a repair.
        skipped.append(
            f"exposure looks {a['exposure']} (mean luminance {float(a.get('mean_luminance', 0)):.2f}, "
            f"{100 * float(a.get('dark_clipped', 0)):.1f}% black, "
            f"{100 * float(a.get('bright_clipped', 0)):.1f}% white): left as shot; "
            "imagewizard enhance --method gamma brightens or darkens on request"
        )

    if scale is not None:  # asked to enlarge: repair first at the size the damage has, then upscale
        from imagewizard.tasks.upscale.score import resolve_scale

        scale = resolve_scale(scale)
        name = next(m for m in UPSCALERS if registry.get("upscale", m).available() and (m != "learned" or scale <= 4))
        steps.append({"task": "upscale", "method": name, "scale": scale})
        reasons.append(
            f"enlarge x{scale} with {name}, the best upscaler installed for this factor, after the repairs "
            "(upscaling first would enlarge the damage too)"
        )
    pipeline = Pipeline.from_dict({"name": "wizard", "steps": steps}) if steps else None
    return Plan(pipeline=pipeline, reasons=reasons, analysis=a, skipped=skipped)


def auto(img: np.ndarray) -> tuple[np.ndarray, Plan, list[dict[str, Any]]]:
    """Analyse, plan and run: returns the result, the plan and one record per step run."""
    decided = plan(img)
    if decided.pipeline is None:
        return np.asarray(img, dtype=np.float32).copy(), decided, []
    out, records = decided.pipeline.run(img)
    return out, decided, records
