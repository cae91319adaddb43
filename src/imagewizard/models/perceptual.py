"""Perceptual loss: VGG19 features when the user has the weights, MS-SSIM + gradients otherwise.

The VGG19 weights cannot be downloaded here, so :class:`VGG19Features` is a
plain-torch copy of torchvision's ``vgg19().features`` (same module indices,
so torchvision's state dict loads key for key) and the weights come from a
file the user names: the ``vgg_weights`` argument, or else the environment
variable ``IMAGEWIZARD_VGG19``. Without a file, :class:`PerceptualLoss` uses
a documented substitute, ``(1 - MS-SSIM) + L1(image gradients)``, and its
:meth:`PerceptualLoss.describe` says so for the model card.

Example
-------
>>> import torch
>>> loss = PerceptualLoss()                      # no weights: MS-SSIM + gradient
>>> loss.describe()["kind"]
'ms-ssim+gradient'
>>> x = torch.rand(1, 3, 32, 32)
>>> float(loss(x, x)) < 1e-6
True
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from imagewizard.core.errors import ParameterError, plain_reason

#: Environment variable naming the VGG19 weights file when none is passed.
ENV_VAR = "IMAGEWIZARD_VGG19"

#: torchvision's "E" configuration: channels per conv, "M" for a max-pool.
_CFG = [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M"]

#: Indices of the ReLU outputs used by default: relu1_2, relu2_2, relu3_4, relu4_4, relu5_4.
#: All five blocks, as in the usual VGG perceptual / style losses (e.g. ESRGAN uses
#: relu5_4 alone, LPIPS-style losses use one layer per block); the mean over blocks keeps
#: both fine texture (shallow) and structure (deep) in the loss.
DEFAULT_LAYERS = (3, 8, 17, 26, 35)

#: Names of every ReLU in ``features`` by torchvision index, for cards and messages.
RELU_NAMES = {
    1: "relu1_1",
    3: "relu1_2",
    6: "relu2_1",
    8: "relu2_2",
    11: "relu3_1",
    13: "relu3_2",
    15: "relu3_3",
    17: "relu3_4",
    20: "relu4_1",
    22: "relu4_2",
    24: "relu4_3",
    26: "relu4_4",
    29: "relu5_1",
    31: "relu5_2",
    33: "relu5_3",
    35: "relu5_4",
}

_MEAN = (0.485, 0.456, 0.406)
_STD = (0.229, 0.224, 0.225)


class VGG19Features(nn.Module):
    """torchvision's ``vgg19().features`` in plain torch, returning chosen activations.

    ``features`` is an ``nn.Sequential`` with torchvision's indices (convs at
    0, 2, 5, 7, 10, 12, 14, 16, 19, 21, 23, 25, 28, 30, 32, 34, a ReLU after
    each, max-pools at 4, 9, 18, 27, 36), so ``features.N.weight`` keys of a
    torchvision state dict load unchanged. Inputs are in [0, 1]; ImageNet
    normalisation is applied inside and 1-channel inputs are repeated to 3.
    Parameters are frozen and the module stays in eval mode.

    Parameters
    ----------
    layers : sequence of int
        Indices into ``features`` whose outputs :meth:`forward` returns
        (default :data:`DEFAULT_LAYERS`); the forward pass stops after the last.

    Example
    -------
    >>> vgg = VGG19Features(layers=(3, 8))
    >>> [f.shape[1] for f in vgg(torch.rand(1, 3, 32, 32))]
    [64, 128]
    """

    def __init__(self, layers: Sequence[int] = DEFAULT_LAYERS):
        super().__init__()
        mods: list[nn.Module] = []
        c_in = 3
        for v in _CFG:
            if v == "M":
                mods.append(nn.MaxPool2d(kernel_size=2, stride=2))
            else:
                mods += [nn.Conv2d(c_in, v, kernel_size=3, padding=1), nn.ReLU(inplace=True)]
                c_in = v
        self.features = nn.Sequential(*mods)
        layers = sorted(set(int(i) for i in layers))
        if not layers or layers[0] < 0 or layers[-1] >= len(self.features):
            raise ParameterError(f"VGG19 layer indices must lie in 0..{len(self.features) - 1}, got {layers}")
        self.layers = tuple(layers)
        # Not persistent: the state dict holds exactly torchvision's features.* keys.
        self.register_buffer("mean", torch.tensor(_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(_STD).view(1, 3, 1, 1), persistent=False)
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> "VGG19Features":
        # A frozen feature extractor: a parent's .train() must not flip it.
        return super().train(False)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        if x.shape[1] == 1:
            x = x.repeat(1, 3, 1, 1)
        x = (x - self.mean) / self.std
        out, want, last = [], set(self.layers), self.layers[-1]
        for i, m in enumerate(self.features):
            x = m(x)
            if i in want:
                # The ReLUs are in place: a conv output kept here would be overwritten by the next one.
                out.append(x if isinstance(m, nn.ReLU) else x.clone())
            if i == last:
                break
        return out


def _read_state_dict(path: Path) -> dict:
    suffix = path.suffix.lower()
    try:
        if suffix == ".safetensors":
            from safetensors.torch import load_file

            return load_file(str(path), device="cpu")
        sd = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - any read failure is a user-file problem
        msg = plain_reason(e)
        if "weights only load failed" in msg.lower():
            msg = "it pickles Python objects, not just tensors (save model.state_dict() instead)"
        raise ParameterError(f"cannot read VGG19 weights {path}: {msg[:200]}") from None
    if isinstance(sd, dict) and "state_dict" in sd and isinstance(sd["state_dict"], dict):
        sd = sd["state_dict"]  # checkpoints wrapped by training frameworks
    if not isinstance(sd, dict) or not all(isinstance(v, torch.Tensor) for v in sd.values()):
        raise ParameterError(f"VGG19 weights {path} are not a state dict (a mapping of names to tensors)")
    return sd


def load_vgg19(path: str | Path, layers: Sequence[int] = DEFAULT_LAYERS) -> VGG19Features:
    """Build :class:`VGG19Features` with weights from a torchvision-layout file.

    Parameters
    ----------
    path : str or Path
        ``.pth``/``.pt``/``.bin`` (read with ``torch.load(weights_only=True)``) or
        ``.safetensors``. A full ``vgg19`` state dict (``classifier.*`` keys are
        ignored), only its ``features.*`` keys, or the same keys without the
        ``features.`` prefix.
    layers : sequence of int
        Passed to :class:`VGG19Features`.

    Returns
    -------
    VGG19Features
        Frozen, in eval mode, on the CPU.

    Raises
    ------
    ParameterError
        Missing file, unreadable file, not a state dict, missing keys or wrong shapes.

    Example
    -------
    >>> vgg = load_vgg19("vgg19-dcbb9e9d.pth")  # doctest: +SKIP
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise ParameterError(f"VGG19 weights file not found: {path}")
    raw = _read_state_dict(path)
    feats = {}
    for k, v in raw.items():
        k = k.removeprefix("module.")
        if k.startswith("features."):
            feats[k] = v
        elif k.split(".", 1)[0].isdigit():
            feats["features." + k] = v
        # anything else (classifier.*, avgpool) is not part of the feature extractor
    model = VGG19Features(layers)
    expected = model.state_dict()
    missing = [k for k in expected if k not in feats]
    if missing:
        raise ParameterError(
            f"VGG19 weights {path.name} lack {len(missing)} feature tensors "
            f"(first: {missing[0]}); expected torchvision's vgg19 layout"
        )
    unexpected = [k for k in feats if k not in expected]
    if unexpected:
        raise ParameterError(
            f"VGG19 weights {path.name} have unexpected feature tensors "
            f"(first: {unexpected[0]}); is this a vgg19 (not vgg16/vgg19_bn) state dict?"
        )
    for k, t in expected.items():
        if tuple(feats[k].shape) != tuple(t.shape):
            raise ParameterError(
                f"VGG19 weights {path.name}: {k} has shape {tuple(feats[k].shape)}, expected {tuple(t.shape)}"
            )
    model.load_state_dict({k: v.float() for k, v in feats.items()}, strict=True)
    return model


# --------------------------------------------------------------------------- MS-SSIM

#: Wang et al. (2003) scale weights; the first ``n`` are renormalised when fewer scales fit.
MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)


def _gauss_window(size: int, sigma: float, channels: int, like: torch.Tensor) -> torch.Tensor:
    g = torch.arange(size, dtype=like.dtype, device=like.device) - (size - 1) / 2
    g = torch.exp(-(g**2) / (2 * sigma**2))
    g = g / g.sum()
    return (g[:, None] * g[None, :]).expand(channels, 1, size, size)


def _ssim_parts(a: torch.Tensor, b: torch.Tensor, win: torch.Tensor, data_range: float):
    """Per-image luminance and contrast-structure maps' means, shape (N,) each.

    'Valid' filtering only, which equals scikit-image's result (it filters with
    reflection, then crops ``(win - 1) // 2`` pixels from each border before averaging).
    """
    c = a.shape[1]
    f = lambda x: F.conv2d(x, win, groups=c)  # noqa: E731
    mu_a, mu_b = f(a), f(b)
    va = f(a * a) - mu_a**2
    vb = f(b * b) - mu_b**2
    cov = f(a * b) - mu_a * mu_b
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    lum = (2 * mu_a * mu_b + c1) / (mu_a**2 + mu_b**2 + c1)
    cs = (2 * cov + c2) / (va + vb + c2)
    return lum.flatten(1).mean(1), cs.flatten(1).mean(1), (lum * cs).flatten(1).mean(1)


def ssim(
    a: torch.Tensor, b: torch.Tensor, *, data_range: float = 1.0, win_size: int = 11, sigma: float = 1.5
) -> torch.Tensor:
    """Single-scale SSIM per image, averaged over channels: tensor of shape (N,).

    Matches ``skimage.metrics.structural_similarity(..., gaussian_weights=True,
    sigma=1.5, use_sample_covariance=False, data_range=1)``.

    Example
    -------
    >>> x = torch.rand(2, 1, 32, 32)
    >>> ssim(x, x).tolist()
    [1.0, 1.0]
    """
    win = _gauss_window(win_size, sigma, a.shape[1], a)
    return _ssim_parts(a, b, win, data_range)[2]


def ms_ssim_plan(height: int, width: int, max_scales: int = 3) -> tuple[int, int, float]:
    """(scales, window, sigma) used by :func:`ms_ssim` for an image of this size.

    Uses the 11x11, sigma 1.5 Gaussian window and as many scales (each halving
    the size, at most ``max_scales``) as keep the coarsest scale at least 11
    pixels: 32x32 gets 2 scales, 64x64 and larger 3. Images smaller than 11
    pixels get one scale with the largest odd window that fits and a sigma
    scaled down in proportion (1.5 * win / 11).
    """
    side = min(height, width)
    if side < 11:
        win = side if side % 2 else side - 1
        if win < 1:
            raise ParameterError(f"image too small for SSIM: {height}x{width}")
        return 1, win, 1.5 * win / 11
    scales = 1
    while scales < max_scales and side // 2**scales >= 11:
        scales += 1
    return scales, 11, 1.5


def ms_ssim(a: torch.Tensor, b: torch.Tensor, *, data_range: float = 1.0, max_scales: int = 3) -> torch.Tensor:
    """Multi-scale SSIM per image (shape (N,)), differentiable; see :func:`ms_ssim_plan` for scales.

    Product over scales of the contrast-structure term raised to the first
    :data:`MS_SSIM_WEIGHTS` (renormalised to sum 1), times the luminance term
    at the coarsest scale; between scales the images are 2x2 average-pooled.
    Terms are clamped to be positive so that fractional powers stay finite.

    Example
    -------
    >>> x = torch.rand(1, 3, 64, 64)
    >>> round(float(ms_ssim(x, x)), 6)
    1.0
    """
    scales, size, sigma = ms_ssim_plan(a.shape[-2], a.shape[-1], max_scales)
    w = torch.tensor(MS_SSIM_WEIGHTS[:scales], dtype=a.dtype, device=a.device)
    w = w / w.sum()
    win = _gauss_window(size, sigma, a.shape[1], a)
    out = torch.ones(a.shape[0], dtype=a.dtype, device=a.device)
    for s in range(scales):
        lum, cs, _ = _ssim_parts(a, b, win, data_range)
        if s == scales - 1:
            out = out * (lum * cs).clamp_min(1e-6) ** w[s]
        else:
            out = out * cs.clamp_min(1e-6) ** w[s]
            a, b = F.avg_pool2d(a, 2), F.avg_pool2d(b, 2)
    return out


def gradient_l1(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference of horizontal and vertical finite differences (a scalar)."""
    dxa, dxb = a[..., :, 1:] - a[..., :, :-1], b[..., :, 1:] - b[..., :, :-1]
    dya, dyb = a[..., 1:, :] - a[..., :-1, :], b[..., 1:, :] - b[..., :-1, :]
    return 0.5 * ((dxa - dxb).abs().mean() + (dya - dyb).abs().mean())


# --------------------------------------------------------------------------- the loss


class PerceptualLoss(nn.Module):
    """Perceptual loss between a prediction and a target, both in [0, 1], shape (N, C, H, W).

    With VGG19 weights (``vgg_weights`` or, when that is None, the file named by
    the environment variable ``IMAGEWIZARD_VGG19``): the mean over
    :data:`DEFAULT_LAYERS` of the MSE between VGG19 activations. Without: the
    substitute ``(1 - MS-SSIM) + L1 of image gradients`` (:func:`ms_ssim`,
    :func:`gradient_l1`); both terms are 0 for identical images and both are on
    a [0, 1]-ish scale, so they are summed unweighted. :meth:`describe` tells which.

    Parameters
    ----------
    vgg_weights : str, Path or None
        torchvision-layout VGG19 weights (see :func:`load_vgg19`).
    layers : sequence of int
        VGG19 ``features`` indices used (VGG path only).

    Example
    -------
    >>> loss = PerceptualLoss(None)
    >>> x = torch.rand(2, 3, 32, 32, requires_grad=True)
    >>> loss(x, torch.rand(2, 3, 32, 32)).backward()
    """

    def __init__(self, vgg_weights: str | Path | None = None, layers: Sequence[int] = DEFAULT_LAYERS):
        super().__init__()
        source = "argument"
        if vgg_weights is None and os.environ.get(ENV_VAR):
            vgg_weights, source = os.environ[ENV_VAR], f"${ENV_VAR}"
        self.weights = None if vgg_weights is None else str(Path(vgg_weights).expanduser())
        self.vgg = load_vgg19(self.weights, layers) if self.weights is not None else None
        self._source = source

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if self.vgg is not None:
            fp = self.vgg(pred)
            with torch.no_grad():
                ft = self.vgg(target)
            return sum(F.mse_loss(p, t) for p, t in zip(fp, ft)) / len(fp)
        return (1 - ms_ssim(pred, target)).mean() + gradient_l1(pred, target)

    def describe(self) -> dict:
        """What the loss computes, for the model card."""
        if self.vgg is not None:
            return {
                "kind": "vgg19",
                "weights": self.weights,
                "weights_from": self._source,
                "layers": [RELU_NAMES.get(i, f"features.{i}") for i in self.vgg.layers],
                "formula": "mean over layers of MSE(VGG19(pred), VGG19(target)), ImageNet-normalised [0,1] input",
            }
        return {
            "kind": "ms-ssim+gradient",
            "why": f"no VGG19 weights given (they cannot be downloaded here); pass a torchvision vgg19 "
            f"state dict file or set ${ENV_VAR} to use VGG19 features",
            "formula": "(1 - MS-SSIM) + L1(finite-difference gradients of pred - target)",
            "ms_ssim": "11x11 Gaussian window, sigma 1.5, up to 3 scales (as many as keep >= 11 px), "
            "Wang et al. scale weights renormalised",
        }
