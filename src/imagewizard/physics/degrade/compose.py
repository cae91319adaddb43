"""The composable entry point: :func:`degrade` chains noise, blur, contrast, downscaling, JPEG and a
mask in a fixed, documented order; specs parse from and format to one-line text."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Iterable

import numpy as np

from imagewizard.core.arrays import as_float_image, join_alpha, split_alpha
from imagewizard.core.errors import ParameterError
from imagewizard.physics.kernels import (
    KERNELS,
    describe_kernel,
    format_declared,
    label_declared,
    parse_declared,
    resolve_kernel,
)
from imagewizard.physics.degrade.common import BLUR_MODES, PROTOCOLS, clip_round_8bit, derive_seed
from imagewizard.physics.degrade.masks import MASKS, apply_mask
from imagewizard.physics.degrade.noise import NOISES
from imagewizard.physics.degrade.camera import camera_noise_with
from imagewizard.physics.degrade.compression import _P_CONTRAST, _P_DOWNSCALE, _P_JPEG, downscale, jpeg_compress
from imagewizard.physics.degrade.blurring import blur


# degrade() has keywords named like these functions.
_blur, _downscale = blur, downscale


@dataclass
class Degraded:
    """Result of :func:`degrade`.

    Attributes
    ----------
    image : numpy.ndarray
        The degraded image, float32 (unclipped with ``protocol='float'``).
    mask : numpy.ndarray or None
        bool HxW, True where pixels are missing (on the output's geometry).
    kernel : numpy.ndarray or None
        The exact normalized blur kernel used.
    steps : list of str
        What was done, in order, e.g. ``['blur motion length=15 angle=30', 'noise gaussian sigma=25']``.
    spec : str
        The same as a compact spec (:func:`parse_degrade_spec` grammar); an
        array kernel or mask shows as ``<array HxW>``.
    seed : int
        The seed used (drawn at random and recorded when ``seed=None``).
    protocol : str
        ``'float'`` or ``'uint8'``.
    cameras : list of dict
        For every ``camera`` noise step, the camera drawn (:meth:`Camera.as_dict`: ISO, shot and
        read noise, gains, Bayer pattern, colour matrix).
    """

    image: np.ndarray
    mask: np.ndarray | None = None
    kernel: np.ndarray | None = None
    steps: list[str] = field(default_factory=list)
    spec: str = "none"
    seed: int = 0
    protocol: str = "float"
    cameras: list[dict] = field(default_factory=list)


_SPEC_KEYS = ("noise", "blur", "blur_mode", "contrast", "downscale", "jpeg", "mask")


def _off(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value.strip().lower() in ("", "none", "off"))


def degrade(
    img,
    *,
    noise: str | Iterable[str] = (),
    blur: Any = None,
    blur_mode: str = "reflect",
    mask: Any = None,
    jpeg: int | None = None,
    downscale: int | None = None,
    seed: int | None = 0,
    protocol: str = "float",
    contrast: float | None = None,
) -> Degraded:
    """Degrade ``img`` in the fixed order blur -> contrast -> downscale -> noise -> JPEG -> mask.

    Parameters
    ----------
    img : array_like
        Clean image, HxW, HxWx3 or HxWx4 (alpha is only cropped/downscaled
        along, never degraded); uint8/uint16 are scaled to [0, 1].
    noise : str or list of str
        Noise specs (:data:`NOISES`), applied in the order given, e.g.
        ``['gaussian:25']`` or ``['poisson:30', 'gaussian:2']``.
    blur : array, str or path, optional
        Blur kernel: a spec (``'motion:15,30'``), an array or a kernel file.
    blur_mode : str
        Boundary handling of the blur (see :func:`blur`); ``'wrap'`` gives
        exactly the circular model FFT deconvolution assumes.
    mask : str or bool array, optional
        Missing pixels: a mask spec (:data:`MASKS`: ``'pixels:0.5'``,
        ``'lines:8,5'``, ``'box:0.25'``, ``'text:Hello'``) or an HxW array
        (True = missing) matching the output size. Missing pixels are set to 0.
    jpeg : int, optional
        JPEG quality 1..100.
    contrast : float, optional
        Contrast factor in (0, 1]: every value becomes ``0.5 + contrast * (x - 0.5)``, the
        tonal range shrunk toward mid-grey as by haze, flare or a flat scan (1 changes nothing).
    downscale : int, optional
        Integer factor (2, 3, 4, ...) for MATLAB-style bicubic downscaling
        (:func:`downscale`); ``None`` or 1 leaves the size alone.
    seed : int or None
        Seed of all randomness; every random step draws from its own stream
        ``derive_seed(seed, 'noise', i)`` / ``derive_seed(seed, 'mask')``, so
        e.g. adding JPEG does not move the mask. ``None`` draws a seed and
        records it in the result.
    protocol : {'float', 'uint8'}
        ``'float'``: result unclipped float32 (the published benchmark
        protocol). ``'uint8'``: clipped to [0, 1] and rounded to 8-bit levels
        at the end, like a saved 8-bit file.

    Returns
    -------
    Degraded
        Image, mask, kernel, human-readable steps, spec, seed and protocol.

    Examples
    --------
    >>> res = degrade(np.full((32, 32, 3), 0.5, np.float32), blur="motion:9,30", noise="gaussian:2",
    ...               mask="box:0.25", seed=0, protocol="uint8")
    >>> res.steps[0], res.image.shape, int(res.mask.sum())
    ('blur motion length=9 angle=30', (32, 32, 3), 256)
    """
    if protocol not in PROTOCOLS:
        raise ParameterError(f"protocol must be 'float' or 'uint8', got {protocol!r}")
    plan = _plan(
        noise=noise, blur=blur, blur_mode=blur_mode, mask=mask, jpeg=jpeg, downscale=downscale, contrast=contrast
    )
    if seed is None:
        seed = int(np.random.SeedSequence().generate_state(1, np.uint64)[0] >> np.uint64(1))
    elif isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ParameterError(f"seed must be a non-negative integer, got {seed!r}")
    seed = int(seed)

    x = as_float_image(img, allow_alpha=True)
    x, alpha = split_alpha(x)
    steps: list[str] = []
    kernel = None
    if plan["kernel"] is not None:
        kernel = plan["kernel"]
        x = _blur(x, kernel, mode=blur_mode)
        steps.append(f"blur {plan['blur_label']}" + (f" boundary={blur_mode}" if blur_mode != "reflect" else ""))
    if plan["contrast"] is not None:
        x = (np.float32(0.5) + np.float32(plan["contrast"]) * (x - np.float32(0.5))).astype(np.float32)
        steps.append(f"contrast x{plan['contrast']:g} toward mid-grey")
    if plan["downscale"]:
        f = plan["downscale"]
        x = _downscale(x, f)
        if alpha is not None:
            alpha = np.clip(_downscale(alpha, f), 0.0, 1.0)
        steps.append(f"downscale x{f} bicubic (MATLAB imresize)")
    cameras: list[dict] = []
    for i, (name, bound) in enumerate(plan["noise"]):
        rng = np.random.default_rng(derive_seed(seed, "noise", i))
        label = label_declared(NOISES, name, bound)
        if name == "camera":  # the drawn camera is part of the record, not only its ISO
            x, cam = camera_noise_with(x, **bound, rng=rng)
            cameras.append(cam.as_dict())
            label += f" ({cam.describe()})"
        else:
            x = NOISES[name].func(x, **bound, rng=rng)
        steps.append(f"noise {label}")
    if plan["jpeg"] is not None:
        x = jpeg_compress(x, plan["jpeg"])
        steps.append(f"jpeg quality={plan['jpeg']}")
    out_mask = None
    if plan["mask"] is not None:
        if isinstance(plan["mask"], np.ndarray):
            out_mask = plan["mask"]
            if out_mask.shape != x.shape[:2]:
                raise ParameterError(f"mask shape {out_mask.shape} does not match the degraded image {x.shape[:2]}")
            label = "array"
        else:
            name, bound = plan["mask"]
            out_mask = MASKS[name].func(x.shape[:2], **bound, rng=np.random.default_rng(derive_seed(seed, "mask")))
            label = label_declared(MASKS, name, bound)
        x = apply_mask(x, out_mask)
        steps.append(f"mask {label} ({100 * out_mask.mean():.1f}% missing)")
    if protocol == "uint8":
        x = clip_round_8bit(x)
        steps.append("clip and round to 8 bits")
    image = join_alpha(np.asarray(x, dtype=np.float32), alpha)
    return Degraded(
        image=image,
        mask=out_mask,
        kernel=kernel,
        steps=steps,
        spec=plan["spec"],
        seed=seed,
        protocol=protocol,
        cameras=cameras,
    )


def _plan(*, noise, blur, blur_mode, mask, jpeg, downscale, contrast=None) -> dict[str, Any]:
    """Validate every argument of :func:`degrade` before any work; returns the parsed plan and its spec."""
    if isinstance(noise, str):
        noise = [] if _off(noise) else [noise]
    if noise is None:
        noise = []
    try:
        noise = list(noise)
    except TypeError:
        raise ParameterError(f"noise must be a spec or a list of specs, got {type(noise).__name__}") from None
    parts: list[str] = []
    plan: dict[str, Any] = {
        "kernel": None,
        "noise": [],
        "mask": None,
        "jpeg": None,
        "downscale": None,
        "contrast": None,
    }
    if blur_mode not in BLUR_MODES:
        raise ParameterError(f"blur_mode must be one of {', '.join(BLUR_MODES)}; got {blur_mode!r}")
    if isinstance(blur, bytes):
        blur = blur.decode()
    if blur is not None and not (isinstance(blur, str) and _off(blur)):
        plan["kernel"] = resolve_kernel(blur)
        plan["blur_label"] = describe_kernel(blur)
        if not isinstance(blur, str) and not hasattr(blur, "__fspath__"):
            k = plan["kernel"]
            parts.append(f"blur=<array {k.shape[0]}x{k.shape[1]}>")
        elif plan["blur_label"].startswith("file "):
            parts.append(f"blur={str(blur).strip()}")
        else:
            parts.append("blur=" + format_declared(KERNELS, *parse_declared(KERNELS, blur, kind="kernel")))
        if blur_mode != "reflect":
            parts.append(f"blur_mode={blur_mode}")
    if contrast is not None and not (isinstance(contrast, str) and _off(contrast)):
        c = _P_CONTRAST.parse(contrast, where="contrast.")
        if c <= 0:
            raise ParameterError(f"contrast must be > 0 (0 would make a flat grey image); got {c:g}")
        if c < 1:
            plan["contrast"] = c
            parts.append(f"contrast={c:g}")
    if downscale is not None and not (isinstance(downscale, str) and _off(downscale)):
        f = _P_DOWNSCALE.parse(downscale, where="downscale.")
        if f > 1:
            plan["downscale"] = f
            parts.append(f"downscale={f}")
    for spec in noise:
        name, bound = parse_declared(NOISES, spec, kind="noise")
        plan["noise"].append((name, bound))
        parts.append(format_declared(NOISES, name, bound))
    if jpeg is not None and not (isinstance(jpeg, str) and _off(jpeg)):
        plan["jpeg"] = _P_JPEG.parse(jpeg, where="jpeg.")
        parts.append(f"jpeg={plan['jpeg']}")
    if isinstance(mask, np.ndarray):
        if mask.ndim != 2:
            raise ParameterError(f"mask must be a 2-D (HxW) array, got shape {mask.shape}")
        plan["mask"] = mask.astype(bool)
        parts.append(f"mask=<array {mask.shape[0]}x{mask.shape[1]}>")
    elif mask is not None and not (isinstance(mask, str) and _off(mask)):
        name, bound = parse_declared(MASKS, mask, kind="mask")
        if name == "text":
            if not bound["text"].strip() or not bound["text"].isascii() or not bound["text"].isprintable():
                raise ParameterError(f"mask text must be non-empty printable ASCII, got {bound['text']!r}")
        plan["mask"] = (name, bound)
        parts.append("mask=" + format_declared(MASKS, name, bound))
    plan["spec"] = "+".join(parts) or "none"
    return plan


_KEY_RE = re.compile(r"^\s*([A-Za-z][A-Za-z_-]*)\s*=(.*)$", re.S)


def parse_degrade_spec(text: str) -> dict[str, Any]:
    """Parse a compact degradation spec (grammar in the module docstring) into :func:`degrade` keywords.

    Every part is validated (one-line :class:`ParameterError` naming the part).

    Returns
    -------
    dict
        Keys ``noise`` (list of specs), ``blur``, ``blur_mode``, ``downscale``,
        ``jpeg``, ``mask``, ready for ``degrade(img, **spec, seed=..., protocol=...)``.

    Examples
    --------
    >>> parse_degrade_spec("blur=motion:15,30+gaussian:2")
    {'noise': ['gaussian:2'], 'blur': 'motion:15,30', 'blur_mode': 'reflect', 'downscale': None, 'jpeg': None, 'mask': None, 'contrast': None}
    """
    if not isinstance(text, str) or not text.strip():
        raise ParameterError(f"empty degradation spec {text!r}; e.g. 'gaussian:25' or 'blur=motion:15,30+gaussian:2'")
    out: dict[str, Any] = {
        "noise": [],
        "blur": None,
        "blur_mode": "reflect",
        "downscale": None,
        "jpeg": None,
        "mask": None,
        "contrast": None,
    }
    if text.strip().lower() == "none":
        return out
    seen: set[str] = set()
    for raw in text.split("+"):
        part = raw.strip()
        if not part:
            raise ParameterError(f"degradation spec '{text}': empty part (two '+' in a row or a trailing '+')")
        m = _KEY_RE.match(part)
        key, value = ("noise", part) if m is None else (m.group(1).lower().replace("-", "_"), m.group(2).strip())
        if key not in _SPEC_KEYS:
            raise ParameterError(
                f"degradation spec '{text}': unknown key '{m.group(1)}' "
                f"(known: {', '.join(_SPEC_KEYS)}; a bare part is a noise spec)"
            )
        if not value:
            raise ParameterError(f"degradation spec '{text}': '{key}=' needs a value")
        if key != "noise" and key in seen:
            raise ParameterError(f"degradation spec '{text}': '{key}' given twice")
        seen.add(key)
        try:
            if key == "noise":
                if value.partition(":")[0].strip().lower().replace("_", "-") in MASKS:
                    raise ParameterError(f"'{value}' is not a noise; write masks as mask={value}")
                parse_declared(NOISES, value, kind="noise")
                out["noise"].append(value)
            elif key == "blur":
                resolve_kernel(value)
                out["blur"] = value
            elif key == "blur_mode":
                if value not in BLUR_MODES:
                    raise ParameterError(f"blur_mode must be one of {', '.join(BLUR_MODES)}; got '{value}'")
                out["blur_mode"] = value
            elif key == "contrast":
                _plan(noise=(), blur=None, blur_mode="reflect", mask=None, jpeg=None, downscale=None, contrast=value)
                out["contrast"] = _P_CONTRAST.parse(value, where="contrast.")
            elif key == "downscale":
                out["downscale"] = _P_DOWNSCALE.parse(value, where="downscale.")
            elif key == "jpeg":
                out["jpeg"] = _P_JPEG.parse(value, where="jpeg.")
            else:
                _plan(noise=(), blur=None, blur_mode="reflect", mask=value, jpeg=None, downscale=None)
                out["mask"] = value
        except ParameterError as exc:
            raise ParameterError(f"degradation spec '{text}': {exc}") from None
    return out


def format_degrade_spec(
    *,
    noise: str | Iterable[str] = (),
    blur: Any = None,
    blur_mode: str = "reflect",
    mask: Any = None,
    jpeg: int | None = None,
    downscale: int | None = None,
    contrast: float | None = None,
) -> str:
    """The canonical compact spec of :func:`degrade` arguments (what ``Degraded.spec`` holds).

    Examples
    --------
    >>> format_degrade_spec(noise=["gaussian:sigma=25"], blur="motion:15,30", jpeg=30)
    'blur=motion:15,30+gaussian:25+jpeg=30'
    """
    return _plan(
        noise=noise, blur=blur, blur_mode=blur_mode, mask=mask, jpeg=jpeg, downscale=downscale, contrast=contrast
    )["spec"]
