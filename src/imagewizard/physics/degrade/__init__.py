"""Controlled, seeded image degradation: noise, blur, downscaling, JPEG, missing pixels.

Everything here produces test inputs for restoration: the same seed gives
the same result on every run and platform (NumPy ``Generator`` streams,
seeds derived with :func:`derive_seed`).

Images are float32 HxW or HxWx3 nominally in [0, 1]; uint8/uint16 input is
scaled first. Noise levels are on the 0..255 scale.

The composable entry point is :func:`degrade`; it applies the steps in a
fixed physical order, whatever order the arguments are written in::

    blur -> contrast -> downscale -> noise (in the order given) -> JPEG -> mask

(the optics blur the scene and haze or flare flatten its tones, the sensor
samples it and adds noise, the file is compressed, then the damage). ``protocol='float'`` returns the result
unclipped in float32 (the published denoising protocol: noise added in float
to the clean 8-bit image, no clipping); ``protocol='uint8'`` clips to [0, 1]
and rounds to 8-bit levels, what a saved file holds.

Compact degradation specs
-------------------------
:func:`parse_degrade_spec` reads one string, for benchmarks and configs::

    spec  := 'none' | part ('+' part)*
    part  := NOISE                  noise spec, applied in the order written
           | 'noise=' NOISE         the same, explicit
           | 'blur=' KERNEL         kernel spec (kernels.KERNELS) or kernel file (no '+' in its path)
           | 'blur_mode=' MODE      boundary of the blur: reflect|mirror|nearest|wrap|constant
           | 'contrast=' FACTOR     0 < FACTOR <= 1: tones pulled toward mid-grey (haze, flat scan)
           | 'downscale=' FACTOR    integer >= 1 (MATLAB-style bicubic; 1 keeps the size)
           | 'jpeg=' QUALITY        1..100
           | 'mask=' MASK           mask spec (MASKS)

Examples: ``'gaussian:25'``, ``'blur=motion:15,30+gaussian:2'``,
``'mask=text'``, ``'jpeg=30'``, ``'contrast=0.5'``, ``'downscale=4+gaussian:5'``. Spaces around
parts are ignored; every key but ``noise`` may appear once. Noise specs:
``gaussian:25``, ``gaussian:sigma=25,mean=0``, ``salt-pepper:0.1,0.5``,
``speckle:0.2``, ``poisson:30``, ``camera:1600`` (ISO; see ``camera``). Masks: ``pixels:0.5``, ``lines:8,5``,
``box:0.25``, ``text`` or ``text:Hello`` (no commas or '+' in the text).

Colour
------
Gaussian, speckle and Poisson noise are independent per pixel *and*
channel (sensor noise). Camera noise is not: it is added to the raw mosaic of an unprocessed image
and processed back (demosaic, colour matrix, tone curve), so it is correlated, chroma-heavy and
signal-dependent, as in real photos; its output is clipped to [0, 1]. Salt-and-pepper hits whole pixels: a hit pixel
becomes white (1) or black (0) in all channels (dead/hot pixels,
transmission errors), so ``amount`` is the fraction of pixels. Masks are
HxW and remove all channels.

Examples
--------
>>> import numpy as np
>>> clean = np.full((64, 64), 0.5, np.float32)
>>> res = degrade(clean, noise=["gaussian:25"], seed=1)
>>> res.steps
['noise gaussian sigma=25']
>>> round(float(res.image.std() * 255), 0)
25.0

The package: ``common``, ``noise``, ``camera``, ``blurring``, ``masks``, ``compression`` and ``compose``
(:func:`degrade`).
"""

from __future__ import annotations

from imagewizard.physics.degrade.common import BLUR_MODES, PROTOCOLS, derive_seed, clip_round_8bit
from imagewizard.physics.degrade.noise import NOISES, gaussian_noise, salt_pepper_noise, speckle_noise, poisson_noise
from imagewizard.physics.degrade.camera import Camera, camera_noise, draw_camera, unprocess, process
from imagewizard.physics.degrade.blurring import blur
from imagewizard.physics.degrade.masks import MASKS, random_pixel_mask, scribble_mask, box_mask, text_mask, apply_mask
from imagewizard.physics.degrade.compression import jpeg_compress, downscale
from imagewizard.physics.degrade.compose import Degraded, degrade, parse_degrade_spec, format_degrade_spec

__all__ = [
    "NOISES",
    "MASKS",
    "BLUR_MODES",
    "PROTOCOLS",
    "Degraded",
    "degrade",
    "parse_degrade_spec",
    "format_degrade_spec",
    "derive_seed",
    "gaussian_noise",
    "salt_pepper_noise",
    "speckle_noise",
    "poisson_noise",
    "camera_noise",
    "draw_camera",
    "Camera",
    "unprocess",
    "process",
    "blur",
    "random_pixel_mask",
    "scribble_mask",
    "box_mask",
    "text_mask",
    "apply_mask",
    "jpeg_compress",
    "downscale",
    "clip_round_8bit",
]
