"""Denoise methods. Importing this package registers them (see :mod:`imagewizard.registry`).

Classical methods, one module per family: local filters (:mod:`.filters`),
non-local means (:mod:`.nlm`), total variation (:mod:`.tv`), wavelet
shrinkage (:mod:`.wavelet`), Perona-Malik diffusion (:mod:`.diffusion`),
MAP with a Markov random field prior (:mod:`.mrf`) and BM3D
(:mod:`.blockmatch`, optional extra), and JPEG deblocking (:mod:`.deblock`). Noise-aware methods take their
automatic parameters from :func:`.rules.rule`.
"""

# Import order is listing order (imagewizard methods).
from . import filters, nlm, tv, wavelet, diffusion, mrf, blockmatch, deblock, vst  # noqa: F401,E401  (registers the methods)
