"""Inpaint methods. Importing this package registers them (see :mod:`imagewizard.registry`).

OpenCV's Telea, Navier-Stokes and frequency-selective reconstruction
(:mod:`.opencv`), and interpolation: biharmonic and k-nearest-neighbour
regression (:mod:`.interpolate`). All take a mask that is True where pixels
are missing and return the known pixels unchanged.
"""

from . import interpolate, opencv  # noqa: F401
