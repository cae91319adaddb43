"""Deblur methods. Importing this package registers them (see :mod:`imagewizard.registry`).

Non-blind deconvolution in the Fourier domain (:mod:`.fourier`: pseudo-inverse,
Wiener, unsupervised Wiener) and iterative Richardson-Lucy, non-blind and
blind (:mod:`.richardson_lucy`). All of them handle the image borders as
described in :mod:`.boundary`.
"""

from . import fourier  # noqa: F401
from . import richardson_lucy  # noqa: F401
