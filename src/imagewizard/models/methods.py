"""Registers the learned denoisers. Torch and the weights load on first use, not at import."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from imagewizard.core.registry import Param, register
from imagewizard.models import onnx_backend, zoo

_COMMON = (
    Param(
        "tile",
        int,
        0,
        "core tile side in pixels (bounded memory for large images); 0 = chosen from free memory",
        low=0,
        high=16384,
    ),
    Param(
        "weights", str, "", "zoo name or .safetensors file; default: the gray or colour model by the image's channels"
    ),
    Param("threads", int, 0, "CPU threads for inference; 0 = all available", low=0, high=256),
    Param("device", str, None, "where the network runs: auto (CUDA when torch sees a GPU, else CPU), cpu, cuda[:N]"),
    Param("backend", str, None, onnx_backend.BACKEND_HELP, choices=onnx_backend.BACKENDS),
)


def _learned_denoiser(
    name: str,
    summary: str,
    *,
    gray: str,
    color: str,
    note: str = "",
    blind: bool = False,
    params: tuple[Param, ...] = (),
    wrap=None,
    tags: tuple[str, ...] = (),
) -> None:
    """Declare a learned denoiser whose weights are ``gray``/``color`` in the zoo.

    ``blind``: the network has no noise-level input (DnCNN-B style), so the method takes no sigma.
    ``params`` and ``wrap(model, **values)``: extra parameters and the module that applies them, e.g. the
    VAE's posterior sampling or the diffusion model's reverse process around the stored network.
    """
    extra_names = tuple(p.name for p in params)

    def run(
        img: np.ndarray,
        *,
        sigma: float = 0.0,
        tile: int = 0,
        weights: str = "",
        threads: int = 0,
        device: str | None = None,
        backend: str | None = None,
        **extra,
    ) -> np.ndarray:
        from imagewizard.models.infer import default_threads, on_device, predict, resolve_device

        unknown = set(extra) - set(extra_names)
        if unknown:
            raise TypeError(f"{name}() got unexpected keyword argument(s) {', '.join(sorted(unknown))}")
        prepare = (lambda m: wrap(m, **extra)) if wrap else (lambda m: m)
        if not weights:
            weights = gray if img.ndim == 2 or (zoo.find(color) is None and zoo.find(gray) is not None) else color
            if weights == gray and zoo.find(gray) is None and zoo.find(color) is not None:
                weights = color  # colour-only models take a gray image as three equal planes
        threads = threads or default_threads()
        on_ort = getattr(wrap, "onnx", False)  # a wrapper that applies to an ONNX Runtime session as well
        model = _onnx_model(name, weights, device, backend, threads, identity=on_ort or _unwrapped(prepare))
        if model is not None and on_ort:
            model = prepare(model)
        if model is None:
            dev = resolve_device(device)  # an unusable device is refused before the weights load
            model, card = zoo.load(weights)
            _check_card_method(card, name, weights)
            model = prepare(on_device(model, dev))  # the zoo's network moved once per device, then wrapped
        want = 3 if img.ndim == 3 else 1
        got = getattr(model, "in_channels", want)
        if want == 3 and got == 1:  # gray weights on a colour image: one pass per opponent channel
            return _gray_model_on_color(model, img, sigma, tile=tile, threads=threads, device=device)
        if want == 1 and got == 3:
            rgb = np.repeat(img[..., None], 3, axis=2)
            return predict(model, rgb, sigma, tile=tile, threads=threads, device=device).mean(2)
        if got != want:
            from imagewizard.core.errors import ParameterError

            raise ParameterError(f"weights '{weights}' expect {got}-channel images, got {want}")
        return predict(model, img, sigma, tile=tile, threads=threads, device=device)

    run.__name__ = name.replace("-", "_")
    run.__doc__ = (
        f"{summary}\n\nColour images use the colour weights (joint RGB), or gray weights on each "
        "opponent colour channel (when only those are installed, or when given as ``weights``); "
        "gray images the gray weights."
    )
    register(
        "denoise",
        name,
        summary,
        params=(*params, *_COMMON),
        sigma="none" if blind else "auto",
        color="native",
        requires=("torch",),
        check=lambda: None if zoo.find(gray) or zoo.find(color) else zoo.missing_reason(gray, color),
        note=note,
        tags=("learned", *tags),
    )(run)


def _unwrapped(prepare) -> bool:
    """True when these settings leave the network as it is (the wrappers return it unchanged then)."""
    marker = object()
    try:
        return prepare(marker) is marker
    except Exception:  # a wrapper that needs a real network: it wraps
        return False


def _onnx_model(name: str, weights: str, device, backend: str | None, threads: int, *, identity: bool):
    """The network on ONNX Runtime when ``backend`` and the machine allow it, else None (PyTorch runs it).

    ``auto`` takes ONNX Runtime on the CPU when it is installed, the architecture exports and no wrapper
    changes the network (``identity``: e.g. ``ensemble=1``); ``onnx`` insists and says why it cannot.
    """
    from imagewizard.core.errors import ParameterError

    backend = (backend or "auto").strip().lower()
    if backend == "torch":
        return None
    strict = backend == "onnx"

    def refuse(reason: str):
        if strict:
            raise ParameterError(f"backend=onnx: {reason}; use backend=torch or auto")
        return None

    text = "auto" if device is None else str(device).strip().lower()
    if text not in ("", "auto", "cpu"):
        return refuse(f"ONNX Runtime runs here on the CPU only, not device={device}")
    if text != "cpu" and not onnx_backend.torch_cpu_only():
        import torch  # a CUDA build: auto means the GPU when one is visible

        if torch.cuda.is_available():
            return refuse("device=auto found a CUDA GPU (PyTorch runs there); pass device=cpu")
    if not identity:
        return refuse(f"these {name} settings wrap the network (PyTorch only)")
    if not onnx_backend.available():
        return refuse("onnxruntime and onnx are not installed (pip install onnxruntime onnx)")
    path = zoo.find(weights)
    if path is None:
        p = Path(weights)
        path = p if p.suffix == ".safetensors" and p.is_file() else None
    if path is None or path.is_dir():
        return refuse(f"no weights file '{weights}'") if path is not None else None  # torch path says what is missing
    if not onnx_backend.exportable(path):
        return refuse(f"weights '{weights}' are of an architecture ONNX Runtime does not run here")
    card_path = path.with_suffix(".json")
    card = json.loads(card_path.read_text()) if card_path.is_file() else {"arch": onnx_backend.weights_header(path)[0]}
    _check_card_method(card, name, weights)
    return onnx_backend.load(path, threads)


def _check_card_method(card: dict, name: str, weights: str) -> None:
    """Refuse weights whose card names another registered method (``unet weights=dncnn-gray`` would run DnCNN
    under unet's name and parameters). Cards without a method, or naming no registered one, are accepted."""
    from imagewizard.core import registry
    from imagewizard.core.errors import ParameterError

    owner = card.get("method") or card.get("arch")
    if owner and owner != name and owner in {m.name for m in registry.methods("denoise")}:
        raise ParameterError(f"weights '{weights}' belong to method '{owner}', not '{name}': use --method {owner}")


# Opponent channels mapped onto [0, 1] as (channel * scale + offset): luminance (R+G+B)/sqrt(3) spans
# [0, sqrt(3)]; (R-B)/sqrt(2) spans +-1/sqrt(2); (R-2G+B)/sqrt(6) spans +-2/sqrt(6). The noise std scales too.
_OPP_SCALE = np.array([1 / np.sqrt(3), 1 / np.sqrt(2), np.sqrt(6) / 4])
_OPP_OFFSET = np.array([0.0, 0.5, 0.5])


def _gray_model_on_color(
    model, img: np.ndarray, sigma: float, *, tile: int, threads: int, device: str = "auto"
) -> np.ndarray:
    """Denoise a colour image with a gray model, channel by channel in the orthonormal opponent space.

    The rotation keeps i.i.d. Gaussian noise i.i.d. with the same sigma, so each channel is a gray
    image with known noise; most detail sits in the luminance channel and the smooth chroma channels
    take strong denoising well (as in CBM3D), which beats filtering R, G and B separately.
    """
    from imagewizard.tasks.denoise.opponent import opponent_to_rgb, rgb_to_opponent
    from imagewizard.models.infer import predict

    opp = rgb_to_opponent(img)
    out = np.empty_like(opp)
    for c in range(3):
        chan = (opp[..., c] * _OPP_SCALE[c] + _OPP_OFFSET[c]).astype(np.float32)
        den = predict(model, chan, float(sigma) * _OPP_SCALE[c], tile=tile, threads=threads, device=device)
        out[..., c] = (den - _OPP_OFFSET[c]) / _OPP_SCALE[c]
    return opponent_to_rgb(out)


def _ensemble_wrap(model, *, ensemble: int = 1):
    if ensemble <= 1:
        return model
    from imagewizard.models.ensemble import SelfEnsemble

    return SelfEnsemble(model, ensemble)


_learned_denoiser(
    "unet",
    "Flagship CNN: multi-scale residual U-Net with a noise-level map; sigma 0..75, blind with sigma=auto.",
    gray="unet-gray",
    color="unet-color",
    params=(
        Param(
            "ensemble",
            int,
            1,
            "average over this many flipped/rotated copies (8: +0.1 to +0.3 dB for 8x the time)",
            low=1,
            high=8,
        ),
    ),
    wrap=_ensemble_wrap,
)


def _strength_wrap(model, *, strength: float = 1.0):
    if strength == 1.0:
        return model
    if isinstance(model, onnx_backend.OrtNet):  # the graph takes the map scale as an input
        return model.with_strength(strength)
    from imagewizard.models.archs.unet_blind import WithStrength

    return WithStrength(model, strength)


_strength_wrap.onnx = True  # runs on ONNX Runtime too: applied to the session, not only to a torch module


_learned_denoiser(
    "real",
    "Blind real-photo denoiser: estimates a per-pixel noise map (camera, JPEG, shot noise), then the U-Net.",
    gray="real-gray",
    color="real-color",
    blind=True,
    params=(
        Param(
            "strength",
            float,
            1.0,
            "scales the estimated noise map: 0 = off, 1 = as estimated, above 1 = stronger",
            low=0.0,
            high=4.0,
        ),
    ),
    wrap=_strength_wrap,
    note="trained on camera-model noise (Brooks et al. 2019), JPEG and Poisson noise: see its model card",
)
_learned_denoiser(
    "dncnn",
    "DnCNN: residual CNN with batch norm, blind over sigma 0..55 (no noise level needed).",
    gray="dncnn-gray",
    color="dncnn-color",
    blind=True,
    note="a small DnCNN (12 layers, 48 features) on a short CPU budget: see its model card",
)


def _vae_wrap(model, *, samples: int = 0, seed: int = 0):
    from imagewizard.models.generative import PosteriorMean

    return PosteriorMean(model, samples=samples, seed=seed) if samples else model


def _diffusion_wrap(model, *, steps: int = 1, eta: float = 0.0, seed: int = 0):
    from imagewizard.models.diffusion import DiffusionRestorer

    return DiffusionRestorer(model, steps=steps, eta=eta, seed=seed)


_SEED = Param("seed", int, 0, "seed of the random draws (results are reproducible)", low=0, high=2**31 - 1)
_learned_denoiser(
    "vae",
    "Variational autoencoder: degraded image -> Gaussian latent -> clean image (latent mean, or N samples).",
    gray="vae-gray",
    color="vae-color",
    tags=("generative",),
    params=(
        Param("samples", int, 0, "0: decode the latent mean; N: mean of N decoded posterior samples", low=0, high=64),
        _SEED,
    ),
    wrap=_vae_wrap,
)
_learned_denoiser(
    "gan",
    "Conditional GAN (pix2pix): U-Net generator trained with a PatchGAN critic plus L1.",
    gray="gan-gray",
    color="gan-color",
    tags=("generative",),
)
_learned_denoiser(
    "diffusion",
    "Diffusion model (DDPM-trained, DDIM-sampled) started at the step matching sigma; steps=1 is one-shot.",
    gray="diffusion-gray",
    color="diffusion-color",
    tags=("generative",),
    params=(
        Param(
            "steps",
            int,
            1,
            "reverse steps from the noise level down to 0: 1 = one-shot estimate, "
            "more = sharper posterior sample (slower, lower PSNR)",
            low=1,
            high=1000,
        ),
        Param("eta", float, 0.0, "DDIM stochasticity: 0 deterministic, 1 ancestral (DDPM-like)", low=0.0, high=1.0),
        _SEED,
    ),
    wrap=_diffusion_wrap,
)

# The smaller models of the course notes, trained on small budgets (issue 5); blind over their sigma range.
_learned_denoiser(
    "rednet",
    "RED-Net: symmetric conv/deconv encoder-decoder with skips, blind over its training sigma range.",
    gray="rednet-gray",
    color="rednet-color",
    blind=True,
    note="a small budget: see its model card",
)
_learned_denoiser(
    "conv-ae",
    "Small convolutional autoencoder (Conv-Conv-Upsample-Conv), blind; the course notes' baseline.",
    gray="conv-ae-gray",
    color="conv-ae-color",
    blind=True,
    note="a tiny baseline: see its model card",
)
_learned_denoiser(
    "dae",
    "Fully connected denoising autoencoder 784-256-128-64 for 28x28 digits (overlapping patches), blind.",
    gray="dae-gray",
    color="dae-color",
    blind=True,
    tags=("digits",),
    note="trained on digits (its design): not a natural-image denoiser; see its model card",
)
