"""Enhance methods. Importing this package registers them (see :mod:`imagewizard.registry`).

Histogram methods (:mod:`.histogram`: equalization, CLAHE, contrast
stretching, histogram matching), tone curves (:mod:`.curves`: gamma, log,
sigmoid), sharpening (:mod:`.sharpen`: unsharp mask) and colour balance
(:mod:`.color`: gray world). Colour images keep their hues wherever the
luminance is what changes (:mod:`.luminance`).
"""

from . import color, curves, histogram, sharpen, auto  # noqa: F401,E401
