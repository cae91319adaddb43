"""Camera noise: unprocess sRGB to linear raw, add shot and read noise, process back (Brooks et al. 2019).

Real photos do not hold white Gaussian noise. A sensor counts photons (Poisson shot noise, variance
proportional to the signal) and adds read noise (Gaussian) on the linear *mosaiced* raw signal;
the camera then demosaics (which correlates the noise between neighbours and channels), white-
balances and colour-corrects (which mixes and amplifies it, giving chroma blotches) and tone-maps
(which lifts it in the shadows). :func:`camera_noise` runs that chain on a clean sRGB image:

    inverse tone curve -> inverse gamma -> sRGB->camera colour matrix -> inverse white balance
    -> Bayer mosaic -> Poisson shot + Gaussian read noise -> white balance -> bilinear demosaic
    -> camera->sRGB matrix -> gamma -> tone curve

and adds to the clean image what the noise changed at the end of that chain (the same chain run
without noise is subtracted), so the clean image stays the truth and the demosaicing artefacts of
the simple bilinear demosaic are not mistaken for noise;

following T. Brooks et al., "Unprocessing Images for Learned Raw Denoising", CVPR 2019 (the
colour matrices, gain ranges and the shot/read relation are that paper's), and CBDNet's use of it.
The camera is drawn from the ``rng`` (:func:`draw_camera`), so a seed gives the same camera and
noise every time; :class:`Camera` records what was drawn. JPEG compression is a separate step of
:func:`~imagewizard.physics.degrade.degrade` (``camera:1600+jpeg=80``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from imagewizard.core.arrays import as_float_image
from imagewizard.core.registry import Param
from imagewizard.physics.degrade.common import _bind, _rng


_P_CAMERA = (
    Param(
        "iso",
        float,
        1600.0,
        "sensor sensitivity; the shot noise grows in proportion (100: clean daylight, 6400+: night)",
        low=50.0,
        high=25600.0,
    ),
)

# XYZ -> camera matrices of four cameras (Brooks et al. 2019, from Adobe DNG data); a random convex
# mix of them is one plausible camera.
_XYZ2CAMS = np.array(
    [
        [[1.0234, -0.2969, -0.2266], [-0.5625, 1.6328, -0.0469], [-0.0703, 0.2188, 0.6406]],
        [[0.4913, -0.0541, -0.0202], [-0.613, 1.3513, 0.2906], [-0.1564, 0.2151, 0.7183]],
        [[0.838, -0.263, -0.0639], [-0.2887, 1.0725, 0.2496], [-0.0627, 0.1427, 0.5438]],
        [[0.6596, -0.2079, -0.0562], [-0.4782, 1.3016, 0.1933], [-0.097, 0.1581, 0.5181]],
    ]
)
_RGB2XYZ = np.array(
    [[0.4124564, 0.3575761, 0.1804375], [0.2126729, 0.7151522, 0.0721750], [0.0193339, 0.1191920, 0.9503041]]
)
BAYER_PATTERNS = ("RGGB", "BGGR", "GRBG", "GBRG")
# Shot noise (variance per unit of linear signal) at ISO 12800; Brooks draw it in [1e-4, 0.012],
# i.e. about ISO 100 to 12800 with this proportionality.
_SHOT_AT_12800 = 0.012


@dataclass(frozen=True)
class Camera:
    """One drawn camera: colour matrix, gains, mosaic and noise levels (all in the linear raw domain).

    Attributes
    ----------
    rgb2cam : ndarray
        3x3 linear sRGB -> camera RGB matrix, rows summing to 1 (white stays white).
    rgb_gain, red_gain, blue_gain : float
        Exposure gain and white-balance gains the camera applied (undone by unprocessing).
    bayer : str
        Mosaic pattern, one of :data:`BAYER_PATTERNS`.
    shot, read : float
        Noise variance ``shot * x + read`` of a raw value ``x`` in [0, 1].
    iso : float
        The sensitivity the noise levels were drawn for.
    """

    rgb2cam: np.ndarray
    rgb_gain: float
    red_gain: float
    blue_gain: float
    bayer: str
    shot: float
    read: float
    iso: float

    def describe(self) -> str:
        return (
            f"shot={self.shot:.3g} read={self.read:.3g} bayer={self.bayer} "
            f"gains r={self.red_gain:.3f} b={self.blue_gain:.3f} exposure={self.rgb_gain:.3f}"
        )

    def as_dict(self) -> dict:
        return {
            "iso": self.iso,
            "shot": self.shot,
            "read": self.read,
            "bayer": self.bayer,
            "red_gain": self.red_gain,
            "blue_gain": self.blue_gain,
            "rgb_gain": self.rgb_gain,
            "rgb2cam": np.round(self.rgb2cam, 6).tolist(),
        }


def draw_camera(iso: float = 1600.0, rng=None) -> Camera:
    """Draw a plausible camera for ``iso`` the way Brooks et al. (2019) draw theirs.

    The colour matrix is a random convex mix of four real cameras'; the exposure gain is
    ``1 / N(0.8, 0.1)``, red and blue gains uniform in [1.9, 2.4] and [1.5, 1.9]; the shot noise is
    ``0.012 * iso / 12800`` and the read noise follows the paper's fit
    ``log(read) = 2.18 log(shot) + 1.20 + N(0, 0.26)``.

    Examples
    --------
    >>> cam = draw_camera(1600, rng=0)
    >>> round(cam.shot, 5), cam.bayer in BAYER_PATTERNS
    (0.0015, True)
    >>> np.allclose(cam.rgb2cam.sum(axis=1), 1)
    True
    """
    (iso,) = _bind(_P_CAMERA, "camera", iso=iso)
    g = _rng(rng)
    w = g.uniform(1e-8, 1e8, size=4)
    xyz2cam = np.tensordot(w / w.sum(), _XYZ2CAMS, axes=1)
    rgb2cam = xyz2cam @ _RGB2XYZ
    rgb2cam = rgb2cam / rgb2cam.sum(axis=1, keepdims=True)
    rgb_gain = float(1.0 / np.clip(g.normal(0.8, 0.1), 0.5, 1.1))
    red_gain = float(g.uniform(1.9, 2.4))
    blue_gain = float(g.uniform(1.5, 1.9))
    bayer = BAYER_PATTERNS[int(g.integers(len(BAYER_PATTERNS)))]
    shot = _SHOT_AT_12800 * iso / 12800.0
    read = float(np.exp(2.18 * np.log(shot) + 1.20 + g.normal(0.0, 0.26)))
    return Camera(rgb2cam, rgb_gain, red_gain, blue_gain, bayer, float(shot), read, float(iso))


def _bayer_masks(shape: tuple[int, int], bayer: str) -> np.ndarray:
    """Boolean (3, H, W) masks of where the mosaic samples R, G and B."""
    h, w = shape
    masks = np.zeros((3, h, w), bool)
    for k, ch in enumerate(bayer):
        dy, dx = divmod(k, 2)
        masks["RGB".index(ch), dy::2, dx::2] = True
    return masks


def _gains(cam: Camera) -> np.ndarray:
    return np.array([cam.red_gain, 1.0, cam.blue_gain]) * cam.rgb_gain


def unprocess(img, cam: Camera) -> np.ndarray:
    """sRGB in [0, 1] (HxWx3) -> the linear Bayer raw (HxW) a camera would have recorded.

    Inverse tone curve (smoothstep) and gamma (2.2), the inverse colour matrix, then the white
    balance and exposure gains undone; near white the inverse gains fade to 1 (Brooks' "safe"
    inversion) so that highlights are not pushed into clipping.
    """
    x = np.clip(np.asarray(img, np.float64), 0.0, 1.0)
    x = 0.5 - np.sin(np.arcsin(1.0 - 2.0 * x) / 3.0)
    x = np.maximum(x, 1e-8) ** 2.2
    x = x @ cam.rgb2cam.T
    inv = 1.0 / _gains(cam)
    grey = x.mean(axis=-1, keepdims=True)
    near_white = (np.maximum(grey - 0.9, 0.0) / 0.1) ** 2
    x = np.clip(x * np.maximum(near_white + (1.0 - near_white) * inv, inv), 0.0, 1.0)
    masks = _bayer_masks(x.shape[:2], cam.bayer)
    return np.sum(np.moveaxis(x, -1, 0) * masks, axis=0)


_K_G = np.array([[0, 1, 0], [1, 4, 1], [0, 1, 0]]) / 4.0
_K_RB = np.array([[1, 2, 1], [2, 4, 2], [1, 2, 1]]) / 4.0


def demosaic_bilinear(raw: np.ndarray, bayer: str) -> np.ndarray:
    """Bilinear demosaicing of an HxW Bayer mosaic (float, any range) to HxWx3.

    Exact at the sampled positions; ``mode='mirror'`` keeps the Bayer phase at the borders.
    """
    masks = _bayer_masks(raw.shape, bayer)
    out = np.empty(raw.shape + (3,), np.float64)
    for c in range(3):
        out[..., c] = ndimage.convolve(raw * masks[c], _K_G if c == 1 else _K_RB, mode="mirror")
    return out


def process(raw: np.ndarray, cam: Camera) -> np.ndarray:
    """Linear Bayer raw (HxW) -> sRGB HxWx3 in [0, 1]: gains, clip, demosaic, colour matrix, gamma, tone."""
    masks = _bayer_masks(raw.shape, cam.bayer)
    gain_map = np.tensordot(_gains(cam), masks.astype(np.float64), axes=1)
    x = np.clip(raw * gain_map, 0.0, 1.0)  # the sensor and ADC saturate
    x = demosaic_bilinear(x, cam.bayer)
    x = np.clip(x @ np.linalg.inv(cam.rgb2cam).T, 1e-8, 1.0)
    x = x ** (1.0 / 2.2)
    x = 3.0 * x**2 - 2.0 * x**3
    return np.clip(x, 0.0, 1.0)


def add_raw_noise(raw: np.ndarray, cam: Camera, rng=None) -> np.ndarray:
    """Poisson-Gaussian sensor noise: ``shot * Poisson(raw / shot) + N(0, read)`` (mean ``raw``)."""
    g = _rng(rng)
    photons = g.poisson(np.clip(raw, 0.0, None) / cam.shot)
    return photons * cam.shot + g.normal(0.0, np.sqrt(cam.read), raw.shape)


def camera_noise_with(img, iso: float = 1600.0, rng=None) -> tuple[np.ndarray, Camera]:
    """:func:`camera_noise` that also returns the drawn :class:`Camera` (what ``degrade`` records)."""
    (iso,) = _bind(_P_CAMERA, "camera", iso=iso)
    g = _rng(rng)
    cam = draw_camera(iso, g)
    x = as_float_image(img)
    grey = x.ndim == 2
    rgb = np.repeat(x[..., None], 3, axis=2) if grey else x
    raw = unprocess(rgb, cam)
    # Only the noise is taken from the camera: a camera's clean picture has its own demosaicing
    # artefacts (the ground truth of real-noise sets such as SIDD is made by the same pipeline), so
    # the noisy image is the clean one plus what the noise changed after processing. Bilinear
    # demosaicing of a noise-free mosaic would otherwise add 10-15 grey levels RMS of zipper and
    # colour fringes on textured photos, an error no denoiser should be asked to remove.
    out = np.clip(rgb + (process(add_raw_noise(raw, cam, g), cam) - process(raw, cam)), 0.0, 1.0)
    if grey:
        out = out.mean(axis=2)
    return out.astype(np.float32), cam


def camera_noise(img, iso: float = 1600.0, rng=None) -> np.ndarray:
    """Camera noise as a phone or camera makes it: shot and read noise on the raw, then processed.

    Parameters
    ----------
    img : array_like
        Clean sRGB image, HxWx3 (or HxW: treated as a grey colour image, returned grey).
    iso : float
        Sensitivity, 50..25600; the shot noise variance is proportional to it.
    rng : None, int or numpy.random.Generator
        Draws the camera (:func:`draw_camera`) and the noise.

    Returns
    -------
    numpy.ndarray
        float32 in [0, 1] (the camera's pipeline clips), same shape. The noise is signal-dependent,
        spatially correlated by the demosaicing and carries chroma; it is strongest in the shadows.

    Examples
    --------
    >>> clean = np.full((64, 64, 3), 0.4, np.float32)
    >>> low, high = camera_noise(clean, 200, rng=0), camera_noise(clean, 6400, rng=0)
    >>> bool(high.std() > 3 * low.std())
    True
    """
    return camera_noise_with(img, iso, rng)[0]
